// What the docker adapter's integration tests share: the real engine of the test environment, throw-away
// build contexts, and looks at the daemon's state through the Engine API (never a shell or the docker CLI).
import { cp, mkdtemp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-fs';
import { connectEngine, engineJson, engineStatus, pushImage, type Engine } from '../../../src/docker';
import { imageName, imageReference, type ImageName, type RegistryAccess } from '../../../src/registry';
import { removeImage, tagImage } from '../../harness/docker';
import { testEnv, uniqueName } from '../../harness/env';

const contexts: string[] = [];
const imageNames = new Set<string>();

export const noAbort = (): AbortSignal => new AbortController().signal;

export function engine(): Promise<Engine> {
  return connectEngine(testEnv().dockerHost, {}, { signal: noAbort() });
}

async function contextDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'oa-docker-it-'));
  contexts.push(dir);
  return dir;
}

/** A build context holding `files` (paths with '/' for folders); removed by {@link cleanUp}. */
export async function context(files: Record<string, string>): Promise<string> {
  const dir = await contextDir();
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), content);
  }
  return dir;
}

/** A build context copied from `source`, file modes included; removed by {@link cleanUp}. */
export async function contextFrom(source: string): Promise<string> {
  const dir = await contextDir();
  await cp(source, dir, { recursive: true });
  return dir;
}

/** Remembers an image name (`[host/]path`, no tag): {@link cleanUp} removes its local tags from the daemon. */
export function ourImage<T extends string | ImageName>(image: T): T {
  imageNames.add(typeof image === 'string' ? image : image.name);
  return image;
}

/**
 * Removes the contexts and the local images of the remembered names, unforced as the builder's cleanup does
 * (an image goes with its last tag, one a container uses stays): every tag of those names, and by id the
 * images only a pushed digest of those names still refers to (a forced rebuild took their tags).
 */
export async function cleanUp(): Promise<void> {
  const docker = await engine();
  const listed = (await engineJson(docker, { method: 'GET', path: '/images/json' }, noAbort())) as {
    Id: string;
    RepoTags?: string[] | null;
    RepoDigests?: string[] | null;
  }[];
  const ours = (reference: string, separator: string) =>
    imageNames.has(reference.slice(0, reference.lastIndexOf(separator)));
  for (const image of listed) {
    const tags = (image.RepoTags ?? []).filter((tag) => ours(tag, ':'));
    const orphan = (image.RepoTags ?? []).length === 0 && (image.RepoDigests ?? []).some((d) => ours(d, '@'));
    for (const reference of orphan ? [image.Id] : tags)
      await engineStatus(docker, { method: 'DELETE', path: `/images/${reference}` }, noAbort());
  }
  imageNames.clear();
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

/** Creates (does not start) a container of `image`; its id. Remove it with {@link removeContainer}. */
export async function createContainer(docker: Engine, image: string): Promise<string> {
  const created = (await engineJsonWithBody(docker, '/containers/create', {
    Image: image,
    Cmd: ['true'],
  })) as { Id: string };
  return created.Id;
}

/** Removes a container, forced. */
export async function removeContainer(docker: Engine, id: string): Promise<void> {
  await engineStatus(
    docker,
    { method: 'DELETE', path: `/containers/${id}`, query: { force: true } },
    noAbort(),
  );
}

/**
 * The paths below `dir` inside `image`, read by creating (not starting) a container and fetching its archive,
 * then removing the container.
 */
export async function filesInImage(docker: Engine, image: string, dir: string): Promise<string[]> {
  const id = await createContainer(docker, image);
  try {
    const names: string[] = [];
    const res = await archive(docker, id, dir);
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
    await removeContainer(docker, id);
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

/** One request that went through an {@link EngineProxy}. */
export interface ProxiedCall {
  readonly method: string;
  /** Path and query as the client sent them, API version prefix included. */
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  /** Whether the client closed the connection before the daemon's answer was complete. */
  closedEarly: boolean;
}

export interface EngineProxy {
  /** A `tcp://` endpoint for `connectEngine`. */
  readonly endpoint: string;
  readonly calls: ProxiedCall[];
  /** The next `count` requests have their connection closed unanswered, as an engine going away does. */
  breakNext(count: number): void;
  close(): Promise<void>;
}

/**
 * A loopback TCP endpoint in front of a daemon's socket (the test daemon's unless `socketPath` names
 * another) that records every request, so tests can see what the adapter sends (versions, headers) and
 * whether it hung up, while the real daemon does the work. A client that hangs up is passed on: the daemon
 * must see it to cancel a build. Upgraded connections (a BuildKit session) are passed through as bytes, and
 * closing the proxy cuts them too, as a dead client would.
 */
export async function engineProxy(socketPath = testEnv().dockerSocket): Promise<EngineProxy> {
  const calls: ProxiedCall[] = [];
  let breaking = 0;
  const server = http.createServer((req, res) => {
    const call: ProxiedCall = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      closedEarly: false,
    };
    calls.push(call);
    if (breaking > 0) {
      breaking--;
      req.socket.destroy();
      return;
    }
    const upstream = http.request(
      { socketPath, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    res.on('close', () => {
      call.closedEarly = !res.writableFinished;
      upstream.destroy();
    });
    req.pipe(upstream);
  });
  const upgraded = new Set<net.Socket>();
  server.on('upgrade', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    calls.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, closedEarly: false });
    const daemon = net.connect(socketPath, () => {
      const headers = Object.entries(req.headers).map(([name, value]) => `${name}: ${String(value)}\r\n`);
      daemon.write(`${req.method} ${req.url} HTTP/1.1\r\n${headers.join('')}\r\n`);
      daemon.write(head);
      daemon.pipe(client);
      client.pipe(daemon);
    });
    for (const socket of [client, daemon]) {
      upgraded.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        upgraded.delete(socket);
        client.destroy();
        daemon.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `tcp://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    breakNext: (count) => (breaking = count),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const socket of upgraded) socket.destroy();
      }),
  };
}

/** The password registry of the test environment with its right credentials. */
export function authRegistryAccess(): RegistryAccess {
  const auth = testEnv().authRegistry;
  return { url: auth.url, credentials: { username: auth.username, password: auth.password } };
}

/**
 * Copies the base image into the password registry under a new name and removes the local tag, so that a
 * `FROM` of the returned reference has to pull it with that registry's credentials.
 */
export async function privateBaseImage(docker: Engine): Promise<string> {
  const env = testEnv();
  const access = authRegistryAccess();
  const base = ourImage(imageName(`${uniqueName('it-private-base')}/busybox`, access.url));
  const reference = imageReference(base, '1');
  await tagImage(docker.modem, env.baseImage, `${env.authRegistry.host}/${base.repository}`, '1');
  await pushImage({ engine: docker, image: base, tags: ['1'], access }, { signal: noAbort() });
  await removeImage(docker.modem, reference);
  return reference;
}

/** The processes of this machine whose command line is exactly `argv`: a RUN step's, seen from the host. */
export async function processesRunning(argv: string[]): Promise<number> {
  const wanted = `${argv.join('\0')}\0`;
  let found = 0;
  for (const pid of (await readdir('/proc')).filter((entry) => /^\d+$/.test(entry))) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline === wanted) found += 1;
  }
  return found;
}
