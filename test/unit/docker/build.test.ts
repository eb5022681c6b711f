import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  buildImage,
  connectEngine,
  DockerBuildError,
  DockerTimeoutError,
  type BuildInput,
  type Engine,
} from '../../../src/docker';
import { sendJson, type FakeHandler, type FakeHttpServer } from '../registry/fake-http-server';
import { recordingLogger } from '../../fakes/logger';
import { apiPath, startFakeEngine, streamLines } from './fake-engine';

const success = [
  { stream: 'Step 1/2 : FROM busybox:latest' },
  { stream: '\n' },
  { stream: ' ---> 86e4f91b3306\n' },
  { stream: 'Step 2/2 : RUN echo built' },
  { stream: '\n' },
  { stream: ' ---> Running in f92ff880887a\n' },
  { stream: 'built\n' },
  { stream: 'Removing intermediate container f92ff880887a\n' },
  { stream: ' ---> 3d57c8ad9be8\n' },
  { aux: { ID: 'sha256:3d57c8ad9be8f0a71b4be7ccac8aa1fe4e4c1164ba4d8af696056732140a3092' } },
  { stream: 'Successfully built 3d57c8ad9be8\n' },
];

const failedRun = [
  { stream: 'Step 1/3 : FROM busybox:latest\n' },
  { stream: ' ---> 86e4f91b3306\n' },
  { stream: 'Step 2/3 : RUN echo one\n' },
  { stream: ' ---> Running in c7c5e17ac9f8\n' },
  { stream: 'Removing intermediate container c7c5e17ac9f8\n' },
  { stream: ' ---> 2820a0983436\n' },
  { stream: 'Step 3/3 : RUN exit 3\n' },
  { stream: ' ---> Running in eb872bce8e4d\n' },
  {
    errorDetail: { code: 3, message: "The command '/bin/sh -c exit 3' returned a non-zero code: 3" },
    error: "The command '/bin/sh -c exit 3' returned a non-zero code: 3",
  },
];

let contextDir: string;
let server: FakeHttpServer | http.Server | undefined;

beforeAll(async () => {
  contextDir = await fs.mkdtemp(path.join(os.tmpdir(), 'oa-build-'));
  await fs.writeFile(path.join(contextDir, 'Dockerfile'), 'FROM busybox:latest\nRUN echo built\n');
});
afterAll(async () => {
  await fs.rm(contextDir, { recursive: true, force: true });
});
afterEach(async () => {
  if (server instanceof http.Server) await new Promise((resolve) => (server as http.Server).close(resolve));
  else await server?.close();
  server = undefined;
});

async function engineAnswering(build: FakeHandler): Promise<{ fake: FakeHttpServer; engine: Engine }> {
  const { server: fake, engine } = await startFakeEngine((req, res) => {
    if (apiPath(req.url.pathname) === '/build') return build(req, res);
    sendJson(res, req.method === 'DELETE' ? 200 : 404, {});
  });
  server = fake;
  return { fake, engine };
}

function input(engine: Engine, extra: Partial<BuildInput> = {}): BuildInput {
  return { engine, contextDir, tags: ['reg/app:abc123', 'reg/app:latest'], ...extra };
}

const ctx = (onLine?: (line: string) => void) => ({
  signal: new AbortController().signal,
  ...(onLine ? { onLine } : {}),
});

