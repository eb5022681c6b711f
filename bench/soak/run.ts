// Soak test of the service: two `oa-builder serve` replicas take a stream of build requests (new builds,
// repeats whose image exists, config-only runs, failing ones) while faults strike at moments drawn from a
// seed: a replica killed with SIGKILL and started again, a broker restart (a private RabbitMQ node, never the
// shared one), the registry answering 5xx, the git server down, the Manager slow and failing, the second of
// the two build engines stopped and started again (`scripts/test-env.sh engine`); and the delivery faults of
// faults-delivery.ts (a poison request, a kill switch mid-build, an unwritable work directory, finishes slower
// than the reporter's budget). At the end, every request is accounted for from the orchestrator's replies, the
// replicas' work directories are counted after a graceful stop, and everything they published, saved or
// printed is scanned for secrets.
// Run from the repository root: npm run bench:soak [-- --short] [-- --seed N] [-- --workflows N]
// (full: 240 workflows, 14 faults, some 7 minutes; --short: 56 workflows, 6 faults, some 2-3 minutes).
// Goals: no workflow lost or left running, duplicates only where idempotent, no secret anywhere, no work
// directory left, no build failed for the stopped engine unless a step had begun there (the engine fault's line
// splits its failures so), the poison request dead-lettered and answered once, the slow finishes answered once and
// never run again after their reply, no workflow built twice at once, no build container or dangling image left on
// the engines. Exit status 1 when a goal is missed, 2 when the run could not be made, 3 when it overran its
// watchdog. The seed is printed first; --seed replays the same plan (timing still varies).
// --keep-logs keeps the replicas' output (it is kept anyway when a goal is missed).
import { randomBytes, randomInt } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { STEP_BEGINS } from '../../src/docker/create-image';
import { decode, type Term } from '../../src/etf';
import { imageName } from '../../src/registry';
import { settings } from '../../src/config';
import { startFakeManager, type FakeManager } from '../../test/fakes/manager';
import { dockerModem } from '../../test/harness/docker';
import { testEnv, type TestEnv } from '../../test/harness/env';
import { freeLoopbackPort } from '../../test/harness/ports';
import { startPrivateBroker, type PrivateBroker } from '../../test/integration/amqp/private-broker';
import { BrokerAdmin } from '../../test/integration/amqp/topology';
import {
  EXCHANGE_ID,
  managerSeed,
  provisionTopology,
  serviceEnv,
  serviceRequest,
  type ServiceTopology,
} from '../../test/integration/service/helpers';
import {
  DEPLOYMENT_EXAMPLE,
  filesOf,
  gitIn,
  removeSeededRepos,
  seedRepos,
  type RequestJson,
  type SeededRepos,
} from '../../test/integration/workflow/helpers';
import {
  engineFaultShare,
  faultShares,
  idOf,
  imageWasPushed,
  overlappedKinds,
  median,
  percentile,
  reasonClass,
  scanForSecrets,
  summarise,
  type Needle,
  type PairRun,
  type ReplySummary,
  type ScanSource,
} from './analyse';
import {
  DeliveryFaults,
  SOAK_FINISH_TIMEOUT_SECONDS,
  SOAK_HTTP_TIMEOUT_SECONDS,
  withSlowFinishExchanges,
} from './faults-delivery';
import { Orchestrator } from './orchestrator';
import { KINDS, makePlan, type Kind, type Plan, type PlannedFault, type PlannedWorkflow } from './plan';
import { linkRepositoryFiles, mapLimit } from '../harness';

/** The kinds of workflow that should succeed whatever fault strikes them. */
const GOOD_KINDS: readonly Kind[] = ['build', 'exists', 'config'];
import { prng } from './prng';
import { startFaultyProxy, type FaultyProxy } from './proxy';
import { Replica } from './replica';
import { inspectUnanswered, unansweredLines } from './unanswered';
import { engineDown, engineUp } from '../../test/harness/engines';

// Run-wide state, read by the callbacks of the replicas and by the teardown.
/** Replica exits nobody asked for, for the report. */
const unexpectedExits: string[] = [];
/** Set once the replicas are being stopped on purpose: an exit is then no crash to restart from. */
let stopping = false;
/** Set when a goal is missed (or by --keep-logs): the replicas' output is kept for the post-mortem. */
let keepLogs = false;

// --- options -----------------------------------------------------------------------------------------------

interface Profile {
  readonly name: 'short' | 'full';
  readonly workflows: number;
  /** Mean gap between two published requests. */
  readonly intervalMs: number;
  readonly faults: number;
  /** How long after the last publish every request may take to be answered. */
  readonly settleMs: number;
  /** Waited after the last first reply, for late duplicates. */
  readonly quietMs: number;
  /** The whole run, set-up and teardown included; then everything is stopped and the run fails. */
  readonly watchdogMs: number;
}

const PROFILES: Record<Profile['name'], Profile> = {
  short: {
    name: 'short',
    workflows: 56,
    intervalMs: 1_400,
    faults: 6,
    settleMs: 240_000,
    quietMs: 10_000,
    watchdogMs: 15 * 60_000,
  },
  full: {
    name: 'full',
    workflows: 240,
    intervalMs: 1_400,
    faults: 14,
    settleMs: 300_000,
    quietMs: 15_000,
    watchdogMs: 50 * 60_000,
  },
};

const USAGE = 'usage: npm run bench:soak [-- --short] [-- --seed N] [-- --workflows N] [-- --keep-logs]';

class UsageError extends Error {}

function parseArgs(argv: readonly string[]): { profile: Profile; seed: number } {
  let profile = PROFILES.full;
  let seed: number | undefined;
  let workflows: number | undefined;
  const args = [...argv];
  const value = (flag: string, inline: string | undefined): number => {
    const text = inline ?? args.shift();
    const n = Number(text);
    if (text === undefined || !Number.isInteger(n) || n <= 0)
      throw new UsageError(`${flag} needs a positive integer`);
    return n;
  };
  while (args.length > 0) {
    const arg = args.shift() as string;
    const [flag, inline] = arg.includes('=')
      ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
      : [arg, undefined];
    if (flag === '--short') profile = PROFILES.short;
    else if (flag === '--seed') seed = value(flag, inline) >>> 0;
    else if (flag === '--workflows') workflows = value(flag, inline);
    else if (flag === '--keep-logs') keepLogs = true;
    else if (flag === '--help' || flag === '-h') throw new UsageError('');
    else throw new UsageError(`unknown argument ${JSON.stringify(arg)}`);
  }
  if (workflows !== undefined) profile = { ...profile, workflows };
  return { profile, seed: seed ?? randomInt(1, 2 ** 31 - 1) };
}

// --- small helpers -----------------------------------------------------------------------------------------

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const seconds = (ms: number): string => (Number.isFinite(ms) ? (ms / 1000).toFixed(1) : '-');

let clockStart = Date.now();
function say(text: string): void {
  process.stdout.write(`[${seconds(Date.now() - clockStart).padStart(6)}s] ${text}\n`);
}

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

// --- the run -----------------------------------------------------------------------------------------------

interface Sent {
  readonly planned: PlannedWorkflow;
  readonly request: RequestJson;
  readonly sentAt: number;
}

