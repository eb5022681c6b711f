import type { FarmStatus } from '../../../actors/farm';
import type { HealthTree } from '../../../actors/supervision';
import { PrometheusMetrics } from '../../../src/health/metrics';
import { parseListen, startHealthServer, type HealthServer } from '../../../src/health/server';

const tree = (status: HealthTree['status'], restartCount = 0): HealthTree => ({
  status,
  at: new Date().toISOString(),
  actors: 2,
  deadLetters: 0,
  abandoned: [],
  processFailures: { count: 0, last: null },
  root: {
    id: 'app',
    path: 'app',
    kind: 'supervisor',
    state: 'running',
    restartCount: 0,
    lastFailure: null,
    mailboxDepth: 0,
    children: [
      {
        id: 'heartbeat',
        path: 'app/heartbeat',
        kind: 'worker',
        state: 'running',
        restartCount,
        lastFailure: null,
        mailboxDepth: 0,
        children: [],
      },
    ],
  },
});

let server: HealthServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const farm: FarmStatus = {
  engines: [
    {
      endpoint: 'tcp://build-1:2375',
      healthy: true,
      apiVersion: '1.41',
      slots: 4,
      inUse: 1,
      failures: 0,
      lastError: null,
      builds: { ok: 7, failed: 1, unreachable: 0, stopped: 0 },
      startCleanup: { images: 2, bytes: 4096 },
      recordedRemoved: 3,
    },
    {
      endpoint: 'tcp://build-2:2375',
      healthy: false,
      apiVersion: null,
      slots: 2,
      inUse: 0,
      failures: 3,
      lastError: 'docker engine tcp://build-2:2375 is unreachable: ECONNREFUSED',
      builds: { ok: 2, failed: 0, unreachable: 1, stopped: 0 },
      startCleanup: null,
      recordedRemoved: null,
    },
  ],
  leases: [{ workflowId: 'wf-1', endpoint: 'tcp://build-1:2375', reason: 'affinity' }],
  waiting: 2,
  waitsTotal: 3,
  waitSecondsTotal: 4.5,
};

async function serve(
  status: HealthTree['status'],
  ready: () => boolean,
  metrics = new PrometheusMetrics({ slots: 3, health: () => Promise.resolve(tree(status, 2)) }),
  farmStatus?: () => Promise<FarmStatus>,
) {
  server = await startHealthServer('127.0.0.1:0', {
    health: () => Promise.resolve(tree(status)),
    ...(farmStatus ? { farm: farmStatus } : {}),
    ready,
    metrics: async () => ({
      contentType: metrics.registry.contentType,
      body: await metrics.registry.metrics(),
    }),
  });
  return { base: `http://${server.address}`, metrics };
}

