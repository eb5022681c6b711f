// The builder's leftover images on real engines: what a build killed with its replica leaves (a classic
// build's recorded step images, a BuildKit build's labelled image), what the farm removes when it starts and
// what a build that did not finish removes, and that images the builder did not make are never touched. Two private dockerds of this suite's own, so pruning cannot reach another suite's
// builds.
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  BUILDER_LABEL,
  buildImage,
  connectEngine,
  engineJson,
  engineStatus,
  pruneLeftovers,
  recordedImages,
  recordImage,
  type Engine,
} from '../../../src/docker';
import { noCredentials } from '../../../src/git';
import { nopLogger } from '../../../src/log';
import { buildStep, StepError, type StepDeps } from '../../../src/workflow/steps';
import { engineDown, engineUp } from '../../harness/engines';
import { testEnv, uniqueName } from '../../harness/env';
import { startTestFarm } from '../../harness/farm';
import {
  cleanUp,
  context,
  createContainer,
  engineProxy,
  exists,
  noAbort,
  processesRunning,
  removeContainer,
} from './helpers';

const env = testEnv();
const ENGINES = ['leftovers1', 'leftovers2'];
let hosts: string[] = [];
let engines: Engine[] = [];

beforeAll(async () => {
  hosts = await Promise.all(ENGINES.map((name) => engineUp(name)));
  engines = await Promise.all(hosts.map((host) => connectEngine(host, {}, { signal: noAbort() })));
}, 300_000);
afterAll(async () => {
  await Promise.all(ENGINES.map((name) => engineDown(name)));
  await cleanUp();
}, 120_000);

const first = (): Engine => engines[0] as Engine;

/** The ids of the dangling images carrying the builder's label. */
async function ourDangling(engine: Engine): Promise<string[]> {
  const filters = JSON.stringify({ dangling: ['true'], label: [BUILDER_LABEL] });
  const call = { method: 'GET' as const, path: '/images/json', query: { filters } };
  const listed = (await engineJson(engine, call, noAbort())) as { Id: string }[];
  return listed.map((image) => image.Id);
}

/**
 * A dangling image made by committing a container of the base image: with the builder's label it stands for
 * a leftover of the builder, without it for an image someone else made.
 */
async function danglingImage(engine: Engine, labelled: boolean): Promise<string> {
  const container = await createContainer(engine, env.baseImage);
  try {
    const changes = `LABEL ${labelled ? BUILDER_LABEL : 'org.example.other'}=${uniqueName('x')}`;
    const call = { method: 'POST' as const, path: '/commit', query: { container, changes } };
    return ((await engineJson(engine, call, noAbort())) as { Id: string }).Id;
  } finally {
    await removeContainer(engine, container);
  }
}

/** Resolves once `check` holds, asking every 100 ms. */
async function until(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 100));
}

/**
 * Resolves once each image is old enough for a prune without grace: the engine turns `until` into a time in
 * whole seconds, so an image made within the current second is not older than it yet.
 */
async function pastTheSecond(engine: Engine, ids: readonly string[]): Promise<void> {
  for (const id of ids) {
    const call = { method: 'GET' as const, path: `/images/${id}/json` };
    const created = Date.parse(((await engineJson(engine, call, noAbort())) as { Created: string }).Created);
    await until(() => Promise.resolve(Math.floor(Date.now() / 1000) * 1000 > created));
  }
}

/** Whether the engine still has a container (of a build) whose command contains `marker`. */
async function containerWith(engine: Engine, marker: string): Promise<boolean> {
  const call = { method: 'GET' as const, path: '/containers/json', query: { all: true } };
  const listed = (await engineJson(engine, call, noAbort())) as { Command?: string }[];
  return listed.some((c) => (c.Command ?? '').includes(marker));
}

/**
 * Starts a build on the first engine, reached through a proxy, with `seconds` for its slow RUN step, and closes
 * the proxy once that step runs: closing the replica's connection is what killing the replica does to the build,
 * and the build's own cleanup, which would go through it, cannot run either. Resolves once the engine has
 * stopped the step and removed its container.
 */
