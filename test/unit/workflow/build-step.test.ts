import { statusMessages } from '../../../src/docker';
import { noCredentials } from '../../../src/git';
import { nopLogger } from '../../../src/log';
import { buildStep, type StepContext, type StepDeps } from '../../../src/workflow/steps';
import { startFakeHttpServer, sendJson, type FakeHttpServer } from '../registry/fake-http-server';
import { apiPath, buildFixture, BUILT_IMAGE_ID, streamLines } from '../docker/fake-engine';
import { probed, startTestFarm, type TestFarm } from '../../harness/farm';
import { rendezvousScore } from '../../../src/docker/farm/placement';

const preferred = (key: string, first: string, second: string): boolean =>
  rendezvousScore(key, first) > rendezvousScore(key, second);

const { contextDir, track } = buildFixture();

/** A registry that has `tags` of org/app and the manifest the fake engine pushes (`sha256:d`), and takes PUTs. */
async function registryWith(tags: string[]): Promise<FakeHttpServer> {
  const registry = await startFakeHttpServer((req, res) => {
    const path = decodeURIComponent(req.url.pathname);
    const held = [...tags, 'sha256:d'].some((t) => path === `/v2/org/app/manifests/${t}`);
    res.writeHead(req.method === 'PUT' ? 201 : held ? 200 : 404);
    res.end();
  });
  track(registry);
  return registry;
}

/**
 * A fake engine that builds BUILT_IMAGE_ID tagged as asked, pushes (or refuses to, with `pushError`), and inspects
 * and untags images like dockerd; `tags` is what it holds locally.
 */