interface FaultRecord {
  readonly fault: PlannedFault;
  readonly startedAt: number;
  endedAt: number;
  note: string;
  failure?: string;
}

interface Outcome {
  readonly id: string;
  readonly sent: Sent;
  readonly replies: {
    readonly fields: Record<string, Term>;
    readonly at: number;
    readonly summary: ReplySummary;
  }[];
}

/** Everything the run starts, stopped in reverse order whatever happens. */
class Teardown {
  private readonly steps: { what: string; run: () => Promise<unknown> }[] = [];
  private done: Promise<string[]> | undefined;

  add(what: string, run: () => Promise<unknown>): void {
    this.steps.push({ what, run });
  }

  /** Runs every step once (later calls share the first), each bounded; returns the problems met. */
  run(stepTimeoutMs = 90_000): Promise<string[]> {
    this.done ??= (async () => {
      const problems: string[] = [];
      for (const step of this.steps.reverse()) {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`timed out after ${stepTimeoutMs} ms`)), stepTimeoutMs);
        });
        try {
          await Promise.race([step.run(), timeout]);
        } catch (err) {
          problems.push(`cleanup: ${step.what}: ${(err as Error).message}`);
        } finally {
          clearTimeout(timer);
        }
      }
      return problems;
    })();
    return this.done;
  }
}

interface Rig {
  readonly env: TestEnv;
  readonly repoRoot: string;
  readonly scratch: string;
  readonly broker: PrivateBroker;
  readonly topology: ServiceTopology;
  readonly manager: FakeManager;
  readonly registry: FaultyProxy;
  readonly git: FaultyProxy;
  readonly orchestrator: Orchestrator;
  readonly replicas: Replica[];
  readonly needles: Needle[];
  readonly pairs: SeededRepos[];
  readonly graceMs: number;
  /** The second build engine, beside the test environment's, which the `engine` fault stops and starts. */
  readonly engine: string;
}

/** The name of the second engine for `scripts/test-env.sh engine`. */
const SOAK_ENGINE = 'soak1';

const READY_TIMEOUT_MS = 120_000;
const SHUTDOWN_GRACE_SECONDS = 60;
const MAX_CRASH_RESTARTS = 3;
const FAULT_WAIT_FOR_WORK_MS = 10_000;

async function main(argv: readonly string[]): Promise<number> {
  const { profile, seed } = parseArgs(argv);
  clockStart = Date.now();
  const rand = prng(seed);
  const workflowsFlag =
    profile.workflows === PROFILES[profile.name].workflows ? '' : ` --workflows ${profile.workflows}`;
  const replay = `npm run bench:soak --${profile.name === 'short' ? ' --short' : ''} --seed ${seed}${workflowsFlag}`;
  say(`soak (${profile.name}): seed ${seed}; replay with: ${replay}`);
  const plan = makePlan(rand, {
    workflows: profile.workflows,
    intervalMs: profile.intervalMs,
    faults: profile.faults,
    replicas: 2,
  });
  const mix = KINDS.map((k) => `${k} ${plan.workflows.filter((w) => w.kind === k).length}`).join(', ');
  say(
    `plan: ${plan.workflows.length} workflows over ${seconds(plan.windowMs)} s (${mix}); ${plan.faults.length} faults: ${plan.faults.map((f) => f.type).join(', ')}`,
  );

  const repoRoot = linkRepositoryFiles();
  const env = testEnv();
  const problems: string[] = [];
  if (!fs.existsSync(path.join(repoRoot, 'dist', 'src', 'cli', 'main.js')))
    problems.push('the builder is not compiled (npm run build)');
  if (!(await answers(`${env.registry.url}/v2/`)))
    problems.push(`the registry does not answer at ${env.registry.url}`);
  if (!(await answers(`${env.git.url}/_health`)))
    problems.push(`the git server does not answer at ${env.git.url}`);
  if (!fs.existsSync(env.dockerSocket)) problems.push(`no docker socket at ${env.dockerSocket}`);
  if (problems.length > 0) {
    for (const p of problems) say(`setup: ${p}`);
    say('setup: bring the test services up with `bash scripts/test-env.sh up`');
    return 2;
  }

  const teardown = new Teardown();
  const watchdog = setTimeout(() => {
    say(`WATCHDOG: the run took longer than ${seconds(profile.watchdogMs)} s; stopping everything`);
    void teardown.run(20_000).finally(() => process.exit(3));
  }, profile.watchdogMs);
  watchdog.unref();
  const interrupted = (signal: string) => () => {
    say(`${signal}: stopping everything`);
    void teardown.run(20_000).finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted('SIGINT'));
  process.once('SIGTERM', interrupted('SIGTERM'));

  try {
    const rig = await setUp(env, repoRoot, plan, teardown);
    return await soak(rig, plan, profile, seed, replay);
  } catch (err) {
    keepLogs = true;
    throw err;
  } finally {
    const cleanupProblems = await teardown.run();
    for (const p of cleanupProblems) say(p);
    clearTimeout(watchdog);
  }
}

