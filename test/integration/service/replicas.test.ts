// Several replicas of the builder on one queue, as a deployment runs them: `oa-builder serve` as child
// processes with their own HOSTNAME and health port, competing for the deliveries of one real queue, talking to
// one fake Manager, building with the test dockerd. Their health endpoints and logs are read from outside, as
// an orchestrator and an operator would; the crash of an actor is injected into a service run in this process.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { send, type ActorRef } from '../../../actors/supervision';
import { isAtom, toJson, type Term } from '../../../src/etf';
import { startFakeManager, type FakeManager } from '../../fakes/manager';
import { buildIfStale } from '../../harness/build';
import { REPO_ROOT, testEnv } from '../../harness/env';
import { freeLoopbackPort } from '../../harness/ports';
import { BrokerAdmin, eventually } from '../amqp/topology';
import { connectEngine, recordedImages } from '../../../src/docker';
import { staleWorkDirs } from '../../../src/repo';
import { exists } from '../docker/helpers';
import { removeSeededRepos, scratchDir, seedRepos, type RequestJson } from '../workflow/helpers';
import {
  containersWith,
  managerSeed,
  processedBy,
  provisionTopology,
  serviceEnv,
  serviceRequest,
  slowBuild,
  startTestService,
  stopServices,
  submit,
  tap,
  withField,
  type PublishedQueue,
  type Rig,
  type Tapped,
} from './helpers';

const env = testEnv();
const BIN = path.join(REPO_ROOT, 'bin', 'oa-builder.js');
/** Long enough for a few builds from scratch on a busy two-core machine. */
const BUILD_MS = 60_000;
const HOSTNAMES = ['replica-a', 'replica-b'];

type JsonLine = Record<string, unknown>;

/** One `oa-builder serve` process. */
interface Replica {
  readonly hostname: string;
  /** `http://127.0.0.1:<HEALTH_LISTEN port>`. */
  readonly healthUrl: string;
  /** Its log, one parsed JSON line each. */
  readonly lines: JsonLine[];
  /** Resolves with the exit status, or the signal's name when a signal ended it. */
  readonly exited: Promise<number | string>;
  signal(name: NodeJS.Signals): void;
}

/** How many lines of `replica` say `message` about workflow `id` (any workflow when undefined). */
const logged = (replica: Replica, message: string, id?: string): number =>
  replica.lines.filter((l) => l.message === message && (id === undefined || l.workflow_id === id)).length;

const ackedIds = (replica: Replica): string[] =>
  replica.lines.filter((l) => l.message === 'delivery acked').map((l) => String(l.workflow_id));

async function statusOf(replica: Replica, endpoint: string): Promise<number> {
  return (await fetch(`${replica.healthUrl}${endpoint}`)).status;
}

