// How the builder scales with its slots and replicas, beside the same builds done with the git and docker
// command-line clients (bench/workflow/plain-build.sh) against the same engine, registry and git server in the
// same run. Every build waits (`RUN sleep 3`), as real ones mostly do, so what a configuration gains from more
// slots is the engine's concurrency less what the builder costs it. For each configuration it prints the
// throughput (workflows per second), the builder/CLI ratio, CPU seconds per workflow by process (the builder,
// the engine: dockerd and containerd, the container shims, the git server) and the builder's RSS idle and per
// workflow in flight. Run from the repository root:
//   npm run build && npx tsc -p bench/tsconfig.json && node dist-bench/bench/scale/run.js [--quick] [--rounds N]
// --shapes picks the configurations (default 1,2,4,8,2x2; N is one replica of N slots, RxN R replicas of N).
// --bin PATH runs another build of the builder (its bin/oa-builder.js), to compare two in the same conditions.
// --cpu-prof DIR runs the replicas with Node's --cpu-prof, writing one profile per replica into DIR.
// --warmup N has each replica run N workflows before the round is measured, so that what a fresh process does
// once (lazy loading, the first compilations) is left out and the figures are those of a replica that has
// been serving for a while; with 0 (the default) a round measures a fresh replica's first 2S workflows.
// (--quick: S = 1, 2 and two replicas of 1 slot, one round each, some 2 minutes; full: S = 1, 2, 4, 8 and
// two replicas of 2 slots against one of 4, 3 rounds of 2S workflows each, some 10 minutes).
// CPU is read from /proc of the test environment's processes (its pids directory): run it on an environment
// of its own (OA_TEST_ENV_DIR) so that no other work shows in the engine's or git server's figures.
// Goals: builder/CLI >= 0.95 at every S; 2 replicas x 2 slots >= 0.95x one replica x 4; builder CPU <= 0.2 s
// per workflow. Exit status 1 when a workflow failed, 2 when the run could not be made.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startFakeManager, type FakeManager } from '../../test/fakes/manager';
import { testEnv, type TestEnv } from '../../test/harness/env';
import { freeLoopbackPort } from '../../test/harness/ports';
import { BrokerAdmin } from '../../test/integration/amqp/topology';
import {
  managerSeed,
  provisionTopology,
  serviceEnv,
  serviceRequest,
  submit,
  tap,
  type ServiceTopology,
  type Tapped,
} from '../../test/integration/service/helpers';
import {
  DEPLOYMENT_EXAMPLE,
  filesOf,
  removeSeededRepos,
  seedRepos,
  type SeededRepos,
} from '../../test/integration/workflow/helpers';
import { linkRepositoryFiles, mapLimit } from '../harness';
import { idOf, summarise } from '../soak/analyse';
import { Replica } from '../soak/replica';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const TICKS = 100; // USER_HZ: /proc counts CPU time in these on Linux
const PAGE = 4096;
const IDLE_SAMPLE_MS = 5_000;

interface Shape {
  readonly replicas: number;
  readonly slots: number;
}
/** `N` is one replica of N slots, `RxN` R replicas of N slots each. */
function parseShape(text: string): Shape {
  const match = /^(?:(\d+)x)?(\d+)$/.exec(text.trim());
  if (!match) throw new Error(`a shape is N or RxN, not ${text}`);
  return { replicas: Number(match[1] ?? 1), slots: Number(match[2]) };
}
const label = (s: Shape): string => (s.replicas === 1 ? `S=${s.slots}` : `${s.replicas}x${s.slots}`);

// --- processes and their CPU -----------------------------------------------------------------------------

/**
 * utime + stime, and with `reaped` the children it waited for too, in seconds; 0 once it is gone. With `thread`
 * only that thread of `pid` (`/proc/PID/task/TID/stat`).
 */