describe('the health endpoint', () => {
  it('answers /healthz with the actor tree while the root runs, and 503 once it is down', async () => {
    const up = await serve('degraded', () => true);
    const res = await fetch(`${up.base}/healthz`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as HealthTree).root.children[0]?.path).toBe('app/heartbeat');
    await server?.close();
    const down = await serve('down', () => true);
    expect((await fetch(`${down.base}/healthz`)).status).toBe(503);
  });

  it('flips /readyz to 503 when the service stops being ready, as during a drain', async () => {
    let ready = true;
    const { base } = await serve('ok', () => ready);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    ready = false;
    const res = await fetch(`${base}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ ready: false });
  });

  it('serves Prometheus metrics that move as workflows run', async () => {
    const { base, metrics } = await serve('ok', () => true);
    metrics.workflowStarted('w1');
    metrics.stepStarted('w1', 'build');
    metrics.stepFinished('w1', 'build', 'ok', 1500);
    let text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/^oa_builder_workflows_running 1$/m);
    expect(text).toMatch(/^oa_builder_workflow_slots 3$/m);
    expect(text).toMatch(/^oa_builder_step_duration_seconds_count\{step="build",outcome="ok"\} 1$/m);
    expect(text).toMatch(/^oa_builder_actor_restarts\{actor="app\/heartbeat"\} 2$/m);
    metrics.workflowFinished('w1', 'succeeded');
    metrics.deadLettered();
    metrics.buildLogLinesDropped(5);
    metrics.retried('git server');
    metrics.retried('git server');
    metrics.retried('Manager');
    text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/^oa_builder_workflows_running 0$/m);
    expect(text).toMatch(/^oa_builder_workflows_finished_total\{result="succeeded"\} 1$/m);
    expect(text).toMatch(/^oa_builder_dead_lettered_total 1$/m);
    expect(text).toMatch(/^oa_builder_build_log_lines_dropped_total 5$/m);
    expect(text).toMatch(/^oa_builder_dependency_retries_total\{dependency="git server"\} 2$/m);
    expect(text).toMatch(/^oa_builder_dependency_retries_total\{dependency="Manager"\} 1$/m);
  });

  it('counts the workflows in each step, the slot time used and the queue wait, and names its version', async () => {
    let clock = 1_000_000;
    const metrics = new PrometheusMetrics({
      slots: 2,
      health: () => Promise.resolve(tree('ok')),
      now: () => clock,
    });
    const { base } = await serve('ok', () => true, metrics);
    const scrape = async () => (await fetch(`${base}/metrics`)).text();
    metrics.workflowStarted('w1', 4_000);
    metrics.workflowStarted('w2', -50);
    metrics.stepStarted('w1', 'build');
    metrics.stepStarted('w2', 'checkout');
    clock += 3_000;
    let text = await scrape();
    expect(text).toMatch(/^oa_builder_workflows_in_step\{step="build"\} 1$/m);
    expect(text).toMatch(/^oa_builder_workflows_in_step\{step="checkout"\} 1$/m);
    expect(text).toMatch(/^oa_builder_workflows_in_step\{step="verify"\} 0$/m);
    expect(text).toMatch(/^oa_builder_slot_busy_seconds_total 6$/m);
    // The negative wait is two clocks disagreeing: not counted.
    expect(text).toMatch(/^oa_builder_queue_wait_seconds_count 1$/m);
    expect(text).toMatch(/^oa_builder_queue_wait_seconds_sum 4$/m);
    expect(text).toMatch(/^oa_builder_build_info\{version="\d+\.\d+\.\d+[^"]*",node="v\d+[^"]*"\} 1$/m);

    metrics.stepFinished('w2', 'checkout', 'ok', 3_000);
    // A workflow that ends in a step (it crashed, say) leaves it too.
    metrics.workflowFinished('w1', 'failed');
    clock += 1_000;
    text = await scrape();
    expect(text).toMatch(/^oa_builder_workflows_in_step\{step="build"\} 0$/m);
    expect(text).toMatch(/^oa_builder_workflows_in_step\{step="checkout"\} 0$/m);
    expect(text).toMatch(/^oa_builder_slot_busy_seconds_total 7$/m);
  });

  it('lists the build engines and where each workflow builds in /healthz, and their figures in /metrics', async () => {
    const read = () => Promise.resolve(farm);
    const health = () => Promise.resolve(tree('ok'));
    const { base } = await serve(
      'ok',
      () => true,
      new PrometheusMetrics({ slots: 3, health, farm: read }),
      read,
    );

    expect(await (await fetch(`${base}/healthz`)).json()).toMatchObject({ status: 'ok', farm });
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/^oa_builder_engine_healthy\{engine="tcp:\/\/build-2:2375"\} 0$/m);
    expect(text).toMatch(/^oa_builder_engine_slots_in_use\{engine="tcp:\/\/build-1:2375"\} 1$/m);
    expect(text).toMatch(/^oa_builder_engine_slots\{engine="tcp:\/\/build-2:2375"\} 2$/m);
    expect(text).toMatch(/^oa_builder_engine_failures\{engine="tcp:\/\/build-2:2375"\} 3$/m);
    expect(text).toMatch(
      /^oa_builder_engine_builds_total\{engine="tcp:\/\/build-1:2375",outcome="failed"\} 1$/m,
    );
    expect(text).toMatch(/^oa_builder_engine_builds_waiting 2$/m);
    expect(text).toMatch(/^oa_builder_engine_wait_seconds_total 4.5$/m);
  });

  it('shows the farm as null in /healthz while it does not answer, and no engine figures', async () => {
    const restarting = () => Promise.reject(new Error('the farm is restarting'));
    const health = () => Promise.resolve(tree('degraded'));
    const metrics = new PrometheusMetrics({ slots: 3, health, farm: restarting });
    const { base } = await serve('degraded', () => true, metrics, restarting);

    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'degraded', farm: null });
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).not.toMatch(/^oa_builder_engine_healthy\{/m);
    expect(text).toMatch(/^oa_builder_engine_builds_waiting 0$/m);
  });

  it('refuses methods other than GET and names its paths on a 404', async () => {
    const { base } = await serve('ok', () => true);
    expect((await fetch(`${base}/healthz`, { method: 'POST' })).status).toBe(405);
    const res = await fetch(`${base}/nope`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ paths: ['/healthz', '/readyz', '/metrics'] });
  });
});

describe('HEALTH_LISTEN', () => {
  it('reads host:port, [v6]:port and :port, and refuses anything else', () => {
    expect(parseListen('127.0.0.1:9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseListen('[::1]:9464')).toEqual({ host: '::1', port: 9464 });
    expect(parseListen(':9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(() => parseListen('9464')).toThrow('HEALTH_LISTEN must be host:port');
    expect(() => parseListen('host:70000')).toThrow(RangeError);
  });
});