/** The samples of Prometheus text as `name{label="value",...}` → value, labels in the order exposed. */
async function scrape(url: string): Promise<Map<string, number>> {
  const response = await fetch(`${url}/metrics`);
  expect(response.status).toBe(200);
  const samples = new Map<string, number>();
  for (const line of (await response.text()).split('\n')) {
    const match = /^(\w+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (match?.[1] && match[2]) samples.set(match[1], Number(match[2]));
  }
  return samples;
}

const statusName = ({ status }: Record<string, Term>): string | undefined =>
  status !== undefined && isAtom(status) ? status.name : undefined;

/** A heartbeat's workload: how many workflows are in each step. */
const workloadOf = (beat: Record<string, Term>): { step: string; workflows: number }[] =>
  toJson(beat.workload ?? []) as { step: string; workflows: number }[];
const inFlight = (beat: Record<string, Term>): number =>
  workloadOf(beat).reduce((sum, w) => sum + w.workflows, 0);

let workRoot: string;
let admin: BrokerAdmin;

beforeAll(async () => {
  // The replicas run the compiled CLI.
  await buildIfStale();
  workRoot = scratchDir('oa-replicas-it-');
  admin = await BrokerAdmin.open(env.amqpUrl);
}, 120_000);

afterAll(async () => {
  await admin?.dispose();
  await removeSeededRepos();
  fs.rmSync(workRoot, { recursive: true, force: true });
});

describe('builder replicas on one queue', () => {
  let rig: Rig;
  let manager: FakeManager;
  let published: Record<PublishedQueue, Tapped[]>;
  const children: { process: ChildProcess; exited: Promise<unknown> }[] = [];

  beforeEach(async () => {
    // A topology per test: a delivery a failed test left behind never reaches the next test's replicas.
    const topology = await provisionTopology(admin);
    published = {} as Record<PublishedQueue, Tapped[]>;
    for (const [logical, queue] of Object.entries(topology.queues))
      published[logical as PublishedQueue] = await tap(admin.channel, queue);
    manager = await startFakeManager(managerSeed(topology, env.amqpUrl));
    rig = { admin, topology, manager };
  });

  afterEach(async () => {
    for (const child of children.splice(0)) {
      const { pid, exitCode, signalCode } = child.process;
      if (pid !== undefined && exitCode === null && signalCode === null) process.kill(pid, 'SIGKILL');
      await child.exited;
    }
    await stopServices();
    await manager.close();
  });

  /** Starts `oa-builder serve` as `hostname` and resolves once it consumes and says it is ready. */
  async function startReplica(hostname: string, extra: Record<string, string> = {}): Promise<Replica> {
    const port = await freeLoopbackPort();
    const variables = serviceEnv(
      {
        ...rig,
        workRoot,
        env: { HEALTH_LISTEN: `127.0.0.1:${port}`, HEARTBEAT_SECONDS: '1', LOG_FORMAT: 'json', ...extra },
      },
      hostname,
    );
    const child = spawn(process.execPath, [BIN, 'serve'], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', ...variables },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | string>((resolve) =>
      child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
    );
    children.push({ process: child, exited });
    const lines: JsonLine[] = [];
    let output = '';
    let partial = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const text = partial + chunk.toString();
      const complete = text.split('\n');
      partial = complete.pop() ?? '';
      for (const line of complete) {
        try {
          lines.push(JSON.parse(line) as JsonLine);
        } catch {
          // Not a log line, e.g. a crash trace; it is kept in `output` for the failure message.
        }
      }
    });
    const replica: Replica = {
      hostname,
      healthUrl: `http://127.0.0.1:${port}`,
      lines,
      exited,
      signal: (name) => void child.kill(name),
    };
    await eventually(
      `${hostname} consumes and is ready`,
      async () => {
        if (child.exitCode !== null) throw new Error(`${hostname} exited ${child.exitCode}:\n${output}`);
        return logged(replica, 'consuming') > 0 && (await statusOf(replica, '/readyz')) === 200;
      },
      30_000,
    );
    return replica;
  }

  const repliesTo = (id: string) => withField(published.workflow_orchestration, 'id', id);
  const beatsOf = (hostname: string) => withField(published.system_modules, 'hostname', hostname);

  const savedBy = (id: string): string | undefined =>
    processedBy(manager.state.workflowPuts.filter((p) => p.id === id).at(-1)?.body.event_log as Term);

  /** `count` build requests, each for a repository pair of its own. */
  const seedBuilds = (count: number, files: Record<string, string> = {}): Promise<RequestJson[]> =>
    Promise.all(Array.from({ length: count }, async () => serviceRequest(await seedRepos(files))));

  /** Publishes one slow build and resolves with its workflow id once its docker build runs. */
  async function slowBuildRunning(seconds: number): Promise<string> {
    const [request] = await seedBuilds(1, slowBuild(seconds));
    if (!request) throw new Error('no request was seeded');
    submit(rig, request);
    await eventually(
      'the docker build started',
      () =>
        manager.state.workflowPuts.some(
          (p) =>
            p.id === request.id &&
            (p.body.event_log as string[]).some((e) => e.includes('Beginning docker image build')),
        ),
      BUILD_MS,
    );
    return request.id;
  }

  it('share ten requests, each registering and heartbeating under its own hostname, with one reply per request', async () => {
    const [replicas, requests] = await Promise.all([
      Promise.all(HOSTNAMES.map((h) => startReplica(h, { BUILDER_CONCURRENCY: '2' }))),
      // Seeded meanwhile, but published only once both consume, so neither misses its share.
      seedBuilds(10),
    ]);
    for (const request of requests) submit(rig, request);
    const ids = requests.map((r) => r.id).sort();

    await eventually('all ten were acked', () => replicas.flatMap(ackedIds).length >= ids.length, BUILD_MS);
    await eventually('all ten replies arrived', () => ids.every((id) => repliesTo(id).length > 0));

    expect(replicas.flatMap(ackedIds).sort()).toEqual(ids);
    const ackedBy = new Map(replicas.flatMap((r) => ackedIds(r).map((id) => [id, r.hostname] as const)));
    for (const id of ids) {
      const [reply, ...more] = repliesTo(id);
      expect(more).toEqual([]);
      expect(reply).toMatchObject({ workflow_error: false, workflow_completed: false });
      expect({ id, builder: processedBy(reply?.event_log) }).toEqual({ id, builder: ackedBy.get(id) });
    }
    expect(new Set(ackedBy.values())).toEqual(new Set(HOSTNAMES));

    const registrations = manager.state.modulePosts
      .map((p) => p.body)
      .sort((a, b) => String(a.hostname).localeCompare(String(b.hostname)));
    expect(registrations).toEqual(
      HOSTNAMES.map((hostname) => ({
        hostname,
        type: 'builder',
        status: 'active',
        workload: [],
      })),
    );
    for (const { hostname } of replicas) {
      const taken = [...ackedBy].flatMap(([id, by]) => (by === hostname ? [id] : []));
      const beats = beatsOf(hostname);
      expect(beats.every((b) => statusName(b) === 'active')).toBe(true);
      const busy = beats.map(inFlight).filter((n) => n > 0);
      expect({ hostname, busyBeats: busy.length > 0 }).toEqual({ hostname, busyBeats: true });
      // A replica counts only the workflows it runs itself, by the step each is in.
      expect(Math.max(...busy)).toBeLessThanOrEqual(taken.length);
      const steps = beats.flatMap(workloadOf).map((w) => w.step);
      expect(
        steps.every((step) => ['starting', 'checkout', 'config', 'build', 'verify'].includes(String(step))),
      ).toBe(true);
    }
  });

  it('drain on SIGTERM by finishing the build in flight within the grace, unready but alive meanwhile, then exit 0 saying inactive', async () => {
    const replica = await startReplica('replica-a', { SHUTDOWN_GRACE_SECONDS: '60' });
    const id = await slowBuildRunning(4);

    replica.signal('SIGTERM');
    await eventually('/readyz answers 503', async () => (await statusOf(replica, '/readyz')) === 503);
    expect(await statusOf(replica, '/healthz')).toBe(200);
    expect(repliesTo(id)).toEqual([]);

    expect(await replica.exited).toBe(0);
    const messages = replica.lines.map((l) => l.message);
    const stoppingAt = messages.indexOf('stopping');
    expect(stoppingAt).toBeGreaterThanOrEqual(0);
    expect(messages.indexOf('reply sent to the orchestrator')).toBeGreaterThan(stoppingAt);
    expect(logged(replica, 'delivery acked', id)).toBe(1);
    expect(messages).not.toContain('grace period over; stopping the workflows still running');
    await eventually('the reply arrived', () => repliesTo(id).length > 0);
    expect(repliesTo(id)).toEqual([expect.objectContaining({ workflow_error: false })]);
    await eventually(
      'the inactive heartbeat arrived',
      () => statusName(beatsOf('replica-a').at(-1) ?? {}) === 'inactive',
    );
    expect(
      beatsOf('replica-a')
        .slice(0, -1)
        .every((b) => statusName(b) === 'active'),
    ).toBe(true);
    expect(await admin.ready(rig.topology.builderQueue)).toBe(0);
  });

  it('hand a build the grace period cut short to the other replica, which completes it with the only reply', async () => {
    const replicas = await Promise.all(
      HOSTNAMES.map((h) => startReplica(h, { SHUTDOWN_GRACE_SECONDS: '1' })),
    );
    const id = await slowBuildRunning(6);
    const first = savedBy(id);
    const stopped = replicas.find((r) => r.hostname === first);
    const other = replicas.find((r) => r.hostname !== first);
    if (!stopped || !other)
      throw new Error(`workflow ${id} was taken by ${String(first)}, no replica of the test`);

    stopped.signal('SIGTERM');
    expect(await stopped.exited).toBe(0);
    await eventually(
      `${other.hostname} acked the redelivery`,
      () => logged(other, 'delivery acked', id) > 0,
      BUILD_MS,
    );
    await eventually('the reply arrived', () => repliesTo(id).length > 0);

    expect(stopped.lines).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          message: 'grace period over; stopping the workflows still running',
          running: [id],
        }),
        expect.objectContaining({
          message: 'workflow stopped by the shutdown; left for another attempt',
          workflow_id: id,
        }),
      ]),
    );
    expect(logged(stopped, 'reply sent to the orchestrator')).toBe(0);
    expect(logged(stopped, 'delivery acked')).toBe(0);
    expect(logged(other, 'redelivered request: it may have run before; every step is idempotent', id)).toBe(
      1,
    );
    const [reply, ...more] = repliesTo(id);
    expect(more).toEqual([]);
    expect(reply).toMatchObject({ workflow_error: false });
    expect(processedBy(reply?.event_log)).toBe(other.hostname);
    expect(await admin.ready(rig.topology.builderQueue)).toBe(0);
  });

  it(
    'remove from the engine the step images a replica killed mid-build left, once it is restarted',
    async () => {
      // A work root of its own: the restart removes what it finds there. The classic builder commits an image
      // per step (BuildKit none before the last).
      const settings = { BUILDER_TMPDIR: scratchDir('oa-killed-build-it-'), BUILD_BACKEND: 'classic' };
      const marker = `killed-mid-build-${process.pid}-${Date.now()}`;
      const [request] = await seedBuilds(1, slowBuild(20, marker));
      if (!request) throw new Error('no request was seeded');
      const killed = await startReplica('killed-mid-build', settings);
      submit(rig, request);
      await eventually(
        'the slow RUN step runs',
        async () => (await containersWith(marker)).length > 0,
        BUILD_MS,
      );
      killed.signal('SIGKILL');
      expect(await killed.exited).toBe('SIGKILL');
      const engine = await connectEngine(env.dockerHost, {}, { signal: AbortSignal.timeout(10_000) });
      const imagesThere = async (ids: readonly string[]) =>
        (await Promise.all(ids.map((id) => exists(engine, 'images', id)))).filter(Boolean).length;
      // The example's two COPY steps ran before the slow one: their images are untagged and marked by nothing.
      const left = (await recordedImages(await staleWorkDirs(settings.BUILDER_TMPDIR))).map((i) => i.id);
      expect(left).toHaveLength(2);
      expect(await imagesThere(left)).toBe(2);

      const restarted = await startReplica('killed-mid-build', settings);
      await eventually('the images are gone', async () => (await imagesThere(left)) === 0, BUILD_MS);

      expect(restarted.lines).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ message: 'images a killed build left removed', images: 2 }),
        ]),
      );
      await eventually('the reply arrived', () => repliesTo(request.id).length > 0, BUILD_MS);
      expect(repliesTo(request.id)[0]).toMatchObject({ workflow_error: false });
      // Two replica starts and two builds, one of them slow.
    },
    BUILD_MS * 3,
  );

  it.each(['classic', 'quorum'] as const)(
    'dead-letter a request that kills its replica on every run once MAX_DELIVERIES runs ended so, on a %s queue, with one failure reply',
    async (queueType) => {
      const maxDeliveries = 2;
      // QUEUE_NAME as ops would declare it for this QUEUE_TYPE; a quorum queue's own limit lies above ours.
      const queue = await admin.componentQueue('poisoned', queueType, maxDeliveries + 1);
      await admin.channel.bindQueue(queue, rig.topology.exchange, `${rig.topology.routingKey}.builder`);
      const settings = { QUEUE_NAME: queue, QUEUE_TYPE: queueType, MAX_DELIVERIES: String(maxDeliveries) };
      const id = await (async () => {
        const [request] = await seedBuilds(1, slowBuild(30));
        if (!request) throw new Error('no request was seeded');
        submit(rig, request);
        return request.id;
      })();

      for (let run = 1; run <= maxDeliveries; run++) {
        const replica = await startReplica(`poisoned-${run}`, settings);
        await eventually(`run ${run} started`, () => savedBy(id) === replica.hostname, BUILD_MS);
        replica.signal('SIGKILL');
        expect(await replica.exited).toBe('SIGKILL');
      }
      const survivor = await startReplica('survivor', settings);
      await eventually('the failure reply arrived', () => repliesTo(id).length > 0, BUILD_MS);
      await eventually(
        'the request is dead-lettered',
        async () => (await admin.ready(`${queue}_error`)) === 1,
      );

      const reason = `the request was run ${maxDeliveries} times without finishing (MAX_DELIVERIES is ${maxDeliveries}); it is not run again`;
      const [reply, ...more] = repliesTo(id);
      expect(more).toEqual([]);
      expect(reply).toMatchObject({ workflow_error: true, workflow_completed: true });
      expect(reply?.event_log).toEqual(expect.arrayContaining([expect.stringContaining(reason)]));
      expect(survivor.lines).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ message: 'request dead-lettered', workflow_id: id, reason }),
        ]),
      );
      expect(savedBy(id)).toBe(`poisoned-${maxDeliveries}`);
      expect((await scrape(survivor.healthUrl)).get('oa_builder_dead_lettered_total')).toBe(1);
      expect(await admin.ready(queue)).toBe(0);
      const dead = await admin.take(`${queue}_error`);
      expect(dead && dead.properties.headers).toMatchObject({ 'x-oa-reject-reason': reason });
    },
  );

  it('leave the requests to the healthy replica while one cannot make work directories, that one unready and paused until its work directory is back, then building again', async () => {
    const brokenRoot = scratchDir('oa-replicas-broken-');
    // Each failed try on the broken replica is a counted run; the limit is raised so that a request the broken
    // replica happens to take at every try still has a run left for the healthy one.
    const limits = { BUILDER_CONCURRENCY: '2', MAX_DELIVERIES: '10' };
    const [broken, healthy, requests] = await Promise.all([
      startReplica('replica-broken', { ...limits, BUILDER_TMPDIR: brokenRoot }),
      startReplica('replica-a', limits),
      seedBuilds(6),
    ]);
    // The disk under its BUILDER_TMPDIR changed after the start: a file now stands where the directory was.
    fs.rmSync(brokenRoot, { recursive: true });
    fs.writeFileSync(brokenRoot, 'not a directory');
    try {
      for (const request of requests) submit(rig, request);
      const ids = requests.map((r) => r.id);
      await eventually(
        'all six replies arrived',
        () => ids.every((id) => repliesTo(id).length > 0),
        BUILD_MS * 2,
      );

      for (const id of ids) {
        const [reply, ...more] = repliesTo(id);
        expect(more).toEqual([]);
        expect({ id, error: reply?.workflow_error, builder: processedBy(reply?.event_log) }).toEqual({
          id,
          error: false,
          builder: healthy.hostname,
        });
      }
      expect(ackedIds(broken)).toEqual([]);
      const paused = broken.lines.filter((l) =>
        String(l.message).startsWith('workflows paused: cannot make work directories ('),
      );
      expect(paused).toHaveLength(1);
      expect(String(paused[0]?.message)).toMatch(/EEXIST/);
      expect(
        logged(broken, 'the workflow did not start; the request goes back to the queue'),
      ).toBeGreaterThan(0);

      const readyz = await fetch(`${broken.healthUrl}/readyz`);
      expect({ status: readyz.status, body: await readyz.json() }).toEqual({
        status: 503,
        body: { ready: false },
      });
      const healthz = await fetch(`${broken.healthUrl}/healthz`);
      expect(healthz.status).toBe(200);
      const shown = (await healthz.json()) as { paused?: { reason?: string; since?: string } };
      expect(shown.paused?.reason).toMatch(/cannot make a work directory under .*EEXIST/);
      expect(Date.parse(String(shown.paused?.since))).toBeLessThanOrEqual(Date.now());
      const metrics = await scrape(broken.healthUrl);
      expect(metrics.get('oa_builder_start_paused')).toBe(1);
      expect(metrics.get('oa_builder_start_pauses_total')).toBe(1);
      expect(await statusOf(healthy, '/readyz')).toBe(200);

      // The directory is back; with the healthy replica gone, the next request can only go to the paused one.
      fs.rmSync(brokenRoot, { force: true });
      fs.mkdirSync(brokenRoot);
      healthy.signal('SIGTERM');
      expect(await healthy.exited).toBe(0);
      const [later] = await seedBuilds(1);
      if (!later) throw new Error('no request was seeded');
      submit(rig, later);
      await eventually(
        'the paused replica built the later request',
        () => ackedIds(broken).includes(later.id),
        BUILD_MS,
      );

      expect(repliesTo(later.id)).toEqual([expect.objectContaining({ workflow_error: false })]);
      expect(processedBy(repliesTo(later.id)[0]?.event_log)).toBe(broken.hostname);
      expect(logged(broken, 'workflows resumed')).toBe(1);
      await eventually(
        'the resumed replica is ready',
        async () => (await statusOf(broken, '/readyz')) === 200,
      );
      expect((await scrape(broken.healthUrl)).get('oa_builder_start_paused')).toBe(0);
    } finally {
      fs.rmSync(brokenRoot, { recursive: true, force: true });
    }
  });

  it('count finished workflows and step durations on /metrics as workflows run', async () => {
    const replica = await startReplica('replica-a', { BUILDER_CONCURRENCY: '2' });
    const finished = (result: string) => `oa_builder_workflows_finished_total{result="${result}"}`;
    const steps = (step: string, outcome: string) =>
      `oa_builder_step_duration_seconds_count{step="${step}",outcome="${outcome}"}`;
    const before = await scrape(replica.healthUrl);
    expect(before.get('oa_builder_workflow_slots')).toBe(2);
    expect(before.get(finished('succeeded'))).toBeUndefined();
    expect(before.get(steps('build', 'ok'))).toBeUndefined();

    const repos = await seedRepos();
    const built = serviceRequest(repos);
    const broken = serviceRequest(repos, { deployment_repo: 'anon/no-such-deployment-repo' });
    submit(rig, built);
    submit(rig, broken);
    await eventually('both were acked', () => ackedIds(replica).length === 2, BUILD_MS);
    // Acked at the reply, counted once the workflow has ended.
    await eventually(
      'both workflows ended',
      async () => (await scrape(replica.healthUrl)).get('oa_builder_workflows_running') === 0,
    );

    expect(repliesTo(built.id)).toEqual([expect.objectContaining({ workflow_error: false })]);
    expect(repliesTo(broken.id)).toEqual([expect.objectContaining({ workflow_error: true })]);
    const after = await scrape(replica.healthUrl);
    expect(
      Object.fromEntries(
        [...after].filter(([name]) =>
          /^oa_builder_(workflows_finished_total|step_duration_seconds_count|workflows_running)\b/.test(name),
        ),
      ),
    ).toEqual({
      [finished('succeeded')]: 1,
      [finished('failed')]: 1,
      [steps('checkout', 'ok')]: 1,
      [steps('checkout', 'failed')]: 1,
      [steps('config', 'ok')]: 1,
      [steps('build', 'ok')]: 1,
      [steps('verify', 'ok')]: 1,
      oa_builder_workflows_running: 0,
    });
    expect(after.get('oa_builder_step_duration_seconds_sum{step="build",outcome="ok"}')).toBeGreaterThan(0);
  });

  it('restart a crashed heartbeat actor, show the restart on /healthz and /metrics, and go on heartbeating', async () => {
    // In this process, so the test can reach into the tree and hand the actor a message it does not know.
    const { service, hostname, log } = await startTestService({
      ...rig,
      workRoot,
      env: { HEARTBEAT_SECONDS: '1' },
    });
    const beats = () => beatsOf(hostname);
    await eventually('the first heartbeat', () => beats().length > 0, 5_000);
    const heartbeat = service.builder.app.child('heartbeat');
    if (!heartbeat) throw new Error('the app has no heartbeat child');

    // Past the actor's protocol on purpose: a message it does not know is the bug being simulated.
    expect(send(heartbeat as ActorRef<unknown>, { type: 'not-a-beat' })).toBe(true);
    const slot = async () =>
      (await service.builder.app.health()).root.children.find((c) => c.id === 'heartbeat');
    await eventually('the heartbeat actor runs again', async () => {
      const now = await slot();
      return now?.state === 'running' && now.restartCount === 1;
    });
    const beatsAtRestart = beats().length;

    const failure = {
      name: 'Error',
      message: 'heartbeat: unexpected message {"type":"not-a-beat"}',
      path: 'app/heartbeat',
    };
    expect(await slot()).toMatchObject({ path: 'app/heartbeat', restartCount: 1, lastFailure: failure });
    expect(service.builder.app.child('heartbeat')?.uid).not.toBe(heartbeat.uid);
    const address = log.lines.find((l) => l.message === 'health endpoint listening')?.fields.address;
    const healthz = await fetch(`http://${String(address)}/healthz`);
    expect(healthz.status).toBe(200);
    const tree = (await healthz.json()) as { status: string; root: { children: { id: string }[] } };
    expect(tree.status).toBe('ok');
    expect(tree.root.children.find((c) => c.id === 'heartbeat')).toMatchObject({
      restartCount: 1,
      lastFailure: failure,
    });
    expect(
      (await scrape(`http://${String(address)}`)).get('oa_builder_actor_restarts{actor="app/heartbeat"}'),
    ).toBe(1);

    await eventually('two more heartbeats', () => beats().length >= beatsAtRestart + 2, 5_000);
    // The crash is no stop of the builder: the Overseer must never hear that it went inactive.
    expect(beats().map(statusName)).toEqual(beats().map(() => 'active'));
  });
});
