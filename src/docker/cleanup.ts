import { setTimeout as sleep } from 'node:timers/promises';
import { nopLogger, type Logger } from '../log';
import { retry, type OutageWatch } from '../outage/retry';
import type { CallContext } from '../registry/call-context';
import type { BuiltImage } from './build';
import { BUILDER_LABEL } from './builder-label';
import { engineJson, engineStatus, type Engine } from './engine';
import { DockerEngineError } from './errors';

/** What a failed or cancelled build left on the host, as its transcript recorded it. */
export interface BuildLeftovers {
  readonly containers: Iterable<string>;
  readonly image: string | undefined;
}

type Removal = 'removed' | 'absent' | 'in use';

/**
 * Runs a lookup or removal again while the engine is unreachable or answers 5xx, within `outage`: both are
 * safe to repeat, a removal that already happened answering 404 the second time. Without `outage`, once.
 */
function repeated<T>(
  work: () => Promise<T>,
  signal: AbortSignal,
  outage: OutageWatch | undefined,
): Promise<T> {
  return retry(work, {
    dependency: 'docker engine',
    policy: outage ?? { attempts: 1 },
    signal,
    onRetry: outage?.onRetry,
  });
}

function remove(
  engine: Engine,
  path: string,
  query: Record<string, unknown>,
  signal: AbortSignal,
  outage?: OutageWatch,
): Promise<Removal> {
  return repeated(
    async () => {
      const { status, message } = await engineStatus(engine, { method: 'DELETE', path, query }, signal);
      if (status >= 200 && status < 300) return 'removed';
      if (status === 404) return 'absent';
      if (status === 409) return 'in use';
      throw new DockerEngineError(engine.endpoint, status, message);
    },
    signal,
    outage,
  );
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
 * Problems are logged, never thrown: the build's own error is the one that matters. Nothing is retried: a
 * build that failed because its engine went away would otherwise wait for the engine before failing.
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
      log.warn('could not remove a build leftover', { endpoint: engine.endpoint, path, err });
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

/** The image a build produced, and where. */
export interface RemoveImagesInput {
  readonly engine: Engine;
  /** What the build returned: the image's id and the full references it was tagged with. */
  readonly image: BuiltImage;
}

/** Whether `inspected` (a full `sha256:<hex>` id) is the image `built` names, in full or by a short id. */
function sameImage(inspected: string, built: string): boolean {
  const hex = (id: string) => id.replace(/^sha256:/, '');
  return hex(built).length > 0 && hex(inspected).startsWith(hex(built));
}

interface ImageInspect {
  Id: string;
  RepoTags?: string[] | null;
}

/** The id and tags of a local image, or undefined when the daemon has no image by that reference. */
function inspect(
  engine: Engine,
  reference: string,
  signal: AbortSignal,
  outage: OutageWatch | undefined,
): Promise<ImageInspect | undefined> {
  return repeated(
    async () => {
      try {
        const call = { method: 'GET' as const, path: `/images/${reference}/json` };
        return (await engineJson(engine, call, signal)) as ImageInspect;
      } catch (err) {
        if (err instanceof DockerEngineError && err.status === 404) return undefined;
        throw err;
      }
    },
    signal,
    outage,
  );
}

/**
 * Removes the tags a build made (`image.tags`: `<image>:<commit>`; `latest` is only ever a registry tag) from
 * the engine's host, each only while it still names the image this build produced: a tag another workflow has
 * since moved to its own image (a forced rebuild of the same commit) is theirs and stays. Tags are removed one
 * by one, never forced, so the image is deleted (with the intermediate images under it, which the daemon
 * prunes) only with its last tag; a tag someone else put on the same image keeps it. When all our tags have
 * moved on, the image, now untagged, is removed by id. Images that a container still uses are kept and logged
 * (the daemon answers 409): containers are never removed here, since one made from our image belongs to
 * whoever started it. Returns the references removed.
 *
 * Each tag is looked up, then removed: the Engine API has no removal conditional on the image id, so a tag
 * moved within that one round trip would still go. Lookups and removals are repeated within `ctx.outage`
 * while the engine is unreachable or answers 5xx.
 *
 * Typical use: after the push (or its failure) the workflow's cleanup removes the local tags of its build to
 * save space on a shared build host.
 */
export async function removeBuildImages(input: RemoveImagesInput, ctx: CallContext): Promise<string[]> {
  const log = ctx.log ?? nopLogger;
  const { engine, image } = input;
  const removed: string[] = [];
  const removeOne = async (reference: string): Promise<void> => {
    const result = await remove(engine, `/images/${reference}`, {}, ctx.signal, ctx.outage);
    if (result === 'removed') removed.push(reference);
    if (result === 'in use') log.warn('image kept: a container uses it', { reference });
  };
  let ours = 0;
  for (const reference of image.tags) {
    const tagged = await inspect(engine, reference, ctx.signal, ctx.outage);
    if (!tagged) continue;
    if (!sameImage(tagged.Id, image.id)) {
      log.debug('tag kept: it names another image now', { reference });
      continue;
    }
    ours++;
    await removeOne(reference);
  }
  if (ours === 0) {
    const left = await inspect(engine, image.id, ctx.signal, ctx.outage);
    const tags = (left?.RepoTags ?? []).filter((t) => t !== '<none>:<none>');
    if (left && tags.length === 0) await removeOne(image.id);
  }
  return removed;
}

/**
 * How long an untagged image of ours is left alone by a prune: a BuildKit export has one before it tags, which
 * a prune must not take from under another replica's build.
 */
export const LEFTOVER_GRACE_MS = 60_000;

/** What a prune removed on one engine. */
export interface PrunedLeftovers {
  readonly images: number;
  /** As the engine counts it: the size of the layers it deleted. */
  readonly bytes: number;
}

interface PruneReply {
  ImagesDeleted?: { Deleted?: string; Untagged?: string }[] | null;
  SpaceReclaimed?: number;
}

/**
 * Removes the dangling images this builder's BuildKit builds made on `engine` that are older than `graceMs`:
 * what a build left when it was killed with its replica between export and tag, or when another build took
 * its only tag. `POST /images/prune` with the filters `dangling`,
 * `label` ({@link BUILDER_LABEL}) and `until`: the engine removes each untagged image that heads a chain, with
 * the untagged parents under it, and skips any a container uses. Images without the label are never touched.
 * Logs what was removed at info (debug when nothing was), and a failure as a warning naming the engine; never
 * throws, as cleanup must not fail what it follows. Resolves with what was removed, or undefined on failure.
 */
export async function pruneLeftovers(
  engine: Engine,
  graceMs: number,
  ctx: { readonly signal: AbortSignal; readonly log?: Logger },
): Promise<PrunedLeftovers | undefined> {
  const log = ctx.log ?? nopLogger;
  const filters = {
    dangling: ['true'],
    label: [BUILDER_LABEL],
    until: [`${Math.floor(graceMs / 1000)}s`],
  };
  try {
    const call = {
      method: 'POST' as const,
      path: '/images/prune',
      query: { filters: JSON.stringify(filters) },
    };
    const reply = (await engineJson(engine, call, ctx.signal)) as PruneReply;
    const images = (reply.ImagesDeleted ?? []).filter((entry) => entry.Deleted).length;
    const pruned = { images, bytes: reply.SpaceReclaimed ?? 0 };
    const fields = { endpoint: engine.endpoint, ...pruned };
    if (images > 0) log.info('leftover images removed', fields);
    else log.debug('no leftover images to remove', fields);
    return pruned;
  } catch (err) {
    // The engine runs one prune at a time: the one under way (another build's, or the farm's at start) removes
    // the same leftovers, so this one has nothing to add and nothing went wrong.
    if (err instanceof DockerEngineError && err.status === 409)
      log.debug('leftover images: another prune is under way on the engine', { endpoint: engine.endpoint });
    else log.warn('could not remove leftover images', { endpoint: engine.endpoint, err });
    return undefined;
  }
}

/**
 * Removes the images a killed predecessor's classic builds committed on `engine` (`recordImage`), newest
 * first, each only while it is untagged: one a build got as far as tagging may have been tagged since by a
 * build of the same commit, which it would then belong to. Removing the newest image of a chain takes the
 * untagged parents under it, which then answer 404; one a container uses or another image is built on (a
 * cached build's) answers 409 and stays. Never throws: problems are logged, naming the engine. Resolves with
 * how many of `ids` the engine deleted.
 */
export async function removeRecordedImages(
  engine: Engine,
  ids: readonly string[],
  ctx: { readonly signal: AbortSignal; readonly log?: Logger },
): Promise<number> {
  const log = ctx.log ?? nopLogger;
  // What the engine says it deleted: image ids, and the ids of the layers that went with them.
  const deleted: string[] = [];
  for (const id of [...ids].reverse()) {
    try {
      const image = await inspect(engine, id, ctx.signal, undefined);
      if (!image || (image.RepoTags ?? []).some((t) => t !== '<none>:<none>')) continue;
      const call = { method: 'DELETE' as const, path: `/images/${id}` };
      const reply = (await engineJson(engine, call, ctx.signal)) as { Deleted?: string }[];
      deleted.push(...reply.flatMap((entry) => entry.Deleted ?? []));
    } catch (err) {
      if (err instanceof DockerEngineError && (err.status === 404 || err.status === 409)) continue;
      log.warn('could not remove an image a killed build left', {
        endpoint: engine.endpoint,
        image: id,
        err,
      });
    }
  }
  const removed = ids.filter((id) => deleted.some((entry) => sameImage(entry, id))).length;
  if (removed > 0)
    log.info('images a killed build left removed', { endpoint: engine.endpoint, images: removed });
  return removed;
}
