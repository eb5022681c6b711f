// One build per workflow across replicas: two services on one queue of the real broker, building with the
// test engine, and a request handed to the second while the first still builds it, once because the
// orchestrator published it again and once because the first replica's broker connection was cut.
import fs from 'node:fs';
import { startFakeManager, type FakeManager } from '../../fakes/manager';
import { testEnv } from '../../harness/env';
import { startTcpProxy, type TcpProxy } from '../../harness/tcp-proxy';
import { startPrivateBroker, type PrivateBroker } from '../amqp/private-broker';
import { BrokerAdmin, eventually } from '../amqp/topology';
import { removeSeededRepos, scratchDir, seedRepos } from '../workflow/helpers';
import {
  acked,
  containersWith,
  EXCHANGE_ID,
  managerSeed,
  provisionTopology,
  serviceRequest,
  slowBuild,
  startTestService,
  stopServices,
  submit,
  tap,
  watchContainers,
  withExchangeCopies,
  withField,
  type RecordingLog,
  type Rig,
  type ServiceTopology,
  type Tapped,
} from './helpers';

const env = testEnv();
/** Long enough for a build from scratch on a busy machine. */
const BUILD_MS = 90_000;

let workRoot: string;
let admin: BrokerAdmin;

beforeAll(async () => {
  workRoot = scratchDir('oa-lease-it-');
  admin = await BrokerAdmin.open(env.amqpUrl);
});

afterAll(async () => {
  await admin?.dispose();
  await removeSeededRepos();
  fs.rmSync(workRoot, { recursive: true, force: true });
});

const logged = (log: RecordingLog, message: string, id: string): number =>
  log.lines.filter((l) => l.message === message && l.fields.workflow_id === id).length;

describe('one build of a workflow at a time across replicas', () => {
  let topology: ServiceTopology;
  let replies: Tapped[];
  let manager: FakeManager;
  let rig: Rig;
  let proxy: TcpProxy | undefined;

  beforeEach(async () => {
    topology = await provisionTopology(admin);
    replies = await tap(admin.channel, topology.queues.workflow_orchestration);
    manager = await startFakeManager(managerSeed(topology, env.amqpUrl));
    rig = { admin, topology, manager };
  });

  afterEach(async () => {
    await stopServices();
    await proxy?.close();
    proxy = undefined;
    await manager.close();
  });

  // The classic builder runs each RUN in a container the engine lists, which is how two builds show.
  const start = (env: Record<string, string> = {}) =>
    startTestService({
      manager,
      topology,
      workRoot,
      env: { BUILD_BACKEND: 'classic', BUILDER_CONCURRENCY: '1', ...env },
    });

  /** A slow build of a repository of its own, with a marker its RUN container carries. */
  async function slowRequest(seconds: number) {
    const marker = `lease-${process.pid}-${Date.now()}`;
    const request = serviceRequest(await seedRepos(slowBuild(seconds, marker)));
    return { request, marker };
  }

  it('makes a request published again while another replica builds it wait until that build is over, then answers it from the pushed image', async () => {
    const first = await start();
    const { request, marker } = await slowRequest(15);
    submit(rig, request);
    await eventually(
      'the first build runs its sleep',
      async () => (await containersWith(marker)).length === 1,
      BUILD_MS,
    );
    const watch = watchContainers(marker);
    // The first replica has no free slot, so the copy goes to the second one.
    const second = await start();
    submit(rig, request);
    await eventually('the copy was taken', () => logged(second.log, 'delivery taken', request.id) === 1);

    await eventually(
      'both requests were answered',
      () => withField(replies, 'id', request.id).length === 2,
      BUILD_MS,
    );
    await eventually('the copy was acked', () => acked(second.log, request.id));
    expect(await watch.stop()).toBe(1);
    expect(acked(first.log, request.id)).toBe(true);
    expect(
      logged(second.log, 'the workflow holds its lease elsewhere; waiting until it ends there', request.id),
    ).toBe(1);
    const answers = withField(replies, 'id', request.id);
    expect(answers.map((reply) => reply.workflow_error)).toEqual([false, false]);
    const copyLog = (answers[1]?.event_log ?? []) as string[];
    expect(
      copyLog.some((e) => typeof e === 'string' && e.includes('already exists, skipping docker build')),
    ).toBe(true);
  });

  it.each(['classic', 'quorum'] as const)(
    'stops the build of a replica cut off from the broker before the replica given the request again builds it, on a %s queue: one build at a time, one reply',
    async (queueType) => {
      // QUEUE_NAME as ops would declare it for this QUEUE_TYPE, bound where the orchestrator publishes.
      const queue = await admin.componentQueue('lease-cut', queueType, 4);
      await admin.channel.bindQueue(queue, topology.exchange, `${topology.routingKey}.builder`);
      const queued = { QUEUE_NAME: queue, QUEUE_TYPE: queueType };
      proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(env.amqpUrl).port || 5672) });
      const cutOff = await start({ ...queued, AMQP_URL: `amqp://guest:guest@127.0.0.1:${proxy.port}/` });
      const { request, marker } = await slowRequest(20);
      submit(rig, request);
      await eventually(
        'the first build runs its sleep',
        async () => (await containersWith(marker)).length === 1,
        BUILD_MS,
      );
      const other = await start(queued);
      const watch = watchContainers(marker);

      proxy.cut();
      await eventually(
        'the other replica took the request',
        () => logged(other.log, 'delivery taken', request.id) >= 1,
      );
      await eventually(
        'the request was answered',
        () => withField(replies, 'id', request.id).length > 0,
        BUILD_MS,
      );
      await eventually('the other replica acked it', () => acked(other.log, request.id));
      expect(await watch.stop()).toBe(1);
      expect(
        logged(
          cutOff.log,
          'the delivery went back to the broker with the channel; stopping its workflow',
          request.id,
        ),
      ).toBe(1);
      expect(withField(replies, 'id', request.id)).toHaveLength(1);
      expect(withField(replies, 'id', request.id)[0]?.workflow_error).toBe(false);
      expect(await containersWith(marker)).toEqual([]);
    },
    180_000,
  );
  it('withdraws the reply of a replica whose delivery went back to the broker while the reply looked its destination up, so the replica given the request again answers it alone', async () => {
    // The reply names an exchange no lookup has seen yet, and the Manager answers that lookup only after the
    // connection was cut and the other replica took the request: the reply was claimed before the cut.
    const slowExchange = 32;
    await manager.close();
    manager = await startFakeManager(
      withExchangeCopies(managerSeed(topology, env.amqpUrl), EXCHANGE_ID, [slowExchange]),
    );
    rig = { admin, topology, manager };
    const lookup = `/messaging/exchanges/${slowExchange}`;
    manager.delayNext(lookup, 12_000);
    proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(env.amqpUrl).port || 5672) });
    const cutOff = await start({ AMQP_URL: `amqp://guest:guest@127.0.0.1:${proxy.port}/` });
    const request = serviceRequest(await seedRepos(), {
      workflow_orchestration_exchange_id: String(slowExchange),
    });
    submit(rig, request);
    await eventually(
      'the reply looks its exchange up',
      () => manager.state.requests.some((r) => r.path === lookup),
      BUILD_MS,
    );
    // Consuming and idle when the cut returns the delivery to the queue, so the broker hands it over at once.
    const other = await start();

    proxy.cut();
    await eventually(
      'the other replica took the request',
      () => logged(other.log, 'delivery taken', request.id) >= 1,
    );
    await eventually(
      'the cut-off replica withdrew its reply',
      () =>
        logged(
          cutOff.log,
          'the delivery went back to the broker while the reply was readied; the attempt holding it now will reply',
          request.id,
        ) === 1,
      30_000,
    );
    await eventually(
      'the request was answered',
      () => withField(replies, 'id', request.id).length > 0,
      BUILD_MS,
    );
    await eventually('the other replica acked it', () => acked(other.log, request.id));

    expect(logged(cutOff.log, 'reply sent to the orchestrator', request.id)).toBe(0);
    expect(logged(other.log, 'reply sent to the orchestrator', request.id)).toBe(1);
    expect(withField(replies, 'id', request.id)).toHaveLength(1);
    expect(withField(replies, 'id', request.id)[0]?.workflow_error).toBe(false);
  }, 180_000);
});

