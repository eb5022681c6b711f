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

let servers: FakeHttpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

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