async function setUp(env: TestEnv, repoRoot: string, plan: Plan, teardown: Teardown): Promise<Rig> {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'oa-soak-'));
  teardown.add('scratch directory', async () => {
    if (!keepLogs) return fs.promises.rm(scratch, { recursive: true, force: true });
    // Work directories go either way; the output files stay for whoever reads the failure.
    for (const entry of await fs.promises.readdir(scratch))
      if (entry !== 'logs') await fs.promises.rm(path.join(scratch, entry), { recursive: true, force: true });
    say(`replica output kept in ${path.join(scratch, 'logs')}`);
  });
  teardown.add('seeded repositories', () => removeSeededRepos());

  say('starting a private RabbitMQ node');
  const broker = await startPrivateBroker();
  teardown.add('private broker', () => broker.dispose());
  // Provisioned as ops would; the node and all it holds go away with the broker at the end.
  const admin = await BrokerAdmin.open(broker.url);
  const topology = await provisionTopology(admin);

  const registry = await startFaultyProxy(env.registry.url);
  teardown.add('registry proxy', () => registry.close());
  const git = await startFaultyProxy(env.git.url);
  teardown.add('git proxy', () => git.close());

  // Distinct per run and unlike anything else, so a hit in the scan can only be a leak.
  const needle = (label: string): string => `SoakNeedle${label}${randomBytes(12).toString('hex')}`;
  const needles: Needle[] = [
    { name: 'OAUTH_CLIENT_SECRET', value: needle('OauthSecret') },
    { name: 'DOCKER_REGISTRY_PASSWORD', value: needle('RegistryPassword') },
    { name: 'GITHUB_OAUTH_TOKEN', value: needle('GithubToken') },
  ];
  const secret = (name: string): string => needles.find((n) => n.name === name)?.value ?? '';
  const manager = await startFakeManager({
    ...withSlowFinishExchanges(managerSeed(topology, broker.url), EXCHANGE_ID),
    clientSecret: secret('OAUTH_CLIENT_SECRET'),
  });
  teardown.add('fake Manager', () => manager.close());

  const orchestrator = new Orchestrator({
    url: broker.url,
    rig: { topology, manager },
    queues: {
      replies: topology.queues.workflow_orchestration,
      notifications: topology.queues.notifications_hipchat,
      buildLogs: topology.queues.build_logs,
      heartbeats: topology.queues.system_modules,
      deadLetters: topology.deadLetterQueue,
    },
  });
  await orchestrator.connect();
  teardown.add('orchestrator connection', () => orchestrator.stop());

  say(`seeding ${plan.pairs.length} deployment/source repository pairs`);
  const example = filesOf(DEPLOYMENT_EXAMPLE);
  const dockerfile = example['Dockerfile.eex'] ?? '';
  if (!dockerfile.includes('RUN ')) throw new Error('the example Dockerfile.eex has no RUN step');
  // Without the render timestamp every render of one source commit is identical, so a rerun commits
  // nothing and the deployment history shows whether a rerun did more than it should.
  const timelessInstall = (example['install.sh.eex'] ?? '').replace(/^.*timestamp.*\n/m, '');
  const pairs = await mapLimit(plan.pairs, 4, (spec) =>
    seedRepos({
      'install.sh.eex': timelessInstall,
      // A RUN step of a few seconds keeps builds in flight long enough for the faults to meet some.
      'Dockerfile.eex': spec.failingDockerfile
        ? 'FROM busybox:latest\nRUN echo "this build is meant to fail" && exit 3\n'
        : dockerfile.replace('RUN ', `RUN sleep ${2 + (spec.index % 5)}\nRUN `),
    }),
  );

  say(`starting a second build engine (${SOAK_ENGINE})`);
  teardown.add('second build engine', () => engineDown(SOAK_ENGINE));
  const engine = await engineUp(SOAK_ENGINE);

  const logDir = path.join(scratch, 'logs');
  fs.mkdirSync(logDir);
  const graceMs = SHUTDOWN_GRACE_SECONDS * 1000;
  const crashes = new Map<string, number>();
  const replicas: Replica[] = [];
  for (const name of ['a', 'b']) {
    const workRoot = path.join(scratch, `work-${name}`);
    fs.mkdirSync(workRoot);
    const healthListen = `127.0.0.1:${await freeLoopbackPort()}`;
    const hostname = `soak-${name}-${process.pid}`;
    const replicaEnv = serviceEnv({ manager, topology, workRoot }, hostname);
    const overrides: Record<string, string> = {
      GIT_BASE_URL: `${git.url}/`,
      DOCKER_REGISTRY_URL: registry.url,
      // A farm of two, probed every second, so the engine fault meets builds waiting, moving and running.
      BUILD_HOSTS: `${env.dockerHost},${engine}`,
      BUILD_HOST_PROBE_SECONDS: '1',
      DOCKER_REGISTRY_USERNAME: 'soak-pusher',
      DOCKER_REGISTRY_PASSWORD: secret('DOCKER_REGISTRY_PASSWORD'),
      GITHUB_OAUTH_TOKEN: secret('GITHUB_OAUTH_TOKEN'),
      BUILDER_CONCURRENCY: '2',
      HEALTH_LISTEN: healthListen,
      HEARTBEAT_SECONDS: '5',
      SHUTDOWN_GRACE_SECONDS: String(SHUTDOWN_GRACE_SECONDS),
      WORKFLOW_TIMEOUT_SECONDS: '300',
      STEP_TIMEOUT_SECONDS: '240',
      GIT_TIMEOUT_SECONDS: '30',
      BUILD_TIMEOUT_SECONDS: '120',
      PUSH_TIMEOUT_SECONDS: '60',
      HTTP_TIMEOUT_SECONDS: String(SOAK_HTTP_TIMEOUT_SECONDS),
      FINISH_TIMEOUT_SECONDS: String(SOAK_FINISH_TIMEOUT_SECONDS),
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'info',
    };
    const replica = new Replica({
      name,
      bin: path.join(repoRoot, 'bin', 'oa-builder.js'),
      // Only what the process needs from ours: a proxy setting would take its loopback traffic elsewhere.
      env: {
        ...(process.env.PATH === undefined ? {} : { PATH: process.env.PATH }),
        HOME: process.env.HOME ?? scratch,
        ...replicaEnv,
        ...overrides,
      },
      healthListen,
      workRoot,
      logDir,
      onUnexpectedExit: (r, code, signal) => {
        const count = (crashes.get(r.name) ?? 0) + 1;
        crashes.set(r.name, count);
        unexpectedExits.push(`replica ${r.name} exited by itself (code ${code}, signal ${signal})`);
        say(`replica ${r.name} EXITED BY ITSELF (code ${code}, signal ${signal})`);
        if (count <= MAX_CRASH_RESTARTS && !stopping)
          void r
            .start(READY_TIMEOUT_MS)
            .catch((err: unknown) => say(`replica ${r.name} restart failed: ${(err as Error).message}`));
      },
    });
    replicas.push(replica);
    teardown.add(`replica ${name}`, async () => {
      stopping = true;
      await replica.stop(graceMs);
    });
  }
  say('starting replicas a and b');
  await Promise.all(replicas.map((r) => r.start(READY_TIMEOUT_MS)));
  return {
    env,
    repoRoot,
    scratch,
    broker,
    topology,
    manager,
    registry,
    git,
    orchestrator,
    replicas,
    needles,
    pairs,
    graceMs,
    engine,
  };
}

function requestFor(rig: Rig, w: PlannedWorkflow): RequestJson {
  const pair = rig.pairs[w.pair] as SeededRepos;
  switch (w.kind) {
    case 'build':
    case 'exists':
    case 'bad-dockerfile':
      return serviceRequest(pair);
    case 'config':
      return serviceRequest(pair, { current_step: 'config' });
    case 'bad-ref':
      return serviceRequest(pair, { deployment_repo_git_ref: 'soak-no-such-ref' });
  }
}