async function killedMidRun(start: (proxied: Engine, seconds: string) => Promise<unknown>): Promise<void> {
  const proxy = await engineProxy(hosts[0]?.replace(/^unix:\/\//, ''));
  // A RUN step that sleeps for a time no other test uses, so its process tells that it runs.
  const seconds = String(300 + Math.floor(Math.random() * 600));
  const build = start(await connectEngine(proxy.endpoint, {}, { signal: noAbort() }), seconds);
  build.catch(() => undefined);
  const sleeping = async () => (await processesRunning(['sleep', seconds])) > 0;
  await until(sleeping);
  await proxy.close();
  await expect(build).rejects.toThrow();
  // The engine stops the step and removes its container once it sees the connection gone.
  await until(async () => !(await sleeping()) && !(await containerWith(first(), `sleep ${seconds}`)));
}

describe('leftovers of the classic builder', () => {
  /** A classic build on `engine` whose step images are recorded in `workDir` as the build step records them. */
  const recordedBuild = async (
    engine: Engine,
    workDir: string,
    dockerfile: string,
    tag: string,
    lines: string[] = [],
  ) =>
    buildImage(
      {
        engine,
        contextDir: await context({ Dockerfile: dockerfile }),
        tags: [tag],
        backend: 'classic',
        networkMode: env.buildNetwork,
      },
      {
        signal: noAbort(),
        onLine: (line) => lines.push(line),
        // As BUILD_HOSTS names the engine: in the killed build's case it is reached through a proxy.
        onImage: (image) => recordImage(workDir, { ...image, endpoint: hosts[0] ?? '' }),
      },
    );

  it("a build killed mid-RUN with its replica leaves the step images it recorded, which the successor's farm removes as soon as the engine answers, and an unrelated image survives", async () => {
    const engine = first();
    const unrelated = await danglingImage(engine, false);
    const workDir = await mkdtemp(path.join(os.tmpdir(), 'oa-leftovers-'));
    const lines: string[] = [];
    await killedMidRun((proxied, seconds) =>
      recordedBuild(
        proxied,
        workDir,
        `FROM ${env.baseImage}\nRUN echo ${uniqueName('one')} > /one\nRUN echo two > /two\nRUN sleep ${seconds}\n`,
        `${uniqueName('it-killed')}/app:1`,
        lines,
      ),
    );
    // The two RUN steps that finished: left on the engine, untagged, with nothing on them to say whose.
    const stepImages = lines.flatMap((l) => /^ ---> ([0-9a-f]{12})$/.exec(l)?.[1] ?? []).slice(1);
    expect(stepImages).toHaveLength(2);
    for (const id of stepImages)
      expect({ id, exists: await exists(engine, 'images', id) }).toEqual({ id, exists: true });
    const recorded = await recordedImages([workDir]);
    expect(recorded).toEqual(stepImages.map((id) => ({ endpoint: hosts[0], id })));

    const farm = await startTestFarm(hosts, { leftoverImages: recorded, requestTimeoutMs: 15_000 });
    const status = await farm.until((s) => s.engines.every((e) => e.recordedRemoved !== null));

    expect(status.engines.map((e) => e.recordedRemoved)).toEqual([2, 0]);
    for (const id of stepImages)
      expect({ id, exists: await exists(engine, 'images', id) }).toEqual({ id, exists: false });
    expect(await exists(engine, 'images', unrelated)).toBe(true);
    expect(await exists(engine, 'images', env.baseImage)).toBe(true);
  });

  it('a recorded image that is still tagged is kept, and one whose tag a later build took is removed', async () => {
    const engine = first();
    const workDir = await mkdtemp(path.join(os.tmpdir(), 'oa-leftovers-'));
    const retagged = `${uniqueName('it-retagged')}/app:1`;
    const kept = `${uniqueName('it-kept')}/app:1`;
    const orphan = await recordedBuild(engine, workDir, `FROM ${env.baseImage}\nRUN echo 1 > /n\n`, retagged);
    // Not recorded: the later build that took the tag belongs to a replica that is still running.
    const later = await buildImage(
      {
        engine,
        contextDir: await context({ Dockerfile: `FROM ${env.baseImage}\nRUN echo 2 > /n\n` }),
        tags: [retagged],
        backend: 'classic',
        networkMode: env.buildNetwork,
      },
      { signal: noAbort() },
    );
    const tagged = await recordedBuild(engine, workDir, `FROM ${env.baseImage}\nRUN echo 3 > /n\n`, kept);

    const farm = await startTestFarm(hosts, { leftoverImages: await recordedImages([workDir]) });
    await farm.until((s) => s.engines.every((e) => e.recordedRemoved !== null));

    expect(await exists(engine, 'images', orphan.id)).toBe(false);
    expect(await exists(engine, 'images', later.id)).toBe(true);
    expect(await exists(engine, 'images', tagged.id)).toBe(true);
    for (const tag of [retagged, kept])
      await engineStatus(engine, { method: 'DELETE', path: `/images/${tag}` }, noAbort());
  });
});

describe('leftovers of the BuildKit builder', () => {
  const backend = 'buildkit';
  it('a build killed mid-RUN with its replica leaves no dangling image of ours once the engine is pruned, and an unrelated one survives', async () => {
    const engine = first();
    const unrelated = await danglingImage(engine, false);
    await killedMidRun(async (proxied, seconds) =>
      buildImage(
        {
          engine: proxied,
          contextDir: await context({
            Dockerfile: `FROM ${env.baseImage}\nRUN echo ${uniqueName('one')} > /one\nRUN sleep ${seconds}\n`,
          }),
          tags: [`${uniqueName('it-killed')}/app:1`],
          backend,
          networkMode: env.buildNetwork,
        },
        { signal: noAbort() },
      ),
    );
    await pastTheSecond(engine, await ourDangling(engine));
    await pruneLeftovers(engine, 0, { signal: noAbort() });

    expect(await ourDangling(engine)).toEqual([]);
    expect(await exists(engine, 'images', unrelated)).toBe(true);
    expect(await exists(engine, 'images', env.baseImage)).toBe(true);
  });

  it('an image of ours whose tag a later build took, and whose own cleanup never ran, is pruned', async () => {
    const engine = first();
    const tag = `${uniqueName('it-retagged')}/app:1`;
    const build = async (n: number) =>
      buildImage(
        {
          engine,
          contextDir: await context({ Dockerfile: `FROM ${env.baseImage}\nRUN echo ${n} > /n\n` }),
          tags: [tag],
          backend,
          networkMode: env.buildNetwork,
        },
        { signal: noAbort() },
      );
    const orphan = await build(1);
    const current = await build(2);
    expect(await ourDangling(engine)).toContain(orphan.id);
    await pastTheSecond(engine, [orphan.id]);

    await pruneLeftovers(engine, 0, { signal: noAbort() });

    expect(await exists(engine, 'images', orphan.id)).toBe(false);
    expect(await exists(engine, 'images', current.id)).toBe(true);
    await engineStatus(engine, { method: 'DELETE', path: `/images/${tag}` }, noAbort());
  });
});

describe('the farm at start', () => {
  it('prunes the dangling images of the builder on every engine, and nothing else', async () => {
    const ours = await Promise.all(engines.map((engine) => danglingImage(engine, true)));
    const theirs = await Promise.all(engines.map((engine) => danglingImage(engine, false)));
    await Promise.all(engines.map((engine, i) => pastTheSecond(engine, [ours[i] ?? ''])));

    const farm = await startTestFarm(hosts, { leftoverGraceMs: 0, requestTimeoutMs: 15_000 });
    const status = await farm.until((s) => s.engines.every((e) => e.startCleanup !== null));

    for (const engine of status.engines) expect(engine.startCleanup?.images).toBeGreaterThanOrEqual(1);
    for (const [i, engine] of engines.entries()) {
      expect({ i, ours: await exists(engine, 'images', ours[i] ?? '') }).toEqual({ i, ours: false });
      expect({ i, theirs: await exists(engine, 'images', theirs[i] ?? '') }).toEqual({ i, theirs: true });
    }
  });
});

describe('a build that did not finish', () => {
  it("prunes the builder's dangling images on its engine, and leaves images the builder did not make", async () => {
    const engine = first();
    const ours = await danglingImage(engine, true);
    const theirs = await danglingImage(engine, false);
    await pastTheSecond(engine, [ours]);
    const deps: StepDeps = {
      git: { baseUrl: 'http://git.invalid/', credentials: noCredentials, timeoutMs: 1000 },
      author: { name: 'Test', email: 'test@example.invalid' },
      registry: { url: env.registry.url },
      engines: {
        acquire: () =>
          Promise.resolve({
            engine,
            reason: 'test',
            waitedMs: 0,
            release: () => undefined,
            fault: () => Promise.resolve(undefined),
          }),
      },
      build: { timeoutMs: 60_000 },
      push: { timeoutMs: 60_000 },
      registryTimeoutMs: 10_000,
      outageBudgetMs: 10_000,
      leftoverGraceMs: 0,
    };
    const input = {
      forceBuild: true,
      docker: { dockerUrl: `${uniqueName('it-unfinished')}/app`, registry: null },
      commit: 'c0ffee1',
      contextDir: await context({ Dockerfile: `FROM ${env.baseImage}\nRUN exit 3\n` }),
    };
    const report = { event: () => undefined, save: () => undefined, line: () => undefined };

    await expect(buildStep(input, deps, { signal: noAbort(), log: nopLogger, report })).rejects.toThrow(
      StepError,
    );

    expect(await exists(engine, 'images', ours)).toBe(false);
    expect(await exists(engine, 'images', theirs)).toBe(true);
  });
});
