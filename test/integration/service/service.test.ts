// Service mode end to end: the builder started as `oa-builder serve` starts it, fed through a RabbitMQ topology
// provisioned as ops would, building with the test dockerd, registry and git server, and talking to a fake
// Manager. What it publishes is read back off the queues the other OpenAperture modules consume, decoded.
import fs from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { DEFAULT_WORKER_SHUTDOWN_MS, send, type ActorRef } from '../../../actors/supervision';
import { atom, isAtom, isMap, toJson, tuple, type Term } from '../../../src/etf';
import { startFaultyProxy } from '../../../bench/soak/proxy';
import { BUILDER_VERSION } from '../../../src/version';
import { overseerForward, startFakeManager, type FakeManager } from '../../fakes/manager';
import { testEnv } from '../../harness/env';
import { lookupManifest } from '../../harness/registry';
import { BrokerAdmin, eventually, pause } from '../amqp/topology';
import { startPrivateBroker, type PrivateBroker } from '../amqp/private-broker';
import {
  DEPLOYMENT_EXAMPLE,
  filesOf,
  gitIn,
  headOf,
  removeSeededRepos,
  scratchDir,
  seedRepos,
  type SeededRepos,
} from '../workflow/helpers';
import {
  acked,
  containersWith,
  EXCHANGE_ID,
  managerSeed,
  provisionTopology,
  publishToBuilder,
  serviceRequest,
  slowBuild,
  startTestService,
  stopService,
  stopServices,
  submit,
  tap,
  withExchangeCopies,
  withField,
  type PublishedQueue,
  type RecordingLog,
  type Rig,
  type ServiceTopology,
  type Tapped,
} from './helpers';

const env = testEnv();
const SHA = /^[0-9a-f]{40}$/;
/** Long enough for a build from scratch on a busy machine. */
const BUILD_MS = 60_000;
const ORIGINAL_START = tuple(1796, 219752, 613000);

let workRoot: string;

beforeAll(() => {
  workRoot = scratchDir('oa-svc-it-');
});

afterAll(async () => {
  await removeSeededRepos();
  fs.rmSync(workRoot, { recursive: true, force: true });
});

const imageOf = (dockerUrl: string, commit: string): string => `${env.registry.host}/${dockerUrl}:${commit}`;

/** The registry's answer for the image of the source repository's head commit: 200 once it was pushed. */
async function manifestStatus(repos: SeededRepos): Promise<number> {
  return (await lookupManifest(env.registry.url, repos.dockerUrl, await headOf(repos.source))).status;
}

/** The event-log entries a builder added for workflow `id`, without their `[OA][<id>] ` prefix. */
function builderEntries(reply: Record<string, Term>, id: string): string[] {
  const prefix = `[OA][${id}] `;
  const log = (reply.event_log ?? []) as Term[];
  return log.flatMap((e) => (typeof e === 'string' && e.startsWith(prefix) ? [e.slice(prefix.length)] : []));
}

/** The name of an atom, as the Overseer's JSON encoding writes it; '' for anything else. */
const atomName = (term: Term | undefined): string => (term !== undefined && isAtom(term) ? term.name : '');

/** The install.sh template of the example without its render timestamp, so renders of one commit are identical. */
function timelessInstallSh(): string {
  const installSh = filesOf(DEPLOYMENT_EXAMPLE)['install.sh.eex'] ?? '';
  expect(installSh).toContain('<%= timestamp %>');
  return installSh.replace(/^.*timestamp.*\n/m, '');
}