async function soak(rig: Rig, plan: Plan, profile: Profile, seed: number, replay: string): Promise<number> {
  const { orchestrator, replicas } = rig;
  const sent = new Map<string, Sent>();
  const publishFailures: string[] = [];
  const replyIds = (): Set<string> => {
    const ids = new Set<string>();
    for (const m of orchestrator.messages('replies')) {
      const id = idOf(m);
      if (id !== undefined) ids.add(id);
    }
    return ids;
  };
  const inFlight = (): string[] => {
    const replied = replyIds();
    return [...sent.keys()].filter((id) => !replied.has(id));
  };

  const delivery = new DeliveryFaults({
    orchestrator,
    replicas,
    manager: rig.manager,
    engines: [rig.env.dockerHost, rig.engine],
    maxDeliveries: settings.maxDeliveries.default,
    readyTimeoutMs: READY_TIMEOUT_MS,
    say,
  });
  await delivery.begin();
  const streamStart = Date.now();
  say(
    `stream starts: ${plan.workflows.length} requests, one every ${seconds(profile.intervalMs)} s on average`,
  );

  const publishing = (async () => {
    for (const w of plan.workflows) {
      const wait = streamStart + w.atMs - Date.now();
      if (wait > 0) await sleep(wait);
      const request = requestFor(rig, w);
      try {
        await orchestrator.publish(request, 120_000);
        sent.set(request.id, { planned: w, request, sentAt: Date.now() });
      } catch (err) {
        publishFailures.push(`request ${w.index} (${w.kind}): ${(err as Error).message}`);
        say(`publish of request ${w.index} not confirmed: ${(err as Error).message}`);
      }
      if ((w.index + 1) % 20 === 0)
        say(`published ${w.index + 1}/${plan.workflows.length}; ${inFlight().length} without a reply yet`);
    }
  })();

  const faultLog: FaultRecord[] = [];
  const killLeftovers = new Map<string, string[]>();
  const faulting = (async () => {
    for (const fault of plan.faults) {
      const wait = streamStart + fault.atMs - Date.now();
      if (wait > 0) await sleep(wait);
      // A kill or a broker restart with nothing in flight tests little; it waits a bounded while for work.
      if (fault.type === 'kill' || fault.type === 'broker' || fault.type === 'engine') {
        const until = Date.now() + FAULT_WAIT_FOR_WORK_MS;
        while (inFlight().length < 2 && Date.now() < until) await sleep(200);
      }
      const record: FaultRecord = { fault, startedAt: Date.now(), endedAt: 0, note: '' };
      faultLog.push(record);
      const hit = inFlight().length;
      try {
        record.note = `${hit} workflow(s) in flight at the start; ${await inject(rig, fault, inFlight, killLeftovers)}`;
      } catch (err) {
        record.failure = (err as Error).message;
        say(`fault ${fault.type} went wrong: ${record.failure}`);
      }
      record.endedAt = Date.now();
    }
  })();

  await Promise.all([publishing, faulting, delivery.run(plan.windowMs)]);
  // Every fault is over by construction; a replica that could not come back is given one more chance.
  for (const r of replicas) {
    if (!r.running) {
      say(`replica ${r.name} is down after the faults; starting it`);
      await r
        .start(READY_TIMEOUT_MS)
        .catch((err: unknown) =>
          unexpectedExits.push(`replica ${r.name} could not be restarted: ${(err as Error).message}`),
        );
    }
  }

  const streamEnd = Date.now();
  say(`stream over (${sent.size} sent); settling for up to ${seconds(profile.settleMs)} s`);
  const settleDeadline = streamEnd + profile.settleMs;
  let lastProgress = Date.now();
  while (Date.now() < settleDeadline && inFlight().length > 0) {
    await sleep(1_000);
    if (Date.now() - lastProgress >= 20_000) {
      lastProgress = Date.now();
      say(`settling: ${inFlight().length} without a reply`);
    }
  }
  const settledAt = Date.now();
  const unanswered = inFlight();
  say(
    unanswered.length === 0
      ? 'every request has a reply'
      : `settle time over: ${unanswered.length} without a reply`,
  );
  await sleep(profile.quietMs);
  // Before the stop, which returns what the replicas hold and drops their leases: where each unanswered
  // request stands, for the report.
  const postMortem = await inspectUnanswered(
    rig.broker.url,
    rig.topology.builderQueue,
    inFlight(),
    replicas.map((r) => ({ name: r.name, file: r.stderrFile })),
  );

  // Stopping: what a replica still held goes back to the queue, where it is counted below.
  say('stopping replicas gracefully (SIGTERM)');
  stopping = true;
  const stopStart = Date.now();
  await Promise.all(replicas.map((r) => r.stop(rig.graceMs)));
  const stopMs = Date.now() - stopStart;
  const tempDirs = replicas.map((r) => ({ name: r.name, entries: r.workDirEntries() }));

  const leftInQueue = await orchestrator.drain(rig.topology.builderQueue, 10_000);
  const queued = new Map<string, number>();
  for (const m of leftInQueue) {
    const id = idOf({ term: tryDecode(m.content) });
    if (id !== undefined) queued.set(id, (queued.get(id) ?? 0) + 1);
  }
  await sleep(1_000);

  const images = await localImagesOf(rig, sent);
  const commits = await deploymentCommits(rig, sent);
  const scan = await secretScan(rig, orchestrator);
  const deliveryFigures = await delivery.figures([...sent.keys()]);

  return report({
    rig,
    plan,
    profile,
    seed,
    replay,
    sent,
    publishFailures,
    faultLog,
    killLeftovers,
    tempDirs,
    queued,
    postMortem,
    images,
    commits,
    scan,
    delivery,
    deliveryFigures,
    stopMs,
    streamStart,
    streamEnd,
    settledAt,
  });
}

function tryDecode(content: Buffer): Term | undefined {
  try {
    return decode(content);
  } catch {
    return undefined;
  }
}

async function inject(
  rig: Rig,
  fault: PlannedFault,
  inFlight: () => string[],
  killLeftovers: Map<string, string[]>,
): Promise<string> {
  switch (fault.type) {
    case 'kill': {
      const replica = rig.replicas[fault.replica] as Replica;
      if (!replica.running) return `replica ${replica.name} was not running`;
      say(
        `FAULT kill -9 replica ${replica.name} (pid ${replica.pid}); down for ${seconds(fault.durationMs)} s`,
      );
      await replica.kill9();
      const left = replica.workDirEntries();
      killLeftovers.set(replica.name, [...(killLeftovers.get(replica.name) ?? []), ...left]);
      await sleep(fault.durationMs);
      const t = Date.now();
      await replica.start(READY_TIMEOUT_MS);
      const remaining = left.filter((e) => replica.workDirEntries().includes(e));
      say(`replica ${replica.name} ready again after ${seconds(Date.now() - t)} s`);
      return `replica ${replica.name}: ${left.length} work dir(s) left by the kill, ${left.length - remaining.length} removed at its restart`;
    }
    case 'engine': {
      say(`FAULT build engine ${SOAK_ENGINE} stopped for ${seconds(fault.durationMs)} s`);
      await engineDown(SOAK_ENGINE);
      await sleep(fault.durationMs);
      const t = Date.now();
      await engineUp(SOAK_ENGINE);
      say(`build engine ${SOAK_ENGINE} back after ${seconds(Date.now() - t)} s`);
      return `engine ${rig.engine} down for ${seconds(fault.durationMs)} s`;
    }
    case 'broker': {
      say('FAULT RabbitMQ restart (private node)');
      const t = Date.now();
      await rig.orchestrator.pause();
      try {
        await rig.broker.restart();
        await rig.orchestrator.connected(60_000);
      } finally {
        rig.orchestrator.unpause();
      }
      say(`broker back after ${seconds(Date.now() - t)} s`);
      return `down ${seconds(Date.now() - t)} s`;
    }
    case 'registry':
    case 'git': {
      const proxy = fault.type === 'registry' ? rig.registry : rig.git;
      const kind = fault.variant === 'refuse' ? 'refuse' : 'status';
      say(
        `FAULT ${fault.type} ${kind === 'refuse' ? 'refusing connections' : `answering ${fault.variant}`} for ${seconds(fault.durationMs)} s`,
      );
      const before = proxy.counts.faulted;
      proxy.setFault(kind === 'refuse' ? { kind } : { kind, status: Number(fault.variant) });
      await sleep(fault.durationMs);
      proxy.setFault({ kind: 'none' });
      say(`${fault.type} back`);
      return `${fault.variant} for ${seconds(fault.durationMs)} s, ${proxy.counts.faulted - before} request(s) or connection(s) failed`;
    }
    case 'manager': {
      say(`FAULT Manager slow and failing for ${seconds(fault.durationMs)} s (tokens revoked)`);
      const { manager } = rig;
      const end = Date.now() + fault.durationMs;
      let injected = 0;
      manager.revokeTokens();
      manager.failNext('/oauth/token', 503, 2);
      // Per-path knobs: the workflows in flight get their saves and kill-switch reads delayed or refused.
      let tick = 0;
      while (Date.now() < end) {
        const ids = inFlight().slice(-4);
        for (const [i, id] of ids.entries()) {
          const at = `/workflows/${id}`;
          if ((tick + i) % 3 === 0) manager.failNext(at, 'reset', 1);
          else if ((tick + i) % 3 === 1) manager.failNext(at, 503, 1);
          else manager.delayNext(at, 4_000, 1);
          injected++;
        }
        manager.delayNext('/messaging/exchanges/1', 3_000, 1);
        manager.failNext('/system_components', 500, 1);
        injected += 2;
        tick++;
        await sleep(1_000);
      }
      say('Manager back');
      return `${injected} delays/failures queued on workflow, exchange and component paths; tokens revoked, 2 logins refused`;
    }
  }
}