describe('buildImage', () => {
  it('builds with the classic builder, both tags and rm/forcerm/nocache, and no labels', async () => {
    const { fake, engine } = await engineAnswering((_req, res) => streamLines(res, success));
    await buildImage(input(engine), ctx());
    const build = fake.requests.find((r) => apiPath(r.url.pathname) === '/build');
    const query = build?.url.searchParams;
    expect(query?.getAll('t')).toEqual(['reg/app:abc123', 'reg/app:latest']);
    // Labels would cost the classic builder one more committed image.
    expect(query?.has('labels')).toBe(false);
    expect([query?.get('rm'), query?.get('forcerm'), query?.get('nocache')]).toEqual([
      'true',
      'true',
      'true',
    ]);
    expect(query?.get('dockerfile')).toBe('Dockerfile');
    expect(query?.has('networkmode')).toBe(false);
    expect(query?.has('buildargs')).toBe(false);
    expect(build?.headers['content-type']).toBe('application/tar');
    expect(build?.headers['x-registry-config']).toBeUndefined();
    expect(build?.body.toString('latin1')).toContain('FROM busybox:latest');
  });

  it('passes the network mode, build arguments and cache choice when given', async () => {
    const { fake, engine } = await engineAnswering((_req, res) => streamLines(res, success));
    await buildImage(
      input(engine, { networkMode: 'none', buildArgs: { COMMIT: 'abc123' }, noCache: false }),
      ctx(),
    );
    const query = fake.requests.find((r) => apiPath(r.url.pathname) === '/build')?.url.searchParams;
    expect(query?.get('networkmode')).toBe('none');
    expect(JSON.parse(query?.get('buildargs') ?? '{}')).toEqual({ COMMIT: 'abc123' });
    expect(query?.get('nocache')).toBe('false');
  });

  it('limits the memory and CPU of the build containers when asked, and not otherwise', async () => {
    const { fake, engine } = await engineAnswering((_req, res) => streamLines(res, success));
    await buildImage(input(engine, { memoryBytes: 512 * 1024 * 1024, cpuQuota: 150_000 }), ctx());
    await buildImage(input(engine), ctx());
    const [limited, free] = fake.requests
      .filter((r) => apiPath(r.url.pathname) === '/build')
      .map((r) => r.url.searchParams);
    expect([limited?.get('memory'), limited?.get('cpuperiod'), limited?.get('cpuquota')]).toEqual([
      String(512 * 1024 * 1024),
      '100000',
      '150000',
    ]);
    expect(['memory', 'cpuperiod', 'cpuquota'].filter((k) => free?.has(k))).toEqual([]);
  });

  it('sends registry credentials for FROM pulls as X-Registry-Config', async () => {
    const { fake, engine } = await engineAnswering((_req, res) => streamLines(res, success));
    const access = { url: 'http://127.0.0.1:5001', credentials: { username: 'u', password: 'p' } };
    await buildImage(input(engine, { access }), ctx());
    const header = fake.requests.find((r) => apiPath(r.url.pathname) === '/build')?.headers[
      'x-registry-config'
    ];
    expect(JSON.parse(Buffer.from(String(header), 'base64').toString())).toEqual({
      '127.0.0.1:5001': { username: 'u', password: 'p', serveraddress: '127.0.0.1:5001' },
    });
  });

  it('returns the aux.ID and streams the output line by line', async () => {
    const { engine } = await engineAnswering((_req, res) => streamLines(res, success));
    const lines: string[] = [];
    const built = await buildImage(
      input(engine),
      ctx((l) => lines.push(l)),
    );
    expect(built).toEqual({
      id: 'sha256:3d57c8ad9be8f0a71b4be7ccac8aa1fe4e4c1164ba4d8af696056732140a3092',
      tags: ['reg/app:abc123', 'reg/app:latest'],
    });
    expect(lines).toEqual([
      'Step 1/2 : FROM busybox:latest',
      ' ---> 86e4f91b3306',
      'Step 2/2 : RUN echo built',
      ' ---> Running in f92ff880887a',
      'built',
      'Removing intermediate container f92ff880887a',
      ' ---> 3d57c8ad9be8',
      'Successfully built 3d57c8ad9be8',
    ]);
  });

  it('tolerates lines that are not JSON and JSON lines split across chunks', async () => {
    const { engine } = await engineAnswering(async (_req, res) => {
      res.writeHead(200);
      res.write('{"stream":"Step 1/1 : FROM bus');
      await new Promise((resolve) => setTimeout(resolve, 20));
      res.write('ybox\\n"}\nnot json at all\n42\n{"status":"Pulling fs layer","id":"aaa"}\n');
      res.write('{"status":"Downloading","id":"aaa","progressDetail":{"current":1,"total":2}}\n');
      res.end('{"stream":"Successfully built 0dc8d91103f7\\n"}');
    });
    const lines: string[] = [];
    const built = await buildImage(
      input(engine),
      ctx((l) => lines.push(l)),
    );
    expect(built.id).toBe('0dc8d91103f7');
    expect(lines).toEqual([
      'Step 1/1 : FROM busybox',
      'not json at all',
      '42',
      'aaa: Pulling fs layer',
      'Successfully built 0dc8d91103f7',
    ]);
  });

  it("fails with the original's message when the build names no image", async () => {
    const { engine } = await engineAnswering((_req, res) =>
      streamLines(res, [{ stream: 'Step 1/1 : FROM scratch\n' }]),
    );
    await expect(buildImage(input(engine), ctx())).rejects.toThrow(
      new DockerBuildError('Docker build failed to produce a valid image!'),
    );
  });

  it('fails a step reported in-band under HTTP 200 with its message and removes what the build left', async () => {
    const { fake, engine } = await engineAnswering((_req, res) => streamLines(res, failedRun));
    const failure = buildImage(input(engine), ctx());
    await expect(failure).rejects.toThrow(DockerBuildError);
    await expect(failure).rejects.toThrow("The command '/bin/sh -c exit 3' returned a non-zero code: 3");
    const deletes = fake.requests
      .filter((r) => r.method === 'DELETE')
      .map((r) => `${apiPath(r.url.pathname)}${r.url.search}`);
    expect(deletes).toEqual(['/containers/eb872bce8e4d?force=true', '/images/2820a0983436']);
  });

  it('waits for a container the daemon is already removing before it removes the build image', async () => {
    const container = 'eb872bce8e4d';
    let looks = 0;
    const { server: fake, engine } = await startFakeEngine((req, res) => {
      const path = apiPath(req.url.pathname);
      if (path === '/build') return streamLines(res, failedRun);
      if (path === `/containers/${container}/json`) return sendJson(res, ++looks < 3 ? 200 : 404, {});
      if (path.startsWith('/containers/'))
        return sendJson(res, 409, { message: `removal of container ${container} is already in progress` });
      // As dockerd does: an image that a container still uses cannot be deleted.
      sendJson(res, looks < 3 ? 409 : 200, {});
    });
    server = fake;
    const log = recordingLogger();
    await expect(buildImage(input(engine), { ...ctx(), log })).rejects.toThrow(DockerBuildError);
    const cleanup = fake.requests
      .map((r) => `${r.method} ${apiPath(r.url.pathname)}`)
      .filter((r) => !/ \/(version|build)$/.test(r));
    expect(cleanup).toEqual([
      `DELETE /containers/${container}`,
      ...Array<string>(3).fill(`GET /containers/${container}/json`),
      'DELETE /images/2820a0983436',
    ]);
    expect(log.lines.at(-1)).toMatchObject({ fields: { path: '/images/2820a0983436', result: 'removed' } });
  });

  it("fails with the daemon's message when it refuses the build with an HTTP error", async () => {
    const { engine } = await engineAnswering((_req, res) =>
      sendJson(res, 400, { message: 'dockerfile parse error line 2: unknown instruction: FOO' }),
    );
    await expect(buildImage(input(engine), ctx())).rejects.toThrow(
      new DockerBuildError('dockerfile parse error line 2: unknown instruction: FOO'),
    );
  });

  it('keeps the build error when removing the leftovers fails too', async () => {
    const { server: fake, engine } = await startFakeEngine((req, res) => {
      if (apiPath(req.url.pathname) === '/build') return streamLines(res, failedRun);
      sendJson(res, 500, { message: 'daemon busy' });
    });
    server = fake;
    await expect(buildImage(input(engine), ctx())).rejects.toThrow(/returned a non-zero code: 3/);
  });

  it('closes the request when aborted, so the daemon cancels the build, and rejects with the reason', async () => {
    const { fake, engine } = await engineAnswering((_req, res) => {
      res.writeHead(200);
      res.write(`${JSON.stringify({ stream: 'Step 1/1 : RUN sleep 30\n' })}\n`);
      res.write(`${JSON.stringify({ stream: ' ---> Running in 235a084ae352\n' })}\n`);
    });
    const controller = new AbortController();
    const reason = new Error('workflow cancelled');
    const lines: string[] = [];
    const failure = buildImage(input(engine), {
      signal: controller.signal,
      onLine: (line) => {
        lines.push(line);
        if (line.includes('Running in')) controller.abort(reason);
      },
    });
    await expect(failure).rejects.toBe(reason);
    await fake.clientGone;
    const deletes = fake.requests.filter((r) => r.method === 'DELETE').map((r) => apiPath(r.url.pathname));
    expect(deletes).toEqual(['/containers/235a084ae352']);
  });

  it('cancels a build that outlives its deadline with DockerTimeoutError', async () => {
    const { fake, engine } = await engineAnswering((_req, res) => {
      res.writeHead(200);
      res.write(`${JSON.stringify({ stream: 'Step 1/1 : RUN sleep 30\n' })}\n`);
    });
    const failure = buildImage(input(engine, { timeoutMs: 100 }), ctx());
    await expect(failure).rejects.toThrow(new DockerTimeoutError('build', 0.1));
    await fake.clientGone;
  });

  it('reports a context file that changes while it is sent as DockerBuildError', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'oa-build-shrink-'));
    const big = path.join(dir, 'big.bin');
    await fs.writeFile(path.join(dir, 'Dockerfile'), 'FROM scratch\n');
    await fs.writeFile(big, Buffer.alloc(8 << 20));
    // A daemon that stops reading the body until the file has shrunk under the sender's feet.
    const raw = http.createServer((req, res) => {
      if (req.url?.startsWith('/version')) return sendJson(res, 200, { ApiVersion: '1.41' });
      req.pause();
      setTimeout(() => void fs.truncate(big, 0).then(() => req.resume()), 200);
      req.on('end', () => streamLines(res, success));
    });
    server = raw;
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    const endpoint = `tcp://127.0.0.1:${(raw.address() as AddressInfo).port}`;
    const engine = await connectEngine(endpoint, {}, ctx());
    try {
      await expect(buildImage({ ...input(engine), contextDir: dir }, ctx())).rejects.toThrow(
        /^the build context could not be sent: /,
      );
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