/** What ops would have: the topology on the shared broker, a fake Manager describing it, and a tap on every queue. */
describe('the builder service', () => {
  let admin: BrokerAdmin;
  let topology: ServiceTopology;
  let published: Record<PublishedQueue, Tapped[]>;
  let deadLetters: Tapped[];
  let manager: FakeManager;
  let rig: Rig;

  beforeAll(async () => {
    admin = await BrokerAdmin.open(env.amqpUrl);
    topology = await provisionTopology(admin);
    published = {} as Record<PublishedQueue, Tapped[]>;
    for (const [logical, queue] of Object.entries(topology.queues))
      published[logical as PublishedQueue] = await tap(admin.channel, queue);
    deadLetters = await tap(admin.channel, topology.deadLetterQueue);
  });

  afterAll(async () => {
    await admin?.dispose();
  });

  beforeEach(async () => {
    manager = await startFakeManager(managerSeed(topology, env.amqpUrl));
    rig = { admin, topology, manager };
  });

  afterEach(async () => {
    await stopServices();
    await manager.close();
  });

  const start = (
    options: { env?: Record<string, string>; startRetryMs?: number; finishTimeoutMs?: number } = {},
  ) => startTestService({ manager, topology, workRoot, ...options });

  const repliesTo = (id: string) => withField(published.workflow_orchestration, 'id', id);

  /** Waits until the intake acked workflow `id` `times` times, and returns its replies. */
  async function settled(log: RecordingLog, id: string, times = 1): Promise<Record<string, Term>[]> {
    await eventually(`workflow ${id} was acked ${times} time(s)`, () => acked(log, id, times), BUILD_MS);
    await eventually(`${times} repl(ies) to ${id} arrived`, () => repliesTo(id).length >= times);
    return repliesTo(id);
  }

  it('builds a request published as the orchestrator publishes it and reports over every channel OpenAperture reads', async () => {
    const { service, hostname, log } = await start();
    const repos = await seedRepos();
    const sourceSha = await headOf(repos.source);
    expect(sourceSha).toMatch(SHA);
    const request = serviceRequest(repos);
    const original = request.event_log as string[];
    submit(rig, request);

    const [reply, ...more] = await settled(log, request.id);
    const address = log.lines.find((l) => l.message === 'health endpoint listening')?.fields.address;
    const metrics = await (await fetch(`http://${String(address)}/metrics`)).text();
    await stopService(service);

    expect(more).toEqual([]);
    const image = imageOf(repos.dockerUrl, sourceSha);

    // The workflow's life in the log, as a replica killed half-way would have left it.
    const life = log.lines.filter((l) => l.level === 'info' && l.fields.workflow_id === request.id);
    expect(life.find((l) => l.message === 'workflow started')?.fields).toMatchObject({
      deployment_repo: request.deployment_repo,
      milestone: 'build',
    });
    expect(life.find((l) => l.message === 'delivery taken')?.fields).toMatchObject({ delivery_count: 1 });
    const steps = life.filter((l) => l.message.startsWith('step '));
    expect(steps.map((l) => `${l.message} ${String(l.fields.step)}`)).toEqual(
      ['checkout', 'config', 'build', 'verify'].flatMap((step) => [
        `step started ${step}`,
        `step finished ${step}`,
      ]),
    );
    expect(steps.filter((l) => l.message === 'step finished').every((l) => l.fields.outcome === 'ok')).toBe(
      true,
    );
    // And in the metrics: the workflow left its steps, used a slot for a while, waited since its step_time.
    for (const step of ['checkout', 'config', 'build', 'verify'])
      expect(metrics).toMatch(new RegExp(`^oa_builder_workflows_in_step\\{step="${step}"\\} 0$`, 'm'));
    expect(Number(/^oa_builder_slot_busy_seconds_total (\S+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    expect(metrics).toMatch(/^oa_builder_queue_wait_seconds_count 1$/m);
    expect(metrics).toMatch(/^oa_builder_build_info\{version="[^"]+",node="[^"]+"\} 1$/m);
    expect(await manifestStatus(repos)).toBe(200);

    expect(manager.state.modulePosts).toEqual([
      { exchangeId: '1', body: { hostname, type: 'builder', status: 'active', workload: [] } },
    ]);
    const putRequests = manager.state.requests.filter(
      (r) => r.method === 'PUT' && r.path === `/workflows/${request.id}`,
    );
    expect(putRequests.length).toBeGreaterThanOrEqual(3);
    for (const put of putRequests)
      expect(put.headers.authorization).toMatch(/^Bearer access_token=token-\S+$/);
    const lastSave = manager.state.workflowPuts.filter((p) => p.id === request.id).at(-1)?.body;
    expect(lastSave).toMatchObject({ id: request.id, current_step: 'build', workflow_completed: false });
    expect((lastSave?.event_log as string[]).slice(0, original.length)).toEqual(original);

    // The reply is the received map with the builder's fields changed: atom keys, the atom and the tuples kept.
    expect(reply).toBeDefined();
    const fields = reply as Record<string, Term>;
    expect(fields.id).toBe(request.id);
    expect(fields.current_step).toEqual(atom('build'));
    expect(fields.workflow_start_time).toEqual(ORIGINAL_START);
    expect(fields.step_time).toEqual(ORIGINAL_START);
    expect(Object.keys(fields)).toEqual(expect.arrayContaining(Object.keys(request)));
    expect(fields.source_repo_git_ref).toBe(sourceSha);
    expect(fields.workflow_error).toBe(false);
    expect(fields.workflow_completed).toBe(false);
    expect(fields.etcd_token).toBe('example-discovery-token');
    const units = fields.deployable_units as Term[];
    expect(units).toHaveLength(1);
    for (const unit of units) {
      expect(isMap(unit) && unit.entries.every(([key]) => typeof key === 'string')).toBe(true);
      expect(toJson(unit)).toMatchObject({ name: 'hello@.service', desiredState: null });
    }
    const eventLog = fields.event_log as string[];
    expect(eventLog.slice(0, original.length)).toEqual(original);
    expect(builderEntries(fields, request.id)).toEqual(
      expect.arrayContaining([
        `Build/Config request is being processed by Builder ${hostname}`,
        `Executing a docker build for ${image}...`,
      ]),
    );
    expect(eventLog.at(-1)).toBe(`[OA][${request.id}] Verified ${image} exists in docker repo`);

    const notifications = withField(published.notifications_hipchat, 'prefix', `[OA][${request.id}]`);
    expect(notifications.length).toBeGreaterThanOrEqual(3);
    expect(notifications[0]).toEqual({
      is_success: true,
      prefix: `[OA][${request.id}]`,
      message: `Build/Config request is being processed by Builder ${hostname}`,
      room_names: ['ops'],
    });
    expect(notifications.every((n) => n.is_success === true)).toBe(true);

    const batches = withField(published.build_logs, 'workflow_id', request.id);
    expect(batches.length).toBeGreaterThanOrEqual(1);
    for (const batch of batches) expect(Object.keys(batch).sort()).toEqual(['logs', 'workflow_id']);
    const lines = batches.flatMap((b) => b.logs as string[]);
    expect(lines.map((line) => Number(/^\[(\d+)\] /.exec(line)?.[1]))).toEqual(lines.map((_, i) => i + 1));
    expect(Object.values(published).every((messages) => messages.every((m) => m.persistent))).toBe(true);

    // Stopped, the service can no longer hold a delivery: an unacked one would be back in the queue.
    expect(await admin.ready(topology.builderQueue)).toBe(0);
  });

  it('goes on consuming and settles the delivery in flight when its intake crashes mid-build', async () => {
    const { service, log } = await start();
    const dockerfile = filesOf(DEPLOYMENT_EXAMPLE)['Dockerfile.eex'] ?? '';
    const slow = await seedRepos({ 'Dockerfile.eex': dockerfile.replace('RUN ', 'RUN sleep 3\nRUN ') });
    const first = serviceRequest(slow);
    submit(rig, first);
    await eventually(
      'the build started',
      () =>
        log.lines.some((l) => l.message === 'consuming') &&
        repliesTo(first.id).length === 0 &&
        manager.state.workflowPuts.some((p) => p.id === first.id),
    );
    const intake = service.builder.app.child('intake');
    if (!intake) throw new Error('the app has no intake child');
    // Past the actor's protocol on purpose: a message it does not know is the bug being simulated.
    expect(send(intake as ActorRef<unknown>, { type: 'not-a-message' })).toBe(true);
    await eventually('the intake runs again', async () => {
      const slot = (await service.builder.app.health()).root.children.find((c) => c.id === 'intake');
      return slot?.state === 'running' && slot.restartCount === 1;
    });
    expect(log.lines.map((l) => l.message)).toContain(
      'intake restarted; carrying on with the deliveries in flight',
    );

    const [reply] = await settled(log, first.id);
    expect(reply?.workflow_error).toBe(false);
    const second = serviceRequest(await seedRepos());
    submit(rig, second);
    await settled(log, second.id);
    await stopService(service);
    expect(await admin.ready(topology.builderQueue)).toBe(0);
  });

  it('stops a build once the Manager marks its workflow errored, reports it failed and cleans up', async () => {
    // The classic builder runs each RUN in a container the engine lists, which is what this test watches; a
    // BuildKit build's abort is shown by its own test (test/integration/docker/buildkit.test.ts).
    const { log } = await start({ env: { KILL_SWITCH_SECONDS: '1', BUILD_BACKEND: 'classic' } });
    const dockerfile = filesOf(DEPLOYMENT_EXAMPLE)['Dockerfile.eex'] ?? '';
    // The marker finds the build's container among the engine's, whoever else builds there.
    const marker = `kill-switch-${process.pid}-${Date.now()}`;
    const slow = await seedRepos({
      'Dockerfile.eex': dockerfile.replace('RUN ', `RUN sleep 30 # ${marker}\nRUN `),
    });
    const request = serviceRequest(slow);
    manager.setWorkflow(request.id, { id: request.id, workflow_error: false, workflow_completed: false });
    submit(rig, request);
    // Build output flows once the build has started; the first batch goes out about a second later.
    await eventually(
      'the docker build runs',
      () => withField(published.build_logs, 'workflow_id', request.id).length > 0,
      BUILD_MS,
    );
    await eventually('the build runs its sleep', async () => (await containersWith(marker)).length === 1);
    const started = Date.now();
    manager.setWorkflow(request.id, { id: request.id, workflow_error: true, workflow_completed: true });

    // The reply comes only once the build was stopped and its container removed.
    await eventually('the reply arrived', () => repliesTo(request.id).length > 0, BUILD_MS);
    expect(await containersWith(marker)).toEqual([]);
    const [reply] = await settled(log, request.id);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(reply?.workflow_error).toBe(true);
    expect(builderEntries(reply ?? {}, request.id).slice(-2)).toEqual([
      'the workflow was marked as errored in the Manager; the build was stopped',
      'Milestone has failed',
    ]);
    expect(await manifestStatus(slow)).toBe(404);
    // The reply is the commit point: the workflow cleans up once it has answered.
    await eventually(
      'the work directory is removed',
      () => fs.readdirSync(workRoot).filter((name) => name.includes(request.id.slice(0, 8))).length === 0,
    );
  });

  it('stops a build mid-RUN at the workflow deadline and replies only once the engine has no container of it left', async () => {
    // As the kill switch test: the classic builder's RUN container is what the engine lists.
    const { log } = await start({ env: { WORKFLOW_TIMEOUT_SECONDS: '30', BUILD_BACKEND: 'classic' } });
    const marker = `deadline-${process.pid}-${Date.now()}`;
    const request = serviceRequest(await seedRepos(slowBuild(120, marker)));
    submit(rig, request);
    await eventually(
      'the build runs its sleep',
      async () => (await containersWith(marker)).length === 1,
      BUILD_MS,
    );

    await eventually('the reply arrived', () => repliesTo(request.id).length > 0, BUILD_MS);
    expect(await containersWith(marker)).toEqual([]);
    const [reply] = await settled(log, request.id);
    expect(reply?.workflow_error).toBe(true);
    expect(builderEntries(reply ?? {}, request.id).slice(-2)).toEqual([
      'the workflow did not finish within 30 s (build step)',
      'Milestone has failed',
    ]);
  }, 120_000);

  it('never answers for a delivery that went back to the broker when finishing outlasts its budget: one reply in all', async () => {
    const { service, log } = await start({ env: { MAX_DELIVERIES: '2' }, finishTimeoutMs: 1 });
    const request = serviceRequest(await seedRepos());
    submit(rig, request);
    const over = (l: RecordingLog['lines'][number]) =>
      l.fields.workflow_id === request.id &&
      (l.message === 'delivery acked' || l.message === 'request dead-lettered');
    await eventually('the request was answered for good', () => log.lines.some(over), BUILD_MS);
    await eventually('a reply arrived', () => repliesTo(request.id).length > 0);
    await stopService(service);

    expect(repliesTo(request.id)).toHaveLength(1);
    // Every run whose delivery went back before its reply was cleared stayed silent; a reply means an ack.
    expect(
      log.lines.filter(
        (l) => l.fields.workflow_id === request.id && l.message === 'reply sent to the orchestrator',
      ),
    ).toHaveLength(
      log.lines.some((l) => l.message === 'delivery acked' && l.fields.workflow_id === request.id) ? 1 : 0,
    );
    expect(await admin.ready(topology.builderQueue)).toBe(0);
  });

  it('acks a request whose reply was still going out when its finish budget ran out, and never runs it again', async () => {
    // The reply names an exchange that no lookup has seen yet, and the Manager answers that lookup only after the
    // one-second budget and the reporter's stop time: the reply was cleared before the lookup, so it is in flight
    // when the workflow ends.
    const slowExchange = 31;
    await manager.close();
    manager = await startFakeManager(
      withExchangeCopies(managerSeed(topology, env.amqpUrl), EXCHANGE_ID, [slowExchange]),
    );
    rig = { admin, topology, manager };
    manager.delayNext(`/messaging/exchanges/${slowExchange}`, 1_000 + DEFAULT_WORKER_SHUTDOWN_MS + 2_000);
    const { service, log } = await start({ env: { FINISH_TIMEOUT_SECONDS: '1' } });
    const request = serviceRequest(await seedRepos(), {
      workflow_orchestration_exchange_id: String(slowExchange),
    });
    submit(rig, request);

    const [reply, ...more] = await settled(log, request.id);
    await stopService(service);
    const of = (message: string) =>
      log.lines.filter((l) => l.fields.workflow_id === request.id && l.message === message);

    expect(of('finishing outlasted its budget; the workflow stops')).toHaveLength(1);
    expect(
      of('the workflow ended while its reply was going out; the reply decides its delivery'),
    ).toHaveLength(1);
    expect(reply?.workflow_error).toBe(false);
    expect(more).toEqual([]);
    expect(repliesTo(request.id)).toHaveLength(1);
    expect(of('delivery taken')).toHaveLength(1);
    expect(of('no reply went out; delivery returned to the queue')).toEqual([]);
    expect(await admin.ready(topology.builderQueue)).toBe(0);
  });

  it('runs a request whose workflow cannot start (its work directory is gone) MAX_DELIVERIES times, pausing between runs, then answers it as failed once, dead-letters it and leaves nothing running', async () => {
    const brokenRoot = scratchDir('oa-svc-broken-');
    const { service, log, hostname } = await start({ env: { BUILDER_TMPDIR: brokenRoot } });
    // The disk under BUILDER_TMPDIR changed after the start: a file now stands where the directory was.
    fs.rmSync(brokenRoot, { recursive: true });
    fs.writeFileSync(brokenRoot, 'not a directory');
    try {
      const request = serviceRequest(await seedRepos());
      submit(rig, request);
      await eventually('the failure reply arrived', () => repliesTo(request.id).length > 0, BUILD_MS);
      await eventually('the request is dead-lettered', () =>
        deadLetters.some((d) => d.fields?.id === request.id),
      );

      const [reply, ...more] = repliesTo(request.id);
      expect(more).toEqual([]);
      expect(reply).toMatchObject({ workflow_error: true, workflow_completed: true });
      expect(builderEntries(reply ?? {}, request.id)).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^the workflow could not start: .*EEXIST/),
          `Build request rejected by Builder ${hostname}`,
        ]),
      );
      const deadLettered = log.lines.filter((l) => l.message === 'request dead-lettered');
      expect(deadLettered.map((l) => l.fields.workflow_id)).toEqual([request.id]);
      // Alone, the broken replica is the only one to take it: once per pause, each run counted.
      const taken = log.lines.filter(
        (l) => l.message === 'delivery taken' && l.fields.workflow_id === request.id,
      );
      expect(taken.map((l) => l.fields.delivery_count)).toEqual([1, 2, 3]);
      expect(
        log.lines.filter((l) => l.message.startsWith('workflows paused: cannot make work directories (')),
      ).toHaveLength(1);
      expect(service.ready()).toBe(false);
      expect(await service.running()).toEqual([]);
      expect(await admin.ready(topology.builderQueue)).toBe(0);
    } finally {
      fs.rmSync(brokenRoot, { force: true });
    }
  });

  it('dead-letters undecodable and invalid requests with the reason, answers the invalid one, and goes on consuming', async () => {
    const { hostname, log } = await start();
    const repos = await seedRepos();
    const notEtf = Buffer.from(JSON.stringify({ id: 'a JSON payload, which no Elixir module sends' }));
    const { milestones: _dropped, ...invalid } = serviceRequest(repos);
    const valid = serviceRequest(repos);

    publishToBuilder(rig, notEtf);
    const invalidBytes = submit(rig, invalid);
    submit(rig, valid);
    const [validReply] = await settled(log, valid.id);

    await eventually('both rejects are dead-lettered', () => deadLetters.length >= 2);
    const reasonOf = (content: Buffer) =>
      deadLetters.find((d) => d.content.equals(content))?.headers['x-oa-reject-reason'];
    expect(reasonOf(notEtf)).toMatch(/^undecodable: /);
    const reason = 'invalid build request: milestones is required';
    expect(reasonOf(invalidBytes)).toBe(reason);
    expect(deadLetters.every((d) => d.headers['x-oa-original-queue'] === topology.builderQueue)).toBe(true);

    const [failure, ...more] = repliesTo(invalid.id);
    expect(more).toEqual([]);
    expect(failure).toMatchObject({
      workflow_error: true,
      workflow_completed: true,
      current_step: atom('build'),
    });
    expect((failure?.event_log as string[]).slice(-2)).toEqual([
      `[OA][${invalid.id}] ${reason}`,
      `[OA][${invalid.id}] Build request rejected by Builder ${hostname}`,
    ]);
    expect(manager.state.systemEvents).toEqual([
      {
        unique: true,
        type: 'unhandled_exception',
        severity: 'error',
        message: `Builder ${hostname} rejected build request ${invalid.id}: ${reason}`,
        data: { component: 'builder', exchange_id: '1', hostname, workflow_id: invalid.id, reason },
      },
    ]);

    expect(validReply).toMatchObject({
      workflow_error: false,
      source_repo_git_ref: await headOf(repos.source),
    });
    expect(await manifestStatus(repos)).toBe(200);
  });

  it('stores a system event for each of two requests rejected within the hour, and refuses only a true repeat', async () => {
    const { log } = await start();
    const repos = await seedRepos();
    const { milestones: _a, ...first } = serviceRequest(repos);
    const { milestones: _b, ...second } = serviceRequest(repos);
    const firstBytes = submit(rig, first);
    submit(rig, second);
    const raised = () => log.lines.filter((l) => l.message === 'system event raised');
    await eventually('both events were answered', () => raised().length >= 2);
    // The same request again: the same workflow rejected for the same reason is a true repeat.
    publishToBuilder(rig, firstBytes);
    await eventually('the repeat’s event was answered', () => raised().length >= 3);

    const reason = 'invalid build request: milestones is required';
    const stored = manager.state.systemEvents.map((e) => e.data as { workflow_id: string; reason: string });
    expect(stored.map((d) => d.workflow_id).sort()).toEqual([first.id, second.id].sort());
    expect(stored.every((d) => d.reason === reason)).toBe(true);
    const outcomes = raised().map((l) => [l.fields.workflow_id, l.fields.outcome]);
    expect(outcomes.slice(0, 2)).toEqual(
      expect.arrayContaining([
        [first.id, 'created'],
        [second.id, 'created'],
      ]),
    );
    expect(outcomes.slice(2)).toEqual([[first.id, 'duplicate']]);
  });

  it('answers a repeated request of a finished workflow from the registry, without building or committing again', async () => {
    const { log } = await start();
    const repos = await seedRepos({ 'install.sh.eex': timelessInstallSh() });
    const request = serviceRequest(repos);
    const bytes = submit(rig, request);
    await settled(log, request.id);
    const headAfterFirst = await headOf(repos.deployment);

    publishToBuilder(rig, bytes);
    const [first, second, ...more] = await settled(log, request.id, 2);

    expect(more).toEqual([]);
    const image = imageOf(repos.dockerUrl, await headOf(repos.source));
    expect(builderEntries(first as Record<string, Term>, request.id)).toContain(
      `The docker image ${image} does not exist, requesting docker build`,
    );
    expect(second).toMatchObject({ workflow_error: false, workflow_completed: false });
    const again = builderEntries(second as Record<string, Term>, request.id);
    expect(again).toContain(`The docker image ${image} already exists, skipping docker build`);
    expect(again.filter((m) => m.startsWith('Executing a docker build'))).toEqual([]);
    expect(await headOf(repos.deployment)).toBe(headAfterFirst);
    expect(await gitIn(repos.deployment.dir, ['rev-list', '--count', repos.deployment.branch])).toBe('2');
  });

  it('refuses to start on a health port that is taken, before registering with the Manager', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as net.AddressInfo;
    try {
      await expect(start({ env: { HEALTH_LISTEN: `127.0.0.1:${port}` } })).rejects.toMatchObject({
        code: 'EADDRINUSE',
      });
      expect(manager.state.modulePosts).toEqual([]);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('keeps registering while the Manager answers 503 at start, then comes up and builds', async () => {
    // More failures than the client's own retries of one call, so the start-up loop has to try again.
    manager.failNext('/messaging/exchanges/1/modules', 503, 6);
    const { service, hostname, log } = await start({ startRetryMs: 300 });

    const retries = log.lines.filter(
      (l) => l.message === 'module registration with the Manager failed; retrying',
    );
    expect(retries.length).toBeGreaterThanOrEqual(1);
    expect(retries.every((l) => l.level === 'warn')).toBe(true);
    expect(retries[0]?.fields).toMatchObject({ attempt: 1, retry_in_ms: 300 });
    expect(manager.state.modulePosts).toEqual([
      { exchangeId: '1', body: { hostname, type: 'builder', status: 'active', workload: [] } },
    ]);
    await eventually('the service is ready', () => service.ready());

    const repos = await seedRepos();
    const request = serviceRequest(repos);
    submit(rig, request);
    const [reply] = await settled(log, request.id);
    expect(reply).toMatchObject({ workflow_error: false, source_repo_git_ref: await headOf(repos.source) });
  });

  it('logs in again when the Manager stops accepting its token mid-run, and the next save goes through', async () => {
    const { log } = await start();
    const repos = await seedRepos();
    const request = serviceRequest(repos);
    submit(rig, request);
    await eventually(
      'the first save',
      () => manager.state.workflowPuts.some((p) => p.id === request.id),
      BUILD_MS,
    );
    expect(manager.state.logins).toHaveLength(1);

    manager.revokeTokens();
    await settled(log, request.id);

    const pushed = (): boolean =>
      ((manager.state.workflows.get(request.id)?.event_log ?? []) as string[]).some((e) =>
        e.includes('Successfully pushed image'),
      );
    await eventually('the save after the push is stored', pushed);
    expect(manager.state.logins).toHaveLength(2);
    const tokens = new Set(
      manager.state.requests
        .filter((r) => r.method === 'PUT' && r.path === `/workflows/${request.id}`)
        .map((r) => r.headers.authorization),
    );
    expect(tokens.size).toBe(2);
    expect(log.lines.filter((l) => l.message === 'workflow save failed')).toEqual([]);
  });

  it('waits out a Manager unavailable for 10 s mid-workflow: the reply goes out and the saves are stored in order', async () => {
    // The outage starts at the workflow's first save and answers 503 to everything for 10 s.
    let began: number | undefined;
    const proxy = await startFaultyProxy(manager.url, (req) => {
      if (began === undefined && req.method === 'PUT' && (req.url ?? '').startsWith('/workflows/'))
        began = Date.now();
      return began !== undefined && Date.now() - began < 10_000 ? { kind: 'status', status: 503 } : undefined;
    });
    try {
      const { log } = await start({
        env: { MANAGER_URL: proxy.url, OAUTH_LOGIN_URL: `${proxy.url}/oauth/token` },
      });
      const repos = await seedRepos();
      const request = serviceRequest(repos);
      submit(rig, request);

      const [reply, ...more] = await settled(log, request.id);

      expect(more).toEqual([]);
      expect(reply).toMatchObject({ workflow_error: false });
      expect(began).toBeDefined();
      const retries = log.lines.filter((l) =>
        /^Manager unavailable, retrying in [0-9.]+ s \(attempt [0-9]+\)$/.test(l.message),
      );
      expect(retries.length).toBeGreaterThan(0);
      expect(retries.every((l) => l.level === 'warn')).toBe(true);
      // Saves wait out the outage one after the other, so the last one stored is the workflow's last state.
      const pushed = (): boolean =>
        ((manager.state.workflows.get(request.id)?.event_log ?? []) as string[]).some((e) =>
          e.includes('Successfully pushed image'),
        );
      await eventually('the save after the push is stored', pushed, 30_000);
      expect(log.lines.filter((l) => l.message === 'workflow save failed')).toEqual([]);
    } finally {
      await proxy.close();
    }
  });

  it('stays registered through every heartbeat the Overseer forwards while eight workflows are in flight', async () => {
    // A git server that takes every request and never answers holds the eight workflows in their checkout.
    const held = http.createServer(() => undefined);
    await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', resolve));
    // A topology of its own: the eight requests go back to their queue when the service stops.
    const busy = await provisionTopology(admin);
    const beatsSeen = await tap(admin.channel, busy.queues.system_modules);
    const busyManager = await startFakeManager(managerSeed(busy, env.amqpUrl));
    try {
      const { service, hostname, log } = await startTestService({
        manager: busyManager,
        topology: busy,
        workRoot,
        env: {
          BUILDER_CONCURRENCY: '8',
          HEARTBEAT_SECONDS: '1',
          SHUTDOWN_GRACE_SECONDS: '1',
          GIT_BASE_URL: `http://127.0.0.1:${(held.address() as AddressInfo).port}/`,
        },
      });
      const repos = await seedRepos();
      for (let i = 0; i < 8; i++)
        submit({ admin, topology: busy, manager: busyManager }, serviceRequest(repos));
      await eventually(
        'eight workflows in flight',
        async () => (await service.running()).length === 8,
        BUILD_MS,
      );
      // The heartbeat counts them by step; /healthz still lists each one.
      const address = log.lines.find((l) => l.message === 'health endpoint listening')?.fields.address;
      const health = (await (await fetch(`http://${String(address)}/healthz`)).json()) as {
        workload: { workflow_id: string; step: string }[];
      };
      expect(health.workload.map((w) => w.workflow_id).sort()).toEqual([...(await service.running())].sort());

      // Every heartbeat from here on is forwarded as the Overseer does, and the module row must survive each,
      // until three of them have counted all eight (one sent before the last workflow started may count fewer)
      // or one was refused.
      const beats = () => withField(beatsSeen, 'hostname', hostname);
      const forwarded: { status: number; registered: boolean; inFlight: number; chars: number }[] = [];
      const kept = () => forwarded.every((f) => f.status === 201 && f.registered);
      for (
        let next = beats().length;
        kept() && forwarded.filter((f) => f.inFlight === 8).length < 3;
        next++
      ) {
        await eventually('the next heartbeat', () => beats().length > next, 15_000);
        const beat = beats()[next] ?? {};
        const workload = toJson(beat.workload ?? []) as { workflows: number }[];
        const status = await overseerForward(busyManager, EXCHANGE_ID, {
          hostname,
          type: atomName(beat.type),
          status: atomName(beat.status),
          workload,
        });
        forwarded.push({
          status,
          registered: busyManager.state.modules.get(EXCHANGE_ID)?.has(hostname) ?? false,
          inFlight: workload.reduce((sum, w) => sum + w.workflows, 0),
          chars: JSON.stringify(workload).length,
        });
      }
      expect(forwarded.map(({ status, registered }) => ({ status, registered }))).toEqual(
        forwarded.map(() => ({ status: 201, registered: true })),
      );
      expect(Math.max(...forwarded.map((f) => f.chars))).toBeLessThanOrEqual(255);
      await stopService(service);
    } finally {
      held.closeAllConnections();
      held.close();
      await busyManager.close();
    }
  });

  it('sends an active heartbeat with the actor tree every HEARTBEAT_SECONDS and an inactive one when it stops', async () => {
    const { service, hostname } = await start({ env: { HEARTBEAT_SECONDS: '1' } });
    const beats = () => withField(published.system_modules, 'hostname', hostname);
    const heartbeat = (status: string) => ({
      event_type: atom('status'),
      status: atom(status),
      hostname,
      type: atom('builder'),
      workload: [],
      version: BUILDER_VERSION,
    });

    await eventually('two heartbeats', () => beats().length >= 2, 5_000);
    expect(beats().slice(0, 2)).toMatchObject([heartbeat('active'), heartbeat('active')]);
    // The tree rides along under a key of its own, which the Overseer's pattern match ignores.
    const tree = toJson(beats()[0]?.health ?? null) as { status?: string; root?: { path?: string } } | null;
    expect(tree).toMatchObject({ status: 'ok', root: { path: 'app' } });

    await stopService(service);
    const inactive = () => {
      const status = beats().at(-1)?.status;
      return status !== undefined && isAtom(status) && status.name === 'inactive';
    };
    await eventually('the inactive heartbeat', inactive, 5_000);
    const count = beats().length;
    expect(beats().at(-1)).toMatchObject(heartbeat('inactive'));
    await pause(1_500);
    expect(beats()).toHaveLength(count);
  });
});

describe('a broker restart in the middle of a build', () => {
  let broker: PrivateBroker | undefined;
  let manager: FakeManager | undefined;
  let reader: BrokerAdmin | undefined;

  afterEach(async () => {
    await stopServices();
    await reader?.dispose();
    await manager?.close();
    await broker?.dispose();
  });

  it('reconnects, stops the build whose delivery went back with the channel, runs the request once more, and leaves one successful reply and an empty queue', async () => {
    // A node of the test's own: restarting the shared broker would break every other test running.
    broker = await startPrivateBroker();
    // Its connection ends with the restart; everything after it is read through a new one.
    const admin = await BrokerAdmin.open(broker.url);
    const topology = await provisionTopology(admin);
    manager = await startFakeManager(managerSeed(topology, broker.url));
    const { service, log } = await startTestService({ manager, topology, workRoot });
    const dockerfile = filesOf(DEPLOYMENT_EXAMPLE)['Dockerfile.eex'] ?? '';
    expect(dockerfile).toContain('RUN ');
    // A build that outlasts the restart (some 7 s), so the restart lands in the middle of it.
    const repos = await seedRepos({ 'Dockerfile.eex': dockerfile.replace('RUN ', 'RUN sleep 10\nRUN ') });
    const request = serviceRequest(repos);
    submit({ admin, topology, manager }, request);
    const saved = (text: string) => () =>
      manager?.state.workflowPuts.some((p) => (p.body.event_log as string[]).some((e) => e.includes(text))) ??
      false;
    await eventually('the docker build started', saved('Beginning docker image build'), BUILD_MS);

    await broker.restart();
    reader = await BrokerAdmin.open(broker.url);
    const replies = await tap(reader.channel, topology.queues.workflow_orchestration);
    await eventually('the delivery was acked', () => acked(log, request.id), BUILD_MS);
    await eventually('the reply arrived', () => withField(replies, 'id', request.id).length > 0);
    // Long enough for a second run of the redelivered copy to have replied, had there been one.
    await pause(3_000);
    await stopService(service);

    // The delivery went back to the broker with the channel, so the workflow holding it stopped (another
    // replica could have taken the request at once); the copy ran once that build was gone, and its one reply
    // settled it.
    const messages = log.lines.map((l) => l.message);
    const disconnected = messages.indexOf('broker disconnected');
    expect(disconnected).toBeGreaterThanOrEqual(0);
    const stopping = messages.indexOf(
      'the delivery went back to the broker with the channel; stopping its workflow',
    );
    expect(stopping).toBeGreaterThan(disconnected);
    expect(messages.indexOf('reply sent to the orchestrator')).toBeGreaterThan(stopping);
    expect(messages.filter((m) => m === 'workflow started')).toHaveLength(2);
    expect(messages.filter((m) => m === 'reply sent to the orchestrator')).toHaveLength(1);
    expect(log.lines.filter((l) => l.message === 'delivery acked').map((l) => l.fields.outcome)).toEqual([
      'settled',
    ]);
    const mine = withField(replies, 'id', request.id);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ workflow_error: false, source_repo_git_ref: await headOf(repos.source) });
    expect(await manifestStatus(repos)).toBe(200);
    expect(await reader.ready(topology.builderQueue)).toBe(0);
  });
});