/** The local images still tagged with a name the sent workflows build (each pair's is unique), removed here. */
async function localImagesOf(
  rig: Rig,
  sent: Map<string, Sent>,
): Promise<{ count: number; removed: number; problems: string[] }> {
  const names = new Set(
    [...sent.values()].map(
      (s) => imageName((rig.pairs[s.planned.pair] as SeededRepos).dockerUrl, rig.registry.url).name,
    ),
  );
  const modem = dockerModem();
  const dial = (options: Parameters<typeof modem.dial>[0]): Promise<unknown> =>
    new Promise((resolve, reject) =>
      modem.dial(options, (err, result) => (err ? reject(err) : resolve(result))),
    );
  const listed = (await dial({
    path: '/images/json?',
    method: 'GET',
    options: {},
    statusCodes: { 200: true, 500: 'server error' },
  })) as { Id: string; RepoTags?: string[] | null }[];
  const mine = listed.filter((image) =>
    (image.RepoTags ?? []).some((tag) => names.has(tag.slice(0, tag.lastIndexOf(':')))),
  );
  const problems: string[] = [];
  let removed = 0;
  for (const image of mine) {
    try {
      await dial({
        path: `/images/${image.Id}?`,
        method: 'DELETE',
        options: { force: true },
        statusCodes: { 200: true, 404: true, 409: 'in use', 500: 'server error' },
      });
      removed++;
    } catch (err) {
      problems.push(`${image.Id}: ${(err as Error).message}`);
    }
  }
  return { count: mine.length, removed, problems };
}

/** Commits on each deployment branch that a workflow ran against: the seed plus at most one render. */
async function deploymentCommits(rig: Rig, sent: Map<string, Sent>): Promise<Map<number, number>> {
  const used = new Set([...sent.values()].map((s) => s.planned.pair));
  const counts = new Map<number, number>();
  await mapLimit([...used], 4, async (index) => {
    const pair = rig.pairs[index] as SeededRepos;
    counts.set(
      index,
      Number(await gitIn(pair.deployment.dir, ['rev-list', '--count', pair.deployment.branch])),
    );
  });
  return counts;
}

/** What the replicas log about a delivery's life: enough to tell why a request ran twice. */
const INTAKE_MESSAGES = new Set([
  'redelivered request: it may have run before; every step is idempotent',
  'the broker redelivered a message whose workflow still runs here; holding the copy',
  'reply sent to the orchestrator',
  'delivery acked',
  'no reply went out; delivery returned to the queue',
  'delivery returned to the queue',
]);

interface ScanResult {
  readonly hits: ReturnType<typeof scanForSecrets>;
  readonly needles: number;
  readonly messages: number;
  readonly managerBodies: number;
  readonly outputBytes: number;
  /** Why the scan cannot be trusted, when it missed secrets planted where they belong. */
  readonly selfCheck: string | undefined;
  /** Warning and error lines of the replicas, by level and message. */
  readonly logCounts: Map<string, number>;
  /**
   * Per workflow run, ms from the reply going out to its delivery being acked, from the replicas' logs: a
   * replica that dies in this window makes the broker hand the request out again, hence a duplicate reply.
   */
  readonly replyToAckMs: number[];
  /** Per workflow id, what the intakes logged about its deliveries. */
  readonly intakeEvents: Map<string, { at: number; text: string }[]>;
}

async function secretScan(rig: Rig, orchestrator: Orchestrator): Promise<ScanResult> {
  const { manager } = rig;
  // Access tokens the fake issued, read back from the requests that carried them.
  const tokens = new Set<string>();
  for (const r of manager.state.requests) {
    const match = /access_token=(\S+)/.exec(String(r.headers.authorization ?? ''));
    if (match?.[1]) tokens.add(match[1]);
  }
  const needles: Needle[] = [
    ...rig.needles,
    ...[...tokens].map((value) => ({ name: 'OAuth access token', value })),
  ];
  const sources: ScanSource[] = [];
  let messages = 0;
  for (const [label, what] of [
    ['replies', 'orchestrator reply'],
    ['notifications', 'notification'],
    ['buildLogs', 'build log'],
    ['heartbeats', 'heartbeat'],
    ['deadLetters', 'dead-letter message'],
  ] as const) {
    for (const m of orchestrator.messages(label)) {
      messages++;
      sources.push({ label: what, data: m.content });
      const headers = JSON.stringify(m.headers);
      if (headers !== '{}') sources.push({ label: `${what} headers`, data: Buffer.from(headers) });
    }
  }
  // Logins carry the client secret by design; everything else the Manager received must not.
  for (const r of manager.state.requests) {
    if (r.body !== undefined)
      sources.push({ label: `Manager ${r.method} body`, data: Buffer.from(JSON.stringify(r.body)) });
    if (r.rawQuery !== '') sources.push({ label: 'Manager query', data: Buffer.from(r.rawQuery) });
    const { authorization: _carriesTheToken, ...headers } = r.headers;
    sources.push({ label: 'Manager request headers', data: Buffer.from(JSON.stringify(headers)) });
  }
  // The scan must find what is where it belongs: the client secret in the logins, and a password inside
  // a Basic auth header.
  const logins = manager.state.logins.map((r) => ({
    label: 'login',
    data: Buffer.from(JSON.stringify(r.body)),
  }));
  const password = rig.needles.find((n) => n.name === 'DOCKER_REGISTRY_PASSWORD')?.value ?? '';
  const basic = `Authorization: Basic ${Buffer.from(`soak-pusher:${password}`).toString('base64')}`;
  const controls = [
    scanForSecrets(rig.needles, logins).some((h) => h.needle === 'OAUTH_CLIENT_SECRET'),
    scanForSecrets(rig.needles, [{ label: 'control', data: Buffer.from(basic) }]).length === 1,
  ];
  const selfCheck = controls.every(Boolean)
    ? undefined
    : 'the scan did not find the secrets planted as controls (client secret in the logins, a Basic auth header)';
  let outputBytes = 0;
  const logCounts = new Map<string, number>();
  const replyToAckMs: number[] = [];
  const intakeEvents = new Map<string, { at: number; text: string }[]>();
  for (const replica of rig.replicas) {
    for (const file of [replica.stdoutFile, replica.stderrFile]) {
      const data = await fs.promises.readFile(file).catch(() => Buffer.alloc(0));
      outputBytes += data.length;
      sources.push({ label: `replica ${replica.name} ${path.extname(file).slice(1)}`, data });
      const repliedAt = new Map<string, number>();
      for (const line of data.toString('utf8').split('\n')) {
        if (line.trim() === '') continue;
        let parsed: { level?: unknown; message?: unknown; workflow_id?: unknown; timestamp?: unknown };
        try {
          parsed = JSON.parse(line) as typeof parsed;
        } catch {
          const key = `not JSON: ${line.slice(0, 120)}`;
          logCounts.set(key, (logCounts.get(key) ?? 0) + 1);
          continue;
        }
        const id = typeof parsed.workflow_id === 'string' ? parsed.workflow_id : undefined;
        const at = typeof parsed.timestamp === 'string' ? Date.parse(parsed.timestamp) : NaN;
        if (id !== undefined && typeof parsed.message === 'string' && INTAKE_MESSAGES.has(parsed.message)) {
          const outcome = (parsed as { outcome?: unknown }).outcome;
          const text = `${replica.name}: ${parsed.message}${typeof outcome === 'string' ? ` (${outcome})` : ''}`;
          intakeEvents.set(id, [...(intakeEvents.get(id) ?? []), { at, text }]);
        }
        if (id !== undefined && parsed.message === 'reply sent to the orchestrator') repliedAt.set(id, at);
        if (id !== undefined && parsed.message === 'delivery acked' && repliedAt.has(id)) {
          replyToAckMs.push(at - (repliedAt.get(id) as number));
          repliedAt.delete(id);
        }
        if (parsed.level !== 'warn' && parsed.level !== 'error') continue;
        const key = `${String(parsed.level)}: ${String(parsed.message)}`;
        logCounts.set(key, (logCounts.get(key) ?? 0) + 1);
      }
    }
  }
  return {
    hits: scanForSecrets(needles, sources),
    needles: needles.length,
    messages,
    managerBodies: manager.state.requests.length,
    outputBytes,
    selfCheck,
    logCounts,
    replyToAckMs,
    intakeEvents,
  };
}