describe('a broker user that may not declare the lease queues', () => {
  let broker: PrivateBroker | undefined;
  let manager: FakeManager | undefined;
  let owner: BrokerAdmin | undefined;

  afterEach(async () => {
    await stopServices();
    await owner?.dispose();
    await manager?.close();
    await broker?.dispose();
  });

  it('builds the workflow without its lease, says so at error level, and answers it once', async () => {
    // A node of the test's own: users and permissions are not the shared broker's to change.
    broker = await startPrivateBroker();
    owner = await BrokerAdmin.open(broker.url);
    const topology = await provisionTopology(owner);
    const replies = await tap(owner.channel, topology.queues.workflow_orchestration);
    await broker.ctl('add_user', 'oa-no-lease', 'no-lease-secret');
    await broker.ctl('set_permissions', '-p', '/', 'oa-no-lease', '^(?!oa-builder\\.lease\\.).*', '.*', '.*');
    manager = await startFakeManager(managerSeed(topology, broker.url));
    const { log } = await startTestService({
      manager,
      topology,
      workRoot,
      env: { AMQP_URL: broker.url.replace('guest:guest', 'oa-no-lease:no-lease-secret') },
    });
    const request = serviceRequest(await seedRepos());
    submit({ admin: owner, topology, manager }, request);

    await eventually('the reply arrived', () => withField(replies, 'id', request.id).length > 0, BUILD_MS);
    await eventually('the delivery was acked', () => acked(log, request.id));
    expect(withField(replies, 'id', request.id)).toHaveLength(1);
    expect(withField(replies, 'id', request.id)[0]?.workflow_error).toBe(false);
    const unguarded = log.lines.filter(
      (l) => l.message === 'the workflow lease could not be taken; starting without it',
    );
    expect(unguarded.map((l) => [l.level, l.fields.workflow_id])).toEqual([['error', request.id]]);
  }, 180_000);
});
