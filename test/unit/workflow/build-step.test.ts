import { statusMessages } from '../../../src/docker';
import { noCredentials } from '../../../src/git';
import { nopLogger } from '../../../src/log';
import { buildStep, type StepContext, type StepDeps } from '../../../src/workflow/steps';
import { startFakeHttpServer, sendJson, type FakeHttpServer } from '../registry/fake-http-server';
import { apiPath, buildFixture, BUILT_IMAGE_ID, streamLines } from '../docker/fake-engine';

const { contextDir, track } = buildFixture();

/** A registry that has `tags` of org/app. */
async function registryWith(tags: string[]): Promise<FakeHttpServer> {
  const registry = await startFakeHttpServer((req, res) => {
    res.writeHead(tags.some((t) => req.url.pathname === `/v2/org/app/manifests/${t}`) ? 200 : 404);
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

function deps(registry: FakeHttpServer, buildHost: string): StepDeps {
  return {
    git: { baseUrl: 'http://git.invalid/', credentials: noCredentials, timeoutMs: 1000 },
    author: { name: 'Test', email: 'test@example.invalid' },
    registry: { url: registry.url },
    buildHosts: [buildHost],
    engine: { requestTimeoutMs: 2000 },
    build: {},
    push: { retry: { attempts: 1 } },
    outageBudgetMs: 0,
    registryTimeoutMs: 2000,
  };
}

function context(): StepContext & { events: string[] } {
  const events: string[] = [];
  return {
    events,
    signal: new AbortController().signal,
    log: nopLogger,
    report: {
      event: (_kind, message) => void events.push(message),
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

describe('buildStep', () => {
  it('makes no Engine call at all when the registry already has the image', async () => {
    const registry = await registryWith(['abc123']);
    // Any call would reach this engine and fail the step.
    const engine = await startFakeHttpServer((_req, res) => sendJson(res, 500, { message: 'called' }));
    track(engine);
    const ctx = context();

    const output = await buildStep(input, deps(registry, `tcp://${engine.host}`), ctx);

    expect(output).toEqual({ reference: `${registry.host}/org/app:abc123`, imageFound: true, imageId: null });
    expect(engine.requests).toEqual([]);
    expect(ctx.events).toEqual([
      `Beginning docker image build of org/app:abc123 on docker host tcp://${engine.host}...`,
      statusMessages.imageExists(`${registry.host}/org/app:abc123`),
    ]);
  });

  it("removes the build's tags from the build host after the push", async () => {
    const registry = await registryWith([]);
    const engine = await engineServer();
    const ctx = context();

    const output = await buildStep(
      { ...input, contextDir: contextDir() },
      deps(registry, `tcp://${engine.server.host}`),
      ctx,
    );

    expect(output).toMatchObject({ imageFound: false, imageId: BUILT_IMAGE_ID });
    expect(ctx.events.at(-1)).toBe(statusMessages.pushed('0dc8d91103f7'));
    const deletes = engine.server.requests.filter((r) => r.method === 'DELETE');
    expect(deletes.map((r) => apiPath(r.url.pathname))).toEqual([
      `/images/${registry.host}/org/app:abc123`,
      `/images/${registry.host}/org/app:latest`,
    ]);
    expect(engine.tags.size).toBe(0);
  });

  it("still removes the build's tags when the push fails", async () => {
    const registry = await registryWith([]);
    const engine = await engineServer('manifest invalid: the registry refused it');

    await expect(
      buildStep(
        { ...input, contextDir: contextDir() },
        deps(registry, `tcp://${engine.server.host}`),
        context(),
      ),
    ).rejects.toThrow(
      'Failed to build docker image org/app:abc123:  manifest invalid: the registry refused it',
    );

    expect(engine.tags.size).toBe(0);
  });

  it('asks the registry first and then fails on an unreachable build host, in that order', async () => {
    const registry = await registryWith([]);
    const ctx = context();

    await expect(buildStep(input, deps(registry, 'tcp://127.0.0.1:1'), ctx)).rejects.toThrow(
      'Failed to build docker image org/app:abc123:  docker engine tcp://127.0.0.1:1 is unreachable',
    );

    expect(ctx.events).toEqual([
      'Beginning docker image build of org/app:abc123 on docker host tcp://127.0.0.1:1...',
      statusMessages.imageMissing(`${registry.host}/org/app:abc123`),
    ]);
  });
});