// --- the report --------------------------------------------------------------------------------------------

interface ReportInput {
  readonly rig: Rig;
  readonly plan: Plan;
  readonly profile: Profile;
  readonly seed: number;
  readonly replay: string;
  readonly sent: Map<string, Sent>;
  readonly publishFailures: string[];
  readonly faultLog: FaultRecord[];
  readonly killLeftovers: Map<string, string[]>;
  readonly tempDirs: { name: string; entries: string[] }[];
  readonly queued: Map<string, number>;
  /** Where each request without a reply stood before the stop. */
  readonly postMortem: Awaited<ReturnType<typeof inspectUnanswered>>;
  readonly images: { count: number; removed: number; problems: string[] };
  readonly commits: Map<number, number>;
  readonly scan: ScanResult;
  readonly delivery: DeliveryFaults;
  readonly deliveryFigures: { lines: string[]; missed: string[] };
  readonly stopMs: number;
  readonly streamStart: number;
  readonly streamEnd: number;
  readonly settledAt: number;
}

function report(input: ReportInput): number {
  const { rig, sent, orchestrator } = { ...input, orchestrator: input.rig.orchestrator };
  const byId = new Map<string, Outcome>();
  for (const [id, s] of sent) byId.set(id, { id, sent: s, replies: [] });
  let strayReplies = 0;
  for (const m of orchestrator.messages('replies')) {
    const id = idOf(m);
    const outcome = id === undefined ? undefined : byId.get(id);
    if (!outcome || !m.fields) {
      if (id === undefined || !input.delivery.owns(id)) strayReplies++;
      continue;
    }
    outcome.replies.push({
      fields: m.fields,
      at: orchestrator.arrivedAt(m) ?? Date.now(),
      summary: summarise(m.fields, outcome.id),
    });
  }
  const deadLettered = new Map<string, string>();
  for (const m of orchestrator.messages('deadLetters')) {
    const id = idOf(m);
    const reason = m.headers['x-oa-reject-reason'];
    if (id !== undefined)
      deadLettered.set(
        id,
        typeof reason === 'string' ? reason : JSON.stringify(reason ?? 'no reason header'),
      );
  }

  const outcomes = [...byId.values()];
  const once = outcomes.filter((o) => o.replies.length === 1);
  const more = outcomes.filter((o) => o.replies.length > 1);
  const none = outcomes.filter((o) => o.replies.length === 0);
  const leftRunning = none.filter((o) => input.queued.has(o.id));
  const lost = none.filter((o) => !input.queued.has(o.id));

  // Duplicates: acceptable only when every later run did nothing new and told the orchestrator the same.
  const dupLines: string[] = [];
  let badDuplicates = 0;
  for (const o of more) {
    const [first, ...later] = o.replies;
    if (!first) continue;
    const commits = input.commits.get(o.sent.planned.pair) ?? 0;
    const problems: string[] = [];
    for (const [i, r] of later.entries()) {
      if (r.summary.pushed) problems.push(`reply ${i + 2} pushed the image again`);
      else if (r.summary.built && !r.summary.failed) problems.push(`reply ${i + 2} built again`);
      if (r.summary.failed !== first.summary.failed)
        problems.push(
          `reply ${i + 2} ${r.summary.failed ? 'failed' : 'succeeded'} where reply 1 ${first.summary.failed ? 'failed' : 'succeeded'}`,
        );
    }
    if (commits > 2) problems.push(`the deployment branch has ${commits - 1} render commits`);
    const evidence = later
      .map((r, i) => {
        const what = r.summary.existed
          ? 'image already existed, build skipped'
          : r.summary.failed
            ? `failed again (${reasonClass(r.summary.reason)})`
            : r.summary.built
              ? 'built'
              : 'no build (config only)';
        return `reply ${i + 2} from ${r.summary.host ?? '?'}: ${what}`;
      })
      .join('; ');
    const ok = problems.length === 0;
    if (!ok) badDuplicates++;
    const t = (ms: number): string => `t+${seconds(ms - input.streamStart)} s`;
    const second = later[0];
    // Only a lost channel (a killed replica, a broker restart) or a failed reply hands a request out again.
    const cause = input.faultLog
      .filter(
        (f) => (f.fault.type === 'kill' || f.fault.type === 'broker') && f.startedAt <= (second?.at ?? 0),
      )
      .at(-1);
    const causeText = cause
      ? `last kill or broker restart before reply 2: ${cause.fault.type}${cause.fault.type === 'kill' ? ` of replica ${rig.replicas[cause.fault.replica]?.name ?? '?'}` : ''} at ${t(cause.startedAt)}-${t(cause.endedAt)}`
      : 'no kill or broker restart before reply 2';
    const events = (input.scan.intakeEvents.get(o.id) ?? [])
      .sort((x, y) => x.at - y.at)
      .map((e) => `${t(e.at)} ${e.text}`);
    dupLines.push(
      `    ${o.id} (${o.sent.planned.kind}, ${o.replies.length} replies; reply 1 from ${first.summary.host ?? '?'}: ${first.summary.failed ? 'failed' : first.summary.existed ? 'image existed' : first.summary.built ? 'built' : 'no build'}; ${evidence}; deployment commits ${commits}): ${ok ? 'idempotent' : `NOT idempotent: ${problems.join(', ')}`}`,
    );
    dupLines.push(`      replies at ${o.replies.map((r) => t(r.at)).join(', ')}; ${causeText}`);
    dupLines.push(`      intake log: ${events.join('; ')}`);
  }

  // Outcomes against what each kind should do; failures of the good kinds are expected under the faults.
  const stepBegan = new Set(
    orchestrator.messages('buildLogs').flatMap((m) => {
      const id = m.fields?.workflow_id;
      const logs = m.fields?.logs;
      // Each line comes numbered: `[12] Step 2/3 : RUN ...`.
      const began =
        Array.isArray(logs) &&
        logs.some((l) => typeof l === 'string' && STEP_BEGINS.test(l.replace(/^\[\d+\] /, '')));
      return typeof id === 'string' && began ? [id] : [];
    }),
  );
  const wrong: string[] = [];
  const byKind = new Map<
    Kind,
    {
      ok: number;
      failed: number;
      reasons: Map<string, number>;
      found: number;
      builtAgain: number;
      times: number[];
    }
  >();
  for (const kind of KINDS)
    byKind.set(kind, { ok: 0, failed: 0, reasons: new Map(), found: 0, builtAgain: 0, times: [] });
  for (const o of outcomes) {
    const first = o.replies[0];
    if (!first) continue;
    const row = byKind.get(o.sent.planned.kind);
    if (!row) continue;
    row.times.push(first.at - o.sent.sentAt);
    if (first.summary.failed) {
      row.failed++;
      const key = `${first.summary.headline ?? '?'}: ${reasonClass(first.summary.reason)}`;
      row.reasons.set(key, (row.reasons.get(key) ?? 0) + 1);
    } else {
      row.ok++;
      if (o.sent.planned.kind === 'bad-ref' || o.sent.planned.kind === 'bad-dockerfile')
        wrong.push(`${o.id} (${o.sent.planned.kind}) succeeded`);
    }
    if (o.sent.planned.kind === 'exists' && !first.summary.failed) {
      if (first.summary.existed) row.found++;
      else row.builtAgain++;
    }
    if (o.sent.planned.kind === 'bad-dockerfile' && first.summary.pushed)
      wrong.push(`${o.id} (bad-dockerfile) pushed an image`);
    // A build fails for the stopped engine only once a step had begun there. One that should fail may fail
    // on it for its own reason.
    const shouldSucceed = GOOD_KINDS.includes(o.sent.planned.kind);
    const forEngine =
      (shouldSucceed && first.summary.buildHost === rig.engine) || first.summary.reason?.includes(rig.engine);
    if (first.summary.failed && forEngine && !(first.summary.buildHost === rig.engine && stepBegan.has(o.id)))
      wrong.push(
        `${o.id} (${o.sent.planned.kind}) failed for engine ${rig.engine} before a step began there`,
      );
  }

  const times = outcomes.flatMap((o) => (o.replies[0] ? [o.replies[0].at - o.sent.sentAt] : []));
  const wallMs = Date.now() - clockStart;
  const tempTotal = input.tempDirs.reduce((sum, t) => sum + t.entries.length, 0);
  const secretsFound = input.scan.hits.reduce((sum, h) => sum + h.count, 0);
  const extraCommits = [...input.commits.entries()].filter(([, n]) => n > 2);

  const lines: string[] = [];
  const out = (text: string): void => void lines.push(text);
  out('');
  out(`soak figures (${input.profile.name}, seed ${input.seed}; replay: ${input.replay})`);
  out(
    `  workflows sent / finished once / finished more than once / lost / left running: ${sent.size} / ${once.length} / ${more.length} / ${lost.length} / ${leftRunning.length}`,
  );
  out(
    `  temp dirs left: ${tempTotal} (${input.tempDirs.map((t) => `replica ${t.name}: ${t.entries.length}`).join(', ')}; counted after both replicas stopped gracefully)`,
  );
  out(
    `  secrets found: ${secretsFound} (${input.scan.needles} needles: 3 configured secrets + ${input.scan.needles - 3} OAuth access tokens; scanned ${input.scan.messages} published messages, ${input.scan.managerBodies} Manager requests, ${(input.scan.outputBytes / 1e6).toFixed(1)} MB of replica output)`,
  );
  out(
    `  wall time: ${seconds(wallMs)} s (stream ${seconds(input.streamEnd - input.streamStart)} s, settle ${seconds(input.settledAt - input.streamEnd)} s, graceful stop ${seconds(input.stopMs)} s); median workflow time: ${seconds(median(times))} s (p90 ${seconds(percentile(times, 0.9))} s, max ${seconds(times.length > 0 ? Math.max(...times) : NaN)} s, n=${times.length}, publish to first reply)`,
  );
  out('  outcomes by kind (first reply):');
  for (const [kind, row] of byKind) {
    const sentOfKind = outcomes.filter((o) => o.sent.planned.kind === kind).length;
    const extra = kind === 'exists' ? `; image found ${row.found}, built again ${row.builtAgain}` : '';
    out(
      `    ${kind.padEnd(15)} sent ${String(sentOfKind).padStart(3)}  succeeded ${String(row.ok).padStart(3)}  failed ${String(row.failed).padStart(3)}  median ${seconds(median(row.times)).padStart(5)} s${extra}`,
    );
    for (const [reason, n] of [...row.reasons.entries()].sort((a, b) => b[1] - a[1]))
      out(`        ${String(n).padStart(3)} x ${reason}`);
  }
  // Every good workflow that failed, set against the fault windows it was in flight during. A config run
  // whose image no run of its pair had pushed yet is no good workflow: its failure is the right answer.
  const pairRuns = outcomes.map((o): PairRun => {
    const first = o.replies[0];
    return {
      pair: o.sent.planned.pair,
      kind: o.sent.planned.kind,
      sentAt: o.sent.sentAt,
      reply: first && { at: first.at, failed: first.summary.failed },
    };
  });
  let imageMissing = 0;
  const good = outcomes.flatMap((o, i) => {
    const first = o.replies[0];
    if (!first || !GOOD_KINDS.includes(o.sent.planned.kind)) return [];
    if (o.sent.planned.kind === 'config' && !imageWasPushed(pairRuns[i] as PairRun, pairRuns)) {
      imageMissing++;
      return [];
    }
    return [
      {
        from: o.sent.sentAt,
        to: first.at,
        failed: first.summary.failed,
        what: `${o.sent.planned.kind}: ${first.summary.headline ?? '?'}: ${reasonClass(first.summary.reason)}`,
      },
    ];
  });
  const windows = [
    ...input.faultLog.map((f) => ({ kind: f.fault.type, from: f.startedAt, to: f.endedAt })),
    ...input.delivery.windows,
  ];
  const { shares, failedOutsideFaults } = faultShares(good, windows);
  const engineWindows = windows.filter((w) => w.kind === 'engine');
  const engineShare = engineFaultShare(
    outcomes.flatMap((o) => {
      const first = o.replies[0];
      const during = engineWindows.some((w) => w.from <= (first?.at ?? 0) && o.sent.sentAt <= w.to);
      return first?.summary.failed && during && GOOD_KINDS.includes(o.sent.planned.kind)
        ? [{ ...first.summary, stepBegan: stepBegan.has(o.id) }]
        : [];
    }),
    rig.engine,
  );
  // The builds the stopped engine met before a step began there, moved to the other engine by the builder.
  const movedOff = outcomes.filter((o) =>
    o.replies[0]?.summary.entries.some((e) =>
      e.startsWith(`Docker host ${rig.engine} failed before the build`),
    ),
  ).length;
  out(`  good workflows (${GOOD_KINDS.join(', ')}) in flight during a fault, by fault kind:`);
  for (const share of shares) {
    out(`    ${share.kind.padEnd(8)} failed by a fault: ${share.failed} of ${share.overlapped}`);
    if (share.kind === 'engine')
      out(
        `             of these: a step had begun on the stopped engine ${engineShare.startedThere} (reason names it: ${engineShare.startedThereNamed}); ` +
          `failed for it before a step began there ${engineShare.notStarted}; other causes ${engineShare.otherCauses}; ` +
          `builds moved off it before a step began: ${movedOff}`,
      );
  }
  out(`    failed outside any fault window: ${failedOutsideFaults}`);
  out(
    `    config runs left out, as no run of their pair had pushed the image when they were sent: ${imageMissing}`,
  );
  // Each failure with the windows it overlapped: its reason tells which of them it was.
  for (const run of good.filter((r) => r.failed)) {
    const kinds = overlappedKinds(run, windows);
    out(
      `    failed during ${kinds.length > 0 ? kinds.join(', ') : 'no fault'}: ${run.what.split('\n')[0] ?? ''}`,
    );
  }
  out('  faults:');
  for (const f of input.faultLog) {
    const at = seconds(f.startedAt - input.streamStart);
    out(
      `    t+${at.padStart(6)} s  ${f.fault.type.padEnd(8)} ${seconds(f.endedAt - f.startedAt).padStart(5)} s  ${f.failure ? `FAILED: ${f.failure}` : f.note}`,
    );
  }
  out(
    `  replicas: ${rig.replicas.map((r) => `${r.name} started ${r.starts}x, killed ${r.kills}x, forced stops ${r.forcedStops}`).join('; ')}; orchestrator reconnects ${orchestrator.reconnects}, redeliveries to it skipped ${orchestrator.redeliveriesSkipped}`,
  );
  const killLeft = [...input.killLeftovers.values()].reduce((sum, e) => sum + e.length, 0);
  out(
    `  work dirs left by kill -9 (seen right after each kill): ${killLeft}; still there at the end: ${tempTotal}`,
  );
  out(
    `  local images of these workflows left in dockerd: ${input.images.count} (removed ${input.images.removed})`,
  );
  out(`  deployment branches with more than one render commit: ${extraCommits.length}`);
  for (const [name, proxy] of [
    ['registry', rig.registry],
    ['git server', rig.git],
  ] as const)
    out(
      `  ${name} proxy: ${proxy.counts.passed} requests passed, ${proxy.counts.faulted} failed on purpose, ${proxy.counts.upstreamErrors} upstream errors`,
    );
  out(
    `  dead-lettered messages: ${orchestrator.messages('deadLetters').length}; replies to no request of this run: ${strayReplies}`,
  );
  const gaps = input.scan.replyToAckMs;
  out(
    `  reply-to-ack window (replica logs, n=${gaps.length}): median ${median(gaps).toFixed(0)} ms, p90 ${percentile(gaps, 0.9).toFixed(0)} ms, max ${(gaps.length > 0 ? Math.max(...gaps) : NaN).toFixed(0)} ms`,
  );
  out('  replica warnings and errors (level: message x count):');
  for (const [key, n] of [...input.scan.logCounts.entries()].sort((a, b) => b[1] - a[1]))
    out(`    ${String(n).padStart(4)} x ${key}`);
  for (const line of input.deliveryFigures.lines) out(line);
  if (more.length > 0) {
    out('  duplicates:');
    for (const l of dupLines) out(l);
  }
  for (const o of lost)
    out(
      `  LOST ${o.id} (${o.sent.planned.kind}, published t+${seconds(o.sent.sentAt - input.streamStart)} s)${deadLettered.has(o.id) ? `: dead-lettered, ${deadLettered.get(o.id)}` : ': no reply, not in the queue'}`,
    );
  for (const o of leftRunning)
    out(
      `  LEFT RUNNING ${o.id} (${o.sent.planned.kind}): no reply; back in the builder queue after the stop`,
    );
  for (const l of unansweredLines(input.postMortem)) out(l);
  for (const h of input.scan.hits) out(`  SECRET ${h.needle} found ${h.count}x in ${h.source}`);
  for (const t of input.tempDirs) for (const e of t.entries) out(`  TEMP DIR replica ${t.name}: ${e}`);
  for (const w of wrong) out(`  WRONG OUTCOME ${w}`);
  for (const [pair, n] of extraCommits)
    out(`  EXTRA RENDER COMMITS pair ${pair}: ${n} commits on the deployment branch`);
  for (const e of unexpectedExits) out(`  REPLICA ${e}`);
  for (const p of input.publishFailures) out(`  PUBLISH ${p}`);
  for (const p of input.images.problems) out(`  IMAGE CLEANUP ${p}`);

  const missed: string[] = [];
  if (lost.length > 0) missed.push(`${lost.length} lost`);
  if (leftRunning.length > 0) missed.push(`${leftRunning.length} left running`);
  if (badDuplicates > 0) missed.push(`${badDuplicates} duplicate(s) not idempotent`);
  if (secretsFound > 0) missed.push(`${secretsFound} secret(s) found`);
  if (input.scan.selfCheck) missed.push(input.scan.selfCheck);
  if (tempTotal > 0) missed.push(`${tempTotal} temp dir(s) left`);
  if (wrong.length > 0) missed.push(`${wrong.length} wrong outcome(s)`);
  if (unexpectedExits.length > 0) missed.push(`${unexpectedExits.length} replica exit(s) of their own`);
  if (rig.replicas.some((r) => r.forcedStops > 0)) missed.push('a graceful stop needed SIGKILL');
  if (input.publishFailures.length > 0)
    missed.push(`${input.publishFailures.length} request(s) not confirmed by the broker`);
  if (input.faultLog.some((f) => f.failure)) missed.push('a fault could not be injected or recovered from');
  missed.push(...input.deliveryFigures.missed);
  out(missed.length === 0 ? '  goals: all met' : `  goals MISSED: ${missed.join('; ')}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  if (missed.length > 0) keepLogs = true;
  return missed.length === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message ? `soak: ${err.message}\n` : ''}${USAGE}\n`);
      process.exit(2);
    }
    process.stderr.write(
      `soak: FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(2);
  },
);