function cpuOf(pid: number, reaped = false, thread?: number): number {
  try {
    // The command name may hold spaces: the fields are counted after its closing parenthesis.
    const stat = fs.readFileSync(
      thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`,
      'utf8',
    );
    const f = stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
    const own = (f[11] ?? 0) + (f[12] ?? 0);
    return (reaped ? own + (f[13] ?? 0) + (f[14] ?? 0) : own) / TICKS;
  } catch {
    return 0;
  }
}

function rssOf(pid: number): number {
  try {
    return Number(fs.readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * PAGE;
  } catch {
    return 0;
  }
}

const pidFile = (file: string): number => Number(fs.readFileSync(file, 'utf8').trim());

function childrenOf(pid: number): number[] {
  try {
    return fs
      .readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * The engine's processes: dockerd and its containerd, read directly; the shims of its containers come and go
 * and end up reparented elsewhere, so they are polled and each one's last reading counted (a lower bound).
 */
class EngineWatch {
  private readonly dockerd: number;
  private readonly containerdAddress: string;
  private readonly shims = new Map<number, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(env: TestEnv) {
    this.dockerd = pidFile(path.join(env.stateDir, 'docker', 'dockerd.pid'));
    this.containerdAddress = path.join(env.stateDir, 'docker', 'exec', 'containerd', 'containerd.sock');
    this.timer = setInterval(() => this.pollShims(), 100);
    this.timer.unref();
  }

  engine(): number {
    return [this.dockerd, ...childrenOf(this.dockerd)].reduce((sum, pid) => sum + cpuOf(pid, true), 0);
  }

  /** CPU of every shim seen so far, at its last reading. */
  shimCpu(): number {
    this.pollShims();
    return [...this.shims.values()].reduce((a, b) => a + b, 0);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private pollShims(): void {
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let cmdline: string;
      try {
        cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      } catch {
        continue;
      }
      if (!cmdline.startsWith('/usr/bin/containerd-shim') && !cmdline.includes('containerd-shim-runc'))
        continue;
      if (!cmdline.includes(this.containerdAddress)) continue;
      const pid = Number(entry);
      this.shims.set(pid, Math.max(this.shims.get(pid) ?? 0, cpuOf(pid, true)));
    }
  }
}

interface CpuReading {
  readonly builder: number;
  /** The builder's main thread: JavaScript. The rest of `builder` is libuv's pool (file system, zlib,
   * crypto) and V8's helpers (compilation, garbage collection). */
  readonly builderMain: number;
  readonly cli: number;
  readonly engine: number;
  readonly shims: number;
  readonly git: number;
}

function readCpu(watch: EngineWatch, gitPid: number, replicas: readonly Replica[]): CpuReading {
  return {
    builder: replicas.reduce((sum, r) => sum + (r.pid === undefined ? 0 : cpuOf(r.pid)), 0),
    builderMain: replicas.reduce((sum, r) => sum + (r.pid === undefined ? 0 : cpuOf(r.pid, false, r.pid)), 0),
    // The scripts and the git and docker clients they run, all reaped by now.
    cli: cpuOf(process.pid, true) - cpuOf(process.pid),
    engine: watch.engine(),
    shims: watch.shimCpu(),
    git: cpuOf(gitPid, true),
  };
}

const cpuSince = (a: CpuReading, b: CpuReading): CpuReading => ({
  builder: b.builder - a.builder,
  builderMain: b.builderMain - a.builderMain,
  cli: b.cli - a.cli,
  engine: b.engine - a.engine,
  shims: b.shims - a.shims,
  git: b.git - a.git,
});

// --- one round each way -------------------------------------------------------------------------------------

interface Round {
  readonly seconds: number;
  readonly workflows: number;
  readonly cpu: CpuReading;
  readonly failed: number;
  /** Builder only: RSS of the replicas when idle and at most during the round, bytes. */
  readonly rssIdle?: number;
  readonly rssPeak?: number;
  /** Builder only: CPU seconds the replicas would have spent idle over the round. */
  readonly idleCpu?: number;
  /** Builder only: CPU seconds the replicas spent starting, until /readyz answered, all of them together. */
  readonly startCpu?: number;
}

interface Rig {
  readonly env: TestEnv;
  readonly repoRoot: string;
  /** The builder's entry point. */
  readonly bin: string;
  readonly scratch: string;
  readonly admin: BrokerAdmin;
  readonly topology: ServiceTopology;
  readonly manager: FakeManager;
  readonly replies: Tapped[];
  readonly watch: EngineWatch;
  readonly gitPid: number;
  /** Where replicas write their CPU profiles, if they are profiled. */
  readonly cpuProfDir: string | undefined;
}

/** Submits `pairs` and waits for as many replies. */
async function runAll(
  rig: Rig,
  pairs: readonly SeededRepos[],
  meanwhile = (): void => undefined,
): Promise<void> {
  const wanted = rig.replies.length + pairs.length;
  for (const pair of pairs) submit(rig, serviceRequest(pair));
  while (rig.replies.length < wanted) {
    meanwhile();
    await sleep(50);
  }
}

async function builderRound(
  rig: Rig,
  shape: Shape,
  pairs: readonly SeededRepos[],
  warmup: readonly SeededRepos[],
): Promise<Round> {
  const replicas: Replica[] = [];
  for (let i = 0; i < shape.replicas; i++) {
    const name = `${label(shape)}-${i}-${Date.now()}`;
    const workRoot = fs.mkdtempSync(path.join(rig.scratch, 'work-'));
    const healthListen = `127.0.0.1:${await freeLoopbackPort()}`;
    replicas.push(
      new Replica({
        name,
        bin: rig.bin,
        nodeArgs:
          rig.cpuProfDir === undefined
            ? []
            : ['--cpu-prof', `--cpu-prof-dir=${path.resolve(rig.cpuProfDir)}`],
        env: {
          ...(process.env.PATH === undefined ? {} : { PATH: process.env.PATH }),
          HOME: process.env.HOME ?? rig.scratch,
          ...serviceEnv({ manager: rig.manager, topology: rig.topology, workRoot }, `scale-${name}`),
          BUILDER_CONCURRENCY: String(shape.slots),
          HEALTH_LISTEN: healthListen,
          WORKFLOW_TIMEOUT_SECONDS: '600',
          STEP_TIMEOUT_SECONDS: '500',
          LOG_FORMAT: 'json',
          LOG_LEVEL: 'info',
        },
        healthListen,
        workRoot,
        logDir: rig.scratch,
        onUnexpectedExit: (r, code, signal) => say(`replica ${r.name} exited by itself (${code ?? signal})`),
      }),
    );
  }
  try {
    await Promise.all(replicas.map((r) => r.start(120_000)));
    const startCpu = readCpu(rig.watch, rig.gitPid, replicas).builder;
    await runAll(rig, warmup);
    await sleep(1_000);
    // What the replicas spend doing nothing (heartbeats, timers): on a busy machine a round lasts long enough
    // for it to show in the CPU per workflow, so it is measured and reported apart.
    const idleFrom = readCpu(rig.watch, rig.gitPid, replicas).builder;
    await sleep(IDLE_SAMPLE_MS);
    const idlePerSecond =
      (readCpu(rig.watch, rig.gitPid, replicas).builder - idleFrom) / (IDLE_SAMPLE_MS / 1000);
    const rssIdle = replicas.reduce((sum, r) => sum + (r.pid === undefined ? 0 : rssOf(r.pid)), 0);
    let rssPeak = rssIdle;
    const before = readCpu(rig.watch, rig.gitPid, replicas);
    const start = process.hrtime.bigint();
    const seen = rig.replies.length;
    await runAll(rig, pairs, () => {
      rssPeak = Math.max(
        rssPeak,
        replicas.reduce((sum, r) => sum + (r.pid === undefined ? 0 : rssOf(r.pid)), 0),
      );
    });
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const cpu = cpuSince(before, readCpu(rig.watch, rig.gitPid, replicas));
    const failed = rig.replies
      .slice(seen)
      .filter((m) => m.fields === undefined || summarise(m.fields, idOf(m) ?? '').failed).length;
    const idleCpu = idlePerSecond * seconds;
    return { seconds, workflows: pairs.length, cpu, failed, rssIdle, rssPeak, idleCpu, startCpu };
  } finally {
    await Promise.all(replicas.map((r) => r.stop(10_000)));
  }
}

function plainBuild(rig: Rig, pair: SeededRepos): Promise<boolean> {
  const work = fs.mkdtempSync(path.join(rig.scratch, 'cli-'));
  return new Promise((resolve) => {
    execFile(
      'bash',
      [
        path.join(rig.repoRoot, 'bench', 'workflow', 'plain-build.sh'),
        pair.deployment.url,
        pair.source.url,
        pair.deployment.branch,
        rig.env.registry.host,
        work,
      ],
      { env: { ...process.env, DOCKER_HOST: rig.env.dockerHost }, maxBuffer: 64 * 1024 * 1024 },
      (err) => {
        fs.rmSync(work, { recursive: true, force: true });
        resolve(err === null);
      },
    );
  });
}

async function cliRound(rig: Rig, shape: Shape, pairs: readonly SeededRepos[]): Promise<Round> {
  const before = readCpu(rig.watch, rig.gitPid, []);
  const start = process.hrtime.bigint();
  const results = await mapLimit(pairs, shape.replicas * shape.slots, (pair) => plainBuild(rig, pair));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = cpuSince(before, readCpu(rig.watch, rig.gitPid, []));
  return { seconds, workflows: pairs.length, cpu, failed: results.filter((ok) => !ok).length };
}

// --- the run ------------------------------------------------------------------------------------------------

let clockStart = Date.now();
function say(text: string): void {
  process.stdout.write(`[${((Date.now() - clockStart) / 1000).toFixed(1).padStart(6)}s] ${text}\n`);
}

interface Result {
  readonly shape: Shape;
  readonly builder: Round[];
  readonly cli: Round[];
}

const total = (rounds: readonly Round[], pick: (r: Round) => number): number =>
  rounds.reduce((sum, r) => sum + pick(r), 0);
const throughput = (rounds: readonly Round[]): number =>
  total(rounds, (r) => r.workflows) / total(rounds, (r) => r.seconds);
const perWorkflow = (rounds: readonly Round[], pick: (c: CpuReading) => number): number =>
  total(rounds, (r) => pick(r.cpu)) / total(rounds, (r) => r.workflows);

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      shapes: { type: 'string' },
      bin: { type: 'string' },
      'cpu-prof': { type: 'string' },
      warmup: { type: 'string' },
    },
  });
  const quick = values.quick ?? false;
  const rounds = Number(values.rounds ?? (quick ? 1 : 3));
  const warmupCount = Number(values.warmup ?? 0);
  const shapes = (values.shapes ?? (quick ? '1,2,2x1' : '1,2,4,8,2x2')).split(',').map(parseShape);
  const repoRoot = linkRepositoryFiles();
  if (!fs.existsSync(path.join(repoRoot, 'dist', 'oa-builder.js'))) {
    console.error('no dist/oa-builder.js: run `npm run build` first');
    return 2;
  }
  const env = testEnv();
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'oa-scale-'));
  const admin = await BrokerAdmin.open(env.amqpUrl);
  const watch = new EngineWatch(env);
  let manager: FakeManager | undefined;
  try {
    const topology = await provisionTopology(admin);
    manager = await startFakeManager(managerSeed(topology, env.amqpUrl));
    const replies = await tap(admin.channel, topology.queues.workflow_orchestration);
    const rig: Rig = {
      env,
      repoRoot,
      bin: path.resolve(values.bin ?? path.join(repoRoot, 'bin', 'oa-builder.js')),
      scratch,
      admin,
      topology,
      manager,
      replies,
      watch,
      gitPid: pidFile(path.join(env.stateDir, 'pids', 'git-http.pid')),
      cpuProfDir: values['cpu-prof'],
    };
    const dockerfile = (filesOf(DEPLOYMENT_EXAMPLE)['Dockerfile.eex'] ?? '').replace(
      'RUN ',
      'RUN sleep 3\nRUN ',
    );
    clockStart = Date.now();
    say(
      `node ${process.version}, ${os.cpus().length} cores, ${rounds} round(s) of 2S workflows per shape` +
        (warmupCount > 0 ? `, each replica warmed up by ${warmupCount} workflows first` : ''),
    );
    const results: Result[] = [];
    let failed = 0;
    for (const shape of shapes) {
      const result: Result = { shape, builder: [], cli: [] };
      for (let round = 0; round < rounds; round++) {
        const count = shape.replicas * shape.slots * 2;
        const seed = (n: number): Promise<SeededRepos[]> =>
          mapLimit(Array.from({ length: n }), 4, () => seedRepos({ 'Dockerfile.eex': dockerfile }));
        const pairs = await seed(count);
        const warmup = await seed(warmupCount * shape.replicas);
        // Builder first: the script builds whether or not the registry has the image, the builder would not.
        const b = await builderRound(rig, shape, pairs, warmup);
        const c = await cliRound(rig, shape, pairs);
        failed += b.failed + c.failed;
        result.builder.push(b);
        result.cli.push(c);
        say(
          `${label(shape)} round ${round + 1}: builder ${b.seconds.toFixed(1)} s, CLI ${c.seconds.toFixed(1)} s for ${count} workflows` +
            (b.failed + c.failed > 0 ? ` (${b.failed} builder and ${c.failed} CLI workflows FAILED)` : ''),
        );
      }
      results.push(result);
    }
    report(results);
    return failed > 0 ? 1 : 0;
  } finally {
    watch.stop();
    await manager?.close();
    await admin.dispose();
    await removeSeededRepos();
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

function report(results: readonly Result[]): void {
  const one = results.find((r) => r.shape.replicas === 1 && r.shape.slots === 1);
  const base = { builder: one ? throughput(one.builder) : NaN, cli: one ? throughput(one.cli) : NaN };
  console.log('\nshape   builder wf/s  x S=1   CLI wf/s  x S=1   builder/CLI');
  const ratios: number[] = [];
  for (const { shape, builder, cli } of results) {
    const b = throughput(builder);
    const c = throughput(cli);
    ratios.push(b / c);
    console.log(
      `${label(shape).padEnd(6)} ${b.toFixed(3).padStart(13)} ${(b / base.builder).toFixed(2).padStart(6)} ${c.toFixed(3).padStart(10)} ${(c / base.cli).toFixed(2).padStart(6)} ${(b / c).toFixed(2).padStart(13)}`,
    );
  }
  console.log(
    '\nCPU seconds per workflow   builder     CLI   engine   shims   git server   builder main thread',
  );
  const cell = (rounds: readonly Round[], pick: (c: CpuReading) => number, width: number): string =>
    perWorkflow(rounds, pick).toFixed(2).padStart(width);
  for (const { shape, builder, cli } of results) {
    for (const [name, rounds] of [
      ['builder', builder],
      ['CLI', cli],
    ] as const) {
      const own =
        name === 'builder'
          ? [cell(rounds, (c) => c.builder, 7), '-'.padStart(7)]
          : ['-'.padStart(7), cell(rounds, (c) => c.cli, 7)];
      console.log(
        `${`${label(shape)} ${name}`.padEnd(25)} ${own.join(' ')} ${cell(rounds, (c) => c.engine, 8)} ${cell(rounds, (c) => c.shims, 7)} ${cell(rounds, (c) => c.git, 12)}` +
          (name === 'builder' ? cell(rounds, (c) => c.builderMain, 22) : ''),
      );
    }
  }
  console.log('\nbuilder RSS        idle MiB per replica   MiB per workflow in flight');
  for (const { shape, builder } of results) {
    const idle = total(builder, (r) => r.rssIdle ?? 0) / builder.length / shape.replicas;
    const peak = total(builder, (r) => r.rssPeak ?? 0) / builder.length;
    const perFlight = (peak - idle * shape.replicas) / (shape.replicas * shape.slots);
    console.log(
      `${label(shape).padEnd(18)} ${(idle / 2 ** 20).toFixed(1).padStart(20)} ${(perFlight / 2 ** 20).toFixed(1).padStart(28)}`,
    );
  }
  console.log('\nbuilder start-up CPU s per replica, until /readyz answers');
  for (const { shape, builder } of results) {
    const perReplica = total(builder, (r) => r.startCpu ?? 0) / builder.length / shape.replicas;
    console.log(`${label(shape).padEnd(6)} ${perReplica.toFixed(2).padStart(6)}`);
  }
  console.log('\nbuilder CPU s per workflow, less what it spends idle over the same time');
  for (const { shape, builder } of results) {
    const net =
      (total(builder, (r) => r.cpu.builder) - total(builder, (r) => r.idleCpu ?? 0)) /
      total(builder, (r) => r.workflows);
    console.log(`${label(shape).padEnd(6)} ${net.toFixed(2).padStart(6)}`);
  }
  const builderCpu = perWorkflow(
    results.flatMap((r) => r.builder),
    (c) => c.builder,
  );
  const minRatio = Math.min(...ratios);
  console.log(
    `\ngoal builder/CLI >= 0.95 at every S: lowest ${minRatio.toFixed(2)}, ${minRatio >= 0.95 ? 'met' : 'NOT met'}`,
  );
  const four = results.find((r) => r.shape.replicas === 1 && r.shape.slots === 4);
  const twoByTwo = results.find((r) => r.shape.replicas === 2 && r.shape.slots === 2);
  if (four && twoByTwo) {
    const ratio = throughput(twoByTwo.builder) / throughput(four.builder);
    console.log(
      `goal 2 replicas x 2 slots >= 0.95x one replica x 4: ${ratio.toFixed(2)}x, ${ratio >= 0.95 ? 'met' : 'NOT met'}`,
    );
  }
  console.log(
    `goal builder CPU <= 0.2 s per workflow: ${builderCpu.toFixed(2)} s, ${builderCpu <= 0.2 ? 'met' : 'NOT met'}`,
  );
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(2);
  },
);
