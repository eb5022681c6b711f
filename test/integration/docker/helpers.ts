// What the docker adapter's integration tests share: the real engine of the test environment, throw-away
// build contexts, and looks at the daemon's state through the Engine API (never a shell or the docker CLI).
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-fs';
import { connectEngine, engineJson, engineStatus, removeBuildImages, type Engine } from '../../../src/docker';
import { testEnv } from '../../harness/env';

const contexts: string[] = [];
const workflows = new Set<string>();

export const noAbort = (): AbortSignal => new AbortController().signal;

export function engine(): Promise<Engine> {
  return connectEngine(testEnv().dockerHost, {}, { signal: noAbort() });
}

/** A build context holding `files` (paths with '/' for folders); removed by {@link cleanUp}. */
export async function context(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'oa-docker-it-'));
  contexts.push(dir);
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), content);
  }
  return dir;
}

/** Remembers a workflow id whose images {@link cleanUp} removes from the shared daemon. */
export function workflow(id: string): string {
  workflows.add(id);
  return id;
}

/** Removes the contexts and the images of every remembered workflow. */
export async function cleanUp(): Promise<void> {
  const docker = await engine();
  for (const id of workflows)
    await removeBuildImages({ engine: docker, workflowId: id }, { signal: noAbort() });
  workflows.clear();
  await Promise.all(contexts.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
}

/** Whether the daemon knows an image or container by this reference or id. */
export async function exists(
  docker: Engine,
  kind: 'images' | 'containers',
  reference: string,
): Promise<boolean> {
  const { status } = await engineStatus(
    docker,
    { method: 'GET', path: `/${kind}/${reference}/json` },
    noAbort(),
  );
  return status === 200;
}

/**
 * The paths below `dir` inside `image`, read by creating (not starting) a container and fetching its archive,
 * then removing the container.
 */
export async function filesInImage(docker: Engine, image: string, dir: string): Promise<string[]> {
  const created = (await engineJsonWithBody(docker, '/containers/create', {
    Image: image,
    Cmd: ['true'],
  })) as { Id: string };
  try {
    const names: string[] = [];
    const res = await archive(docker, created.Id, dir);
    const extract = tar.extract(os.tmpdir(), {
      map: (header) => {
        names.push(header.name.replace(/\/$/, ''));
        return header;
      },
      ignore: () => true,
    });
    await pipeline(res, extract as unknown as NodeJS.WritableStream);
    return names.sort();
  } finally {
    await engineStatus(
      docker,
      { method: 'DELETE', path: `/containers/${created.Id}`, query: { force: true } },
      noAbort(),
    );
  }
}

function archive(docker: Engine, id: string, dir: string): Promise<NodeJS.ReadableStream> {
  return new Promise((resolve, reject) => {
    docker.modem.dial(
      {
        path: `/containers/${id}/archive?`,
        method: 'GET',
        options: { path: dir },
        isStream: true,
        statusCodes: { 200: true },
      },
      (err, res) => (err ? reject(err) : resolve(res as NodeJS.ReadableStream)),
    );
  });
}

function engineJsonWithBody(docker: Engine, apiPath: string, body: object): Promise<unknown> {
  return new Promise((resolve, reject) => {
    docker.modem.dial(
      {
        path: `${apiPath}?`,
        method: 'POST',
        options: { _query: {}, _body: body },
        statusCodes: { 201: true },
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
  });
}

/** The id of a local image. */
export async function imageId(docker: Engine, reference: string): Promise<string> {
  return (
    (await engineJson(docker, { method: 'GET', path: `/images/${reference}/json` }, noAbort())) as {
      Id: string;
    }
  ).Id;
}