async function engineServer(pushError?: string): Promise<{ server: FakeHttpServer; tags: Set<string> }> {
  const tags = new Set<string>();
  const server = await startFakeHttpServer((req, res) => {
    const at = apiPath(req.url.pathname);
    if (at === '/version') return sendJson(res, 200, { ApiVersion: '1.41', MinAPIVersion: '1.12' });
    if (at === '/_ping') return void res.end('OK');
    if (at === '/build') {
      for (const t of req.url.searchParams.getAll('t')) tags.add(t);
      return streamLines(res, [{ aux: { ID: BUILT_IMAGE_ID } }]);
    }
    if (at.endsWith('/push'))
      return streamLines(res, [pushError ? { error: pushError } : { aux: { Digest: 'sha256:d' } }]);
    const ref = at.replace(/^\/images\//, '').replace(/\/json$/, '');
    if (!tags.has(ref)) return sendJson(res, 404, { message: 'No such image' });
    if (req.method === 'GET') return sendJson(res, 200, { Id: BUILT_IMAGE_ID, RepoTags: [...tags] });
    tags.delete(ref);
    sendJson(res, 200, [{ Untagged: ref }]);
  });
  track(server);
  return { server, tags };
}

/** The step's dependencies over a farm of `buildHosts`, and the farm, to read its state. */
async function farmDeps(
  registry: FakeHttpServer,
  ...buildHosts: string[]
): Promise<{ deps: StepDeps; farm: TestFarm }> {
  const farm = await startTestFarm(buildHosts);
  await farm.until(probed);
  const stepDeps = {
    git: { baseUrl: 'http://git.invalid/', credentials: noCredentials, timeoutMs: 1000 },
    author: { name: 'Test', email: 'test@example.invalid' },
    registry: { url: registry.url },
    engines: farm.source,
    build: {},
    push: { retry: { attempts: 1 } },
    outageBudgetMs: 0,
    registryTimeoutMs: 2000,
  };
  return { deps: stepDeps, farm };
}

async function deps(registry: FakeHttpServer, ...buildHosts: string[]): Promise<StepDeps> {
  return (await farmDeps(registry, ...buildHosts)).deps;
}

function context(
  signal = new AbortController().signal,
  onEvent: (message: string) => void = () => undefined,
): StepContext & { events: string[] } {
  const events: string[] = [];
  return {
    events,
    signal,
    log: nopLogger,
    report: {
      event: (_kind, message) => {
        events.push(message);
        onEvent(message);
      },
      save: () => undefined,
      line: () => undefined,
    },
  };
}

const input = {
  forceBuild: false,
  docker: { dockerUrl: 'org/app', registry: null },
  commit: 'abc123',
  contextDir: '',
};

/** A build of a deployment repo that two idle engines would both take, placed on `first` by its key. */
async function buildFirstOn(registry: FakeHttpServer, first: FakeHttpServer, second: FakeHttpServer) {
  const stepDeps = await deps(registry, `tcp://${first.host}`, `tcp://${second.host}`);
  // Both engines are idle: the one the key hashes to first is taken, so make it `first`. Each key prefers it
  // with a chance of one half, whatever ports the servers got: a handful of keys is not always enough.
  const key = Array.from({ length: 64 }, (_, i) => `org/app-${i}`).find((k) =>
    preferred(k, `tcp://${first.host}`, `tcp://${second.host}`),
  );
  if (key === undefined) throw new Error('no deployment repo name prefers the first engine');
  const ctx = context();
  const output = await buildStep({ ...input, contextDir: contextDir(), deploymentRepo: key }, stepDeps, ctx);
  return { output, events: ctx.events };
}

describe('buildStep', () => {
  it('makes no build call and takes no slot when the registry already has the image', async () => {
    const registry = await registryWith(['abc123']);
    // Any call but the farm's probes would reach this engine and fail the step.
    const engine = await startFakeHttpServer((req, res) =>
      req.url.pathname === '/version'
        ? sendJson(res, 200, { ApiVersion: '1.41', MinAPIVersion: '1.12' })
        : sendJson(res, 500, { message: 'called' }),
    );
    track(engine);
    const ctx = context();

    const output = await buildStep(input, await deps(registry, `tcp://${engine.host}`), ctx);

    expect(output).toEqual({ reference: `${registry.host}/org/app:abc123`, imageFound: true, imageId: null });
    // The farm's own calls: its probe, and the prune of leftovers it starts once the engine answers.
    const farmCalls = new Set(['/version', '/images/prune']);
    expect(engine.requests.map((r) => apiPath(r.url.pathname)).filter((p) => !farmCalls.has(p))).toEqual([]);
    expect(ctx.events).toEqual([statusMessages.imageExists(`${registry.host}/org/app:abc123`)]);
  });

  it("removes the build's tags from the build host after the push", async () => {
    const registry = await registryWith([]);
    const engine = await engineServer();
    const ctx = context();

    const output = await buildStep(
      { ...input, contextDir: contextDir() },
      await deps(registry, `tcp://${engine.server.host}`),
      ctx,
    );

    expect(output).toMatchObject({ imageFound: false, imageId: BUILT_IMAGE_ID });
    expect(ctx.events.at(-1)).toBe(statusMessages.pushed('0dc8d91103f7'));
    const deletes = engine.server.requests.filter((r) => r.method === 'DELETE');
    // latest lives in the registry only: the build tagged and removes just its commit tag.
    expect(deletes.map((r) => apiPath(r.url.pathname))).toEqual([`/images/${registry.host}/org/app:abc123`]);
    expect(engine.tags.size).toBe(0);
  });

  it("still removes the build's tags when the push fails", async () => {
    const registry = await registryWith([]);
    const engine = await engineServer('manifest invalid: the registry refused it');

    await expect(
      buildStep(
        { ...input, contextDir: contextDir() },
        await deps(registry, `tcp://${engine.server.host}`),
        context(),
      ),
    ).rejects.toThrow(
      'Failed to build docker image org/app:abc123:  manifest invalid: the registry refused it',
    );

    expect(engine.tags.size).toBe(0);
  });

  it('asks the registry first, then waits for a healthy engine, saying so, until the step is stopped', async () => {
    const registry = await registryWith([]);
    const stop = new AbortController();
    const ctx = context(stop.signal, (message) => message.startsWith('Waiting') && stop.abort());

    await expect(buildStep(input, await deps(registry, 'tcp://127.0.0.1:1'), ctx)).rejects.toThrow();

    expect(ctx.events).toEqual([
      statusMessages.imageMissing(`${registry.host}/org/app:abc123`),
      'Waiting for a free docker build slot: 0 builds ahead; tcp://127.0.0.1:1 out of rotation ' +
        '(docker engine tcp://127.0.0.1:1 is unreachable: ECONNREFUSED)',
    ]);
  });

  it('moves a build that could not reach its engine before it started to another engine', async () => {
    const registry = await registryWith([]);
    // Answers its probe, then drops the build's connection before a line of output: nothing ran there.
    const dropping = await startFakeHttpServer((req, res) =>
      req.url.pathname === '/version'
        ? sendJson(res, 200, { ApiVersion: '1.41', MinAPIVersion: '1.12' })
        : void res.socket?.destroy(),
    );
    track(dropping);
    const healthy = await engineServer();

    const { output, events } = await buildFirstOn(registry, dropping, healthy.server);

    expect(output).toMatchObject({ imageFound: false, imageId: BUILT_IMAGE_ID });
    expect(events).toContain(
      `Docker host tcp://${dropping.host} failed before the build started (ECONNRESET); ` +
        'moving the build to another docker host',
    );
    expect(events).toContain(
      `Beginning docker image build of org/app:abc123 on docker host tcp://${healthy.server.host}...`,
    );
    expect(events.at(-1)).toBe(statusMessages.pushed('0dc8d91103f7'));
  });

  it('fails naming the engine when the engine goes away in the middle of the build', async () => {
    const registry = await registryWith([]);
    const dying = await startFakeHttpServer((req, res) => {
      if (req.url.pathname === '/version')
        return sendJson(res, 200, { ApiVersion: '1.41', MinAPIVersion: '1.12' });
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write(`${JSON.stringify({ stream: 'Step 2/2 : RUN make\n' })}\n`, () => res.socket?.destroy());
    });
    track(dying);

    await expect(
      buildStep(
        { ...input, contextDir: contextDir() },
        await deps(registry, `tcp://${dying.host}`),
        context(),
      ),
    ).rejects.toThrow(
      `Failed to build docker image org/app:abc123:  docker engine tcp://${dying.host} is unreachable`,
    );
  });

  it("moves a build that its stopping engine ended before any step ran, in the engine's own words", async () => {
    const registry = await registryWith([]);
    const stopping = await startFakeHttpServer((req, res) =>
      apiPath(req.url.pathname) === '/build'
        ? streamLines(res, [
            { stream: 'Step 1/2 : FROM busybox:latest\n' },
            { errorDetail: { message: 'failed to update the store state of sandbox: store closed' } },
          ])
        : sendJson(res, 200, { ApiVersion: '1.41', MinAPIVersion: '1.12' }),
    );
    track(stopping);
    const healthy = await engineServer();

    const { output, events } = await buildFirstOn(registry, stopping, healthy.server);

    expect(output).toMatchObject({ imageFound: false, imageId: BUILT_IMAGE_ID });
    expect(events).toContain(
      `Docker host tcp://${stopping.host} failed before the build started (it is stopping: ` +
        'failed to update the store state of sandbox: store closed); moving the build to another docker host',
    );
    expect(events).toContain(
      `Beginning docker image build of org/app:abc123 on docker host tcp://${healthy.server.host}...`,
    );
  });

  it('fails naming the engine when a step it ran failed and the engine then stopped answering', async () => {
    const registry = await registryWith([]);
    let building = true;
    // A stopping dockerd: its API is gone by the time it kills the running step and ends the build stream.
    const stopping = await startFakeHttpServer((req, res) => {
      const at = apiPath(req.url.pathname);
      if (at === '/version') return sendJson(res, 200, { ApiVersion: '1.41', MinAPIVersion: '1.12' });
      if (at !== '/build' || !building) return void res.socket?.destroy();
      building = false;
      streamLines(res, [
        { stream: 'Step 2/2 : RUN sleep 20\n' },
        { stream: ' ---> Running in 2db6f29d8a20\n' },
        { errorDetail: { message: "The command '/bin/sh -c sleep 20' returned a non-zero code: 137" } },
      ]);
    });
    track(stopping);
    const { deps: stepDeps, farm } = await farmDeps(registry, `tcp://${stopping.host}`);

    await expect(buildStep({ ...input, contextDir: contextDir() }, stepDeps, context())).rejects.toThrow(
      `Failed to build docker image org/app:abc123:  docker engine tcp://${stopping.host} is unreachable: ` +
        "it stopped answering (ECONNRESET) and ended the build: The command '/bin/sh -c sleep 20' " +
        'returned a non-zero code: 137',
    );
    const status = await farm.status();
    expect(status.engines[0]).toMatchObject({ healthy: false, failures: 1, builds: { unreachable: 1 } });
  });

  it("keeps a failed step the build's own while its engine answers, and the engine in rotation", async () => {
    const registry = await registryWith([]);
    const engine = await startFakeHttpServer((req, res) => {
      const at = apiPath(req.url.pathname);
      if (at === '/version') return sendJson(res, 200, { ApiVersion: '1.41', MinAPIVersion: '1.12' });
      if (at === '/_ping') return void res.end('OK');
      streamLines(res, [
        { stream: 'Step 2/2 : RUN exit 137\n' },
        { errorDetail: { message: "The command '/bin/sh -c exit 137' returned a non-zero code: 137" } },
      ]);
    });
    track(engine);
    const { deps: stepDeps, farm } = await farmDeps(registry, `tcp://${engine.host}`);

    await expect(buildStep({ ...input, contextDir: contextDir() }, stepDeps, context())).rejects.toThrow(
      "Failed to build docker image org/app:abc123:  The command '/bin/sh -c exit 137' returned a non-zero code: 137",
    );
    const status = await farm.status();
    expect(status.engines[0]).toMatchObject({ healthy: true, builds: { failed: 1, unreachable: 0 } });
    expect(engine.requests.map((r) => apiPath(r.url.pathname))).toContain('/_ping');
  });
});
