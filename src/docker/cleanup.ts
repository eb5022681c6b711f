import { setTimeout as sleep } from 'node:timers/promises';
import { nopLogger, type Logger } from '../log';
import type { CallContext } from '../registry/call-context';
import { engineJson, engineStatus, type Engine } from './engine';
import { DockerEngineError } from './errors';

/** The label every image built here carries, valued with the workflow id, so cleanup finds exactly its own. */
export const WORKFLOW_LABEL = 'org.openaperture.builder.workflow';

/** What a failed or cancelled build left on the host, as its transcript recorded it. */
export interface BuildLeftovers {
  readonly containers: Iterable<string>;
  readonly image: string | undefined;
}

type Removal = 'removed' | 'absent' | 'in use';

async function remove(
  engine: Engine,
  path: string,
  query: Record<string, unknown>,
  signal: AbortSignal,
): Promise<Removal> {
  const { status, message } = await engineStatus(engine, { method: 'DELETE', path, query }, signal);
  if (status >= 200 && status < 300) return 'removed';
  if (status === 404) return 'absent';
  if (status === 409) return 'in use';
  throw new DockerEngineError(status, message);
}

/** How long a cleanup waits for the daemon to finish removing a container it is removing itself. */
const CONTAINER_GONE_WAIT_MS = 10_000;
const CONTAINER_GONE_POLL_MS = 100;

/** Whether container `id` is gone within {@link CONTAINER_GONE_WAIT_MS}. */
async function containerGone(engine: Engine, id: string, signal: AbortSignal): Promise<boolean> {
  const deadline = Date.now() + CONTAINER_GONE_WAIT_MS;
  for (;;) {
    const { status } = await engineStatus(engine, { method: 'GET', path: `/containers/${id}/json` }, signal);
    if (status === 404) return true;
    if (Date.now() >= deadline) return false;
    await sleep(CONTAINER_GONE_POLL_MS);
  }
}

/**
 * Removes a failed or cancelled build's leftovers: first its intermediate containers (forced: a cancelled
 * `RUN` may still be running), then its newest image, which takes the untagged parent images this build made
 * with it. Runs after the caller's signal has fired, so every call gets only the engine's request deadline.
 * Problems are logged, never thrown: the build's own error is the one that matters.
 *
 * A cancelled build's daemon removes the running container itself (`forcerm`), and a removal of ours that
 * meets it answers 409 "removal ... already in progress". The image is only removed once such a container is
 * gone: until then the daemon refuses to delete an image a container still uses, and it would stay behind.
 */
export async function removeLeftovers(engine: Engine, leftovers: BuildLeftovers, log: Logger): Promise<void> {
  const signal = new AbortController().signal;
  const removeQuietly = async (path: string, query: Record<string, unknown>) => {
    try {
      const result = await remove(engine, path, query, signal);
      log.debug('build leftover cleaned up', { path, result });
      return result;
    } catch (err) {
      log.warn('could not remove a build leftover', { path, err });
      return undefined;
    }
  };
  for (const id of leftovers.containers) {
    if ((await removeQuietly(`/containers/${id}`, { force: true })) !== 'in use') continue;
    const gone = await containerGone(engine, id, signal).catch(() => false);
    if (!gone) log.warn('a build container is still being removed by the daemon', { container: id });
  }
  if (leftovers.image) await removeQuietly(`/images/${leftovers.image}`, {});
}

/** Which workflow's images to remove, and where. */
export interface RemoveImagesInput {
  readonly engine: Engine;
  readonly workflowId: string;
}

interface ImageSummary {
  Id: string;
  RepoTags?: string[] | null;
}

/**
 * Removes the images this workflow built on the engine's host, found by {@link WORKFLOW_LABEL}. Each of their
 * tags is removed one by one, so an image is deleted (with the intermediate images under it) only when no tag
 * is left; an image that another workflow has since re-tagged keeps those tags. Images that a container still
 * uses are kept and logged: containers are never removed here, since one made from our image carries our
 * label but belongs to whoever started it. Returns the references removed.
 *
 * Typical use: after a successful push the registry holds the image, so the workflow's cleanup removes the
 * local tags to save space on a shared build host.
 */
export async function removeBuildImages(input: RemoveImagesInput, ctx: CallContext): Promise<string[]> {
  const log = ctx.log ?? nopLogger;
  const filters = { label: [`${WORKFLOW_LABEL}=${input.workflowId}`] };
  const images = (await engineJson(
    input.engine,
    { method: 'GET', path: '/images/json', query: { filters } },
    ctx.signal,
  )) as ImageSummary[] | undefined;
  const removed: string[] = [];
  for (const image of images ?? []) {
    const tags = (image.RepoTags ?? []).filter((t) => t !== '<none>:<none>');
    for (const reference of tags.length > 0 ? tags : [image.Id]) {
      const result = await remove(input.engine, `/images/${reference}`, {}, ctx.signal);
      if (result === 'removed') removed.push(reference);
      if (result === 'in use') log.warn('image kept: a container uses it', { reference });
    }
  }
  return removed;
}
