// Build-farm figures on private engines started by `scripts/test-env.sh engine`: throughput of builds that
// wait (`RUN sleep`) through the farm on 1, 2 and 3 engines at equal total slots, each beside the same builds
// spread over the same engines by the docker CLI (classic builder, the same concurrency per engine) in the same
// run; and the second build of one repo on its affine engine with the cache on, against an uncached build.
// On one machine the engines share its CPUs, so the CLI's figure is the floor the farm is held to. Each engine
// count runs ROUNDS rounds of both sides, in turns (the CLI first in odd rounds, the farm in even ones), and
// the ratio is of the medians: one round on a machine that other work loads swings by some 10 % either way.
// Run from the repository root, as root: npm run bench:farm
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { farmActor, farmSource, farmStatus, type FarmMsg } from '../../actors/farm';
import { startTree, type Tree } from '../../actors/supervision';
import { buildImage } from '../../src/docker';
import { parseEngineSpecs } from '../../src/docker/farm/hosts';
import type { EngineSource } from '../../src/docker/farm/source';
import { engineDown, engineUp } from '../../test/harness/engines';
import { median } from '../soak/analyse';

const run = promisify(execFile);
const ENGINES = ['bench1', 'bench2', 'bench3'];
const TOTAL_SLOTS = 6;
const BUILDS = 18;
const SLEEP_SECONDS = 2;
const ROUNDS = 3;
const ENGINE_OPTIONS = { requestTimeoutMs: 30_000 };
// One signal per call: they are never aborted, and one shared by all would collect a listener per call.
const noAbort = (): AbortSignal => new AbortController().signal;

async function contextWith(dockerfile: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'oa-bench-farm-'));
  await writeFile(path.join(dir, 'Dockerfile'), dockerfile);
  return dir;
}

async function startFarm(entries: string[]): Promise<{ tree: Tree<FarmMsg>; source: EngineSource }> {
  const engines = parseEngineSpecs(entries, 1);
  const tree = await startTree(farmActor({ engines, engine: ENGINE_OPTIONS, probeIntervalMs: 5000 }), {
    id: 'farm',
  });
  for (;;) {
    const status = await farmStatus(tree.root);
    if (status.engines.every((e) => e.healthy)) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { tree, source: farmSource(() => tree.root, engines, ENGINE_OPTIONS) };
}

/** One build through the farm, as the docker step makes it: lease, build, release. Milliseconds. */
async function farmBuild(
  source: EngineSource,
  repo: string,
  contextDir: string,
  noCache: boolean,
): Promise<number> {
  const started = performance.now();
  const lease = await source.acquire({ key: repo, workflowId: repo }, { signal: noAbort() });
  try {
    await buildImage(
      { engine: lease.engine, contextDir, tags: [`bench-farm/${repo}:latest`], noCache },
      {
        signal: noAbort(),
      },
    );
    lease.release('ok');
  } catch (err) {
    lease.release('failed');
    throw err;
  }
  return performance.now() - started;
}

async function throughputFarm(hosts: string[], contextDir: string, round: number): Promise<number> {
  const slots = TOTAL_SLOTS / hosts.length;
  const farm = await startFarm(hosts.map((h) => `${h};slots=${slots}`));
  const started = performance.now();
  await Promise.all(
    Array.from({ length: BUILDS }, (_, i) => farmBuild(farm.source, `r${round}-${i}`, contextDir, true)),
  );
  const elapsed = performance.now() - started;
  await farm.tree.stop();
  return elapsed;
}

/** The same builds by the docker CLI: round robin over the engines, `slots` at once on each. */
async function throughputCli(hosts: string[], contextDir: string, round: number): Promise<number> {
  const slots = TOTAL_SLOTS / hosts.length;
  const queues = hosts.map((host, e) =>
    Array.from({ length: BUILDS }, (_, i) => i)
      .filter((i) => i % hosts.length === e)
      .map((i) => ({ host, i })),
  );
  const started = performance.now();
  await Promise.all(
    queues.flatMap((queue) =>
      Array.from({ length: slots }, async () => {
        for (let job = queue.shift(); job; job = queue.shift()) {
          await run(
            'docker',
            ['-H', job.host, 'build', '-q', '--no-cache', '-t', `bench-cli/r${round}-${job.i}`, contextDir],
            {
              env: { ...process.env, DOCKER_BUILDKIT: '0' },
            },
          );
        }
      }),
    ),
  );
  return performance.now() - started;
}

async function main(): Promise<void> {
  console.log(`starting ${ENGINES.length} engines ...`);
  const hosts = await Promise.all(ENGINES.map((name) => engineUp(name)));
  const contexts: string[] = [];
  try {
    const sleeper = await contextWith(`FROM busybox:latest\nRUN sleep ${SLEEP_SECONDS}\n`);
    contexts.push(sleeper);
    console.log(
      `\nthroughput: ${BUILDS} builds of RUN sleep ${SLEEP_SECONDS}, ${TOTAL_SLOTS} slots in all (builds/min; ratio builder/CLI)`,
    );
    let round = 0;
    const secs = (times: number[]) => times.map((ms) => (ms / 1000).toFixed(1)).join(' ');
    for (const count of [1, 2, 3]) {
      const used = hosts.slice(0, count);
      const cli: number[] = [];
      const farm: number[] = [];
      for (let turn = 0; turn < ROUNDS; turn++) {
        // In turns, so neither side always runs on engines the other has just warmed up.
        if (turn % 2 === 0) cli.push(await throughputCli(used, sleeper, ++round));
        farm.push(await throughputFarm(used, sleeper, ++round));
        if (turn % 2 === 1) cli.push(await throughputCli(used, sleeper, ++round));
      }
      const [farmMs, cliMs] = [median(farm), median(cli)];
      const perMin = (ms: number) => ((BUILDS / ms) * 60_000).toFixed(1);
      console.log(
        `  ${count} engine(s) x ${TOTAL_SLOTS / count} slots: builder ${perMin(farmMs)} /min (median of ${secs(farm)} s), ` +
          `docker CLI ${perMin(cliMs)} /min (median of ${secs(cli)} s), ratio ${(cliMs / farmMs).toFixed(3)}`,
      );
    }

    const layered = await contextWith(
      `FROM busybox:latest\nRUN sleep ${SLEEP_SECONDS} && echo one > /one\nRUN sleep ${SLEEP_SECONDS} && echo two > /two\n`,
    );
    contexts.push(layered);
    const farm = await startFarm(hosts.map((h) => `${h};slots=2`));
    const uncached = await farmBuild(farm.source, 'cache-repo', layered, true);
    const warm = await farmBuild(farm.source, 'cache-repo', layered, false);
    const cached = await farmBuild(farm.source, 'cache-repo', layered, false);
    const status = await farmStatus(farm.tree.root);
    await farm.tree.stop();
    const on = status.engines.filter((e) => e.builds.ok > 0).map((e) => e.endpoint);
    console.log('\ncache: one repo, three builds, all on its affine engine ' + on.join(', '));
    console.log(`  uncached (--no-cache)           ${(uncached / 1000).toFixed(2)} s`);
    console.log(`  cache on, first after it        ${(warm / 1000).toFixed(2)} s`);
    console.log(
      `  cache on, second on that engine ${(cached / 1000).toFixed(2)} s  ratio uncached/cached ${(uncached / cached).toFixed(1)}`,
    );
  } finally {
    await Promise.all(contexts.map((dir) => rm(dir, { recursive: true, force: true })));
    await Promise.all(ENGINES.map((name) => engineDown(name)));
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
