import net from 'node:net';
import { engineJson } from '../../../../src/docker/engine';
import { DockerUnreachableError } from '../../../../src/docker/errors';
import { sendJson, startFakeHttpServer, type FakeHttpServer } from '../../registry/fake-http-server';
import { probed, startTestFarm } from '../../../harness/farm';

/** A fake engine whose health can be switched: down, it answers its probes with 500. */
async function fakeEngine(): Promise<{ server: FakeHttpServer; endpoint: string; up: { value: boolean } }> {
  const up = { value: true };
  const server = await startFakeHttpServer((req, res) => {
    if (!up.value) return sendJson(res, 500, { message: 'daemon is going away' });
    if (req.url.pathname === '/version')
      return sendJson(res, 200, { ApiVersion: '1.41', MinAPIVersion: '1.12' });
    res.writeHead(200);
    res.end('OK');
  });
  servers.push(server);
  return { server, endpoint: `tcp://${server.host}`, up };
}

let servers: Pick<FakeHttpServer, 'close'>[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

/**
 * An engine that stops like dockerd: `stopListening` refuses new connections while those it has stay open and
 * answered. Plain `net`, since an HTTP server also closes its idle connections when it stops listening.
 */
async function stoppingEngine(): Promise<{ endpoint: string; stopListening: () => void }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    let seen = '';
    socket.on('data', (chunk) => {
      seen += chunk.toString('latin1');
      for (let end = seen.indexOf('\r\n\r\n'); end >= 0; end = seen.indexOf('\r\n\r\n')) {
        const head = seen.slice(0, end);
        seen = seen.slice(end + 4);
        const body = head.includes('/version') ? JSON.stringify({ ApiVersion: '1.41' }) : 'OK';
        const close = /^connection: close/im.test(head);
        socket.write(
          `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n` +
            `Connection: ${close ? 'close' : 'keep-alive'}\r\n\r\n${body}`,
        );
        if (close) socket.end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  servers.push({
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  });
  return { endpoint: `tcp://127.0.0.1:${port}`, stopListening: () => server.close() };
}

const request = (workflowId: string) => ({ key: 'org/app', workflowId });
const live = () => ({ signal: new AbortController().signal });

describe('the farm actor', () => {
  it('takes an engine that fails its probe out of rotation and puts it back once it answers', async () => {
    const engine = await fakeEngine();
    const farm = await startTestFarm([engine.endpoint], { probeIntervalMs: 20 });
    await farm.until((s) => s.engines[0]?.healthy === true);

    engine.up.value = false;
    const down = await farm.until((s) => s.engines[0]?.healthy === false);
    expect(down.engines[0]).toMatchObject({
      endpoint: engine.endpoint,
      apiVersion: null,
      lastError: `docker engine ${engine.endpoint} is unreachable: /_ping answered HTTP 500: {"message":"daemon is going away"}`,
    });

    engine.up.value = true;
    const back = await farm.until((s) => s.engines[0]?.healthy === true);
    expect(back.engines[0]).toMatchObject({ apiVersion: '1.41', failures: 0, lastError: null });
    const paths = engine.server.requests.map((r) => r.url.pathname);
    expect(paths[0]).toBe('/version');
    expect(paths).toContain('/_ping');
  });

  it('keeps a build waiting for a free slot, tells it why, and hands it the slot the first one gives back', async () => {
    const engine = await fakeEngine();
    const farm = await startTestFarm([`${engine.endpoint};slots=1`]);
    await farm.until(probed);
    const first = await farm.source.acquire(request('wf-1'), live());
    expect(first).toMatchObject({ reason: 'affinity', waitedMs: 0, engine: { endpoint: engine.endpoint } });

    const said: string[] = [];
    const second = farm.source.acquire(request('wf-2'), { ...live(), onWait: (m) => said.push(m) });
    await farm.until((s) => s.waiting === 1);
    expect(said).toEqual([`0 builds ahead; ${engine.endpoint} 1/1 slots in use`]);
    first.release('ok');

    await expect(second).resolves.toMatchObject({ engine: { endpoint: engine.endpoint } });
    const status = await farm.status();
    expect(status).toMatchObject({ waiting: 0, waitsTotal: 1 });
    expect(status.engines[0]).toMatchObject({ inUse: 1, builds: { ok: 1, failed: 0 } });
    expect(status.leases).toEqual([{ workflowId: 'wf-2', endpoint: engine.endpoint, reason: 'affinity' }]);
  });

  it('forgets a build that gave up waiting, so its slot goes to no one', async () => {
    const engine = await fakeEngine();
    const farm = await startTestFarm([`${engine.endpoint};slots=1`]);
    await farm.until(probed);
    const first = await farm.source.acquire(request('wf-1'), live());
    const giveUp = new AbortController();
    const waiting = farm.source.acquire(request('wf-2'), { signal: giveUp.signal });
    await farm.until((s) => s.waiting === 1);

    giveUp.abort();
    await expect(waiting).rejects.toThrow(/aborted/);
    first.release('failed');

    const status = await farm.until((s) => s.waiting === 0 && s.engines[0]?.inUse === 0);
    expect(status.leases).toEqual([]);
    expect(status.engines[0]?.builds).toEqual({ ok: 0, failed: 1, unreachable: 0, stopped: 0 });
  });

  it('takes an engine a build could not reach out of rotation at once, before its next probe', async () => {
    const engine = await fakeEngine();
    const farm = await startTestFarm([engine.endpoint]);
    await farm.until(probed);
    const lease = await farm.source.acquire(request('wf-1'), live());

    lease.release('unreachable', `docker engine ${engine.endpoint} is unreachable: ECONNREFUSED`);

    const status = await farm.until((s) => s.engines[0]?.healthy === false);
    expect(status.engines[0]).toMatchObject({
      inUse: 0,
      failures: 1,
      lastError: `docker engine ${engine.endpoint} is unreachable: ECONNREFUSED`,
      builds: { unreachable: 1 },
    });
  });

  it('judges a failed build by a probe on a new connection: an engine that takes none is down, though it still answers on the ones it kept', async () => {
    const engine = await stoppingEngine();
    const farm = await startTestFarm([engine.endpoint]);
    await farm.until(probed);
    const lease = await farm.source.acquire(request('wf-1'), live());
    // The build's calls leave a connection open, as a build stream does.
    await engineJson(lease.engine, { method: 'GET', path: '/version' }, new AbortController().signal);

    engine.stopListening();
    const fault = await lease.fault(
      new Error("The command '/bin/sh -c sleep 20' returned a non-zero code: 137"),
    );

    expect(fault).toBeInstanceOf(DockerUnreachableError);
    expect(fault?.message).toBe(
      `docker engine ${engine.endpoint} is unreachable: it stopped answering (ECONNREFUSED) and ended the ` +
        "build: The command '/bin/sh -c sleep 20' returned a non-zero code: 137",
    );
    expect((await farm.status()).engines[0]).toMatchObject({ healthy: false, failures: 1 });
  });
});

describe('the start prune', () => {
  it('prunes each engine once, after the grace has passed since the farm started, with that grace', async () => {
    const prunes: { at: number; filters: unknown }[] = [];
    const server = await startFakeHttpServer((req, res) => {
      if (req.url.pathname === '/version')
        return sendJson(res, 200, { ApiVersion: '1.41', MinAPIVersion: '1.12' });
      if (req.url.pathname.endsWith('/images/prune')) {
        prunes.push({ at: Date.now(), filters: JSON.parse(req.url.searchParams.get('filters') ?? '{}') });
        return sendJson(res, 200, { ImagesDeleted: [{ Deleted: 'sha256:1' }], SpaceReclaimed: 10 });
      }
      res.writeHead(200);
      res.end('OK');
    });
    servers.push(server);
    const started = Date.now();
    const farm = await startTestFarm([`tcp://${server.host}`], {
      probeIntervalMs: 20,
      leftoverGraceMs: 2000,
    });

    const status = await farm.until((s) => s.engines[0]?.startCleanup !== null);

    expect(status.engines[0]?.startCleanup).toEqual({ images: 1, bytes: 10 });
    expect(prunes).toHaveLength(1);
    expect(prunes[0]?.at).toBeGreaterThanOrEqual(started + 2000);
    expect(prunes[0]?.filters).toMatchObject({ until: ['2s'] });
    // Five more probes, five more ticks: the prune does not come again.
    const pings = () => server.requests.filter((r) => r.url.pathname.endsWith('/_ping')).length;
    const seen = pings();
    await farm.until(() => pings() >= seen + 5);
    expect(prunes).toHaveLength(1);
  });
});
