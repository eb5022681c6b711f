import os from 'node:os';
import path from 'node:path';
import {
  connectEngine,
  DockerApiVersionError,
  DockerEngineError,
  DockerUnreachableError,
  engineJson,
  engineStatus,
  TESTED_API_VERSION,
} from '../../../src/docker';
import { sendJson, startFakeHttpServer, type FakeHttpServer } from '../registry/fake-http-server';
import { apiPath, startFakeEngine } from './fake-engine';

const ctx = () => ({ signal: new AbortController().signal });

let server: FakeHttpServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function daemon(version: object, headers: Record<string, string> = {}): Promise<string> {
  server = await startFakeHttpServer((req, res) => {
    if (req.url.pathname === '/version') sendJson(res, 200, version, headers);
    else sendJson(res, 200, { path: req.url.pathname });
  });
  return `tcp://${server.host}`;
}

describe('connectEngine', () => {
  it('speaks the lower of the daemon maximum and the tested maximum', async () => {
    const newer = await connectEngine(await daemon({ ApiVersion: '1.52', MinAPIVersion: '1.24' }), {}, ctx());
    expect(newer.apiVersion).toBe(TESTED_API_VERSION);
    await server?.close();
    const older = await connectEngine(await daemon({ ApiVersion: '1.39', MinAPIVersion: '1.12' }), {}, ctx());
    expect(older.apiVersion).toBe('1.39');
    expect(older.flavour).toBe('docker');
  });

  it('asks for /version unversioned and prefixes the negotiated version to later calls', async () => {
    const engine = await connectEngine(
      await daemon({ ApiVersion: '1.41', MinAPIVersion: '1.12' }),
      {},
      ctx(),
    );
    await expect(engineJson(engine, { method: 'GET', path: '/images/json' }, ctx().signal)).resolves.toEqual({
      path: '/v1.41/images/json',
    });
    expect(server?.requests[0]?.url.pathname).toBe('/version');
  });

  it('fails fast when the daemon needs a newer API than the builder speaks', async () => {
    const endpoint = await daemon({ ApiVersion: '1.52', MinAPIVersion: '1.44' });
    const failure = connectEngine(endpoint, {}, ctx());
    await expect(failure).rejects.toThrow(DockerApiVersionError);
    await expect(failure).rejects.toThrow('it needs API 1.44 or newer, this builder speaks up to 1.41');
  });

  it('lets the operator raise the maximum for such daemons', async () => {
    const endpoint = await daemon({ ApiVersion: '1.52', MinAPIVersion: '1.44' });
    await expect(connectEngine(endpoint, { maxApiVersion: '1.47' }, ctx())).resolves.toMatchObject({
      apiVersion: '1.47',
    });
  });

  it('fails fast when the daemon is older than the builder supports', async () => {
    const endpoint = await daemon({ ApiVersion: '1.19', MinAPIVersion: '1.12' });
    await expect(connectEngine(endpoint, {}, ctx())).rejects.toThrow(
      'it speaks up to API 1.19, this builder needs 1.24',
    );
  });

  it('fails when /version names no API version', async () => {
    await expect(connectEngine(await daemon({ Version: 'x' }), {}, ctx())).rejects.toThrow(
      /reports no ApiVersion/,
    );
  });

  it('refuses a malformed maximum', async () => {
    const endpoint = await daemon({ ApiVersion: '1.41' });
    await expect(connectEngine(endpoint, { maxApiVersion: 'latest' }, ctx())).rejects.toThrow(RangeError);
  });

  it('recognises podman by its Libpod-Api-Version header or its version component', async () => {
    const byHeader = await daemon(
      { ApiVersion: '1.41', MinAPIVersion: '1.24' },
      { 'Libpod-Api-Version': '4.3.1' },
    );
    expect((await connectEngine(byHeader, {}, ctx())).flavour).toBe('podman');
    await server?.close();
    const byComponent = await daemon({ ApiVersion: '1.41', Components: [{ Name: 'Podman Engine' }] });
    expect((await connectEngine(byComponent, {}, ctx())).flavour).toBe('podman');
  });

  it('reports a closed port as DockerUnreachableError', async () => {
    const endpoint = await daemon({ ApiVersion: '1.41' });
    await server?.close();
    await expect(connectEngine(endpoint, {}, ctx())).rejects.toThrow(
      new DockerUnreachableError(endpoint, 'ECONNREFUSED'),
    );
  });

  it('reports a missing unix socket as DockerUnreachableError', async () => {
    const endpoint = `unix://${path.join(os.tmpdir(), 'no-such-dir', 'docker.sock')}`;
    await expect(connectEngine(endpoint, {}, ctx())).rejects.toThrow(/is unreachable: ENOENT/);
  });

  it('reports an endpoint that never answers after the request deadline', async () => {
    server = await startFakeHttpServer(() => undefined);
    const failure = connectEngine(`tcp://${server.host}`, { requestTimeoutMs: 50 }, ctx());
    await expect(failure).rejects.toThrow(/no answer within 0.05 s/);
  });

  it('ignores DOCKER_HOST of the builder process', async () => {
    const endpoint = await daemon({ ApiVersion: '1.41' });
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = 'tcp://127.0.0.1:1';
    try {
      await expect(connectEngine(endpoint, {}, ctx())).resolves.toMatchObject({ endpoint });
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
    }
  });

  it('reports an answer that is not JSON as DockerEngineError', async () => {
    server = await startFakeHttpServer((_req, res) => {
      res.writeHead(200);
      res.end('<html>hello</html>');
    });
    await expect(connectEngine(`tcp://${server.host}`, {}, ctx())).rejects.toThrow(/not JSON: <html>hello/);
  });
});

describe('engine calls', () => {
  it("report an error status with the daemon's message, naming the engine", async () => {
    const fake = await startFakeEngine((_req, res) => sendJson(res, 500, { message: 'disk full' }));
    server = fake.server;
    await expect(
      engineJson(fake.engine, { method: 'GET', path: '/images/json' }, ctx().signal),
    ).rejects.toThrow(new DockerEngineError(fake.engine.endpoint, 500, 'disk full'));
  });

  it('hand the status and message to callers that judge it, plain-text bodies included', async () => {
    const fake = await startFakeEngine((_req, res) => {
      res.writeHead(409);
      res.end('conflict: in use\n');
    });
    server = fake.server;
    const call = {
      method: 'DELETE' as const,
      path: '/images/x',
      query: { force: false, noprune: undefined },
    };
    await expect(engineStatus(fake.engine, call, ctx().signal)).resolves.toEqual({
      status: 409,
      message: 'conflict: in use',
    });
    const [req] = fake.server.requests.filter((r) => apiPath(r.url.pathname) === '/images/x');
    expect(req?.url.search).toBe('?force=false');
  });
});
