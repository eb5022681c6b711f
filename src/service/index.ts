// The service's composition root: the same builder tree as local mode, fed by the RabbitMQ intake and
// reporting to OpenAperture (Manager, notifications, build logs, orchestrator replies).
import { setTimeout as sleep } from 'node:timers/promises';
import { heartbeatActor } from '../../actors/heartbeat';
import { httpActor } from '../../actors/http';
import { intakeActor, intakeMemory, type IntakeMsg, type WorkloadEntry } from '../../actors/intake';
import { ask, send, type ActorRef, type ChildReport } from '../../actors/supervision';
import { BrokerConnection, BrokerResolver, ExchangeResolver } from '../amqp';
import { LookupCache } from '../amqp/cache';
import { configRedactor, startBuilder, type Builder } from '../app';
import { urlPassword, type Redactor } from '../redact';
import { recordedImages } from '../docker/image-record';
import { removeWorkDirs, staleWorkDirs } from '../repo';
import { consumerTimeoutMs, type BuilderConfig } from '../config';
import { isMap, mapGet, type Json, type Term } from '../etf';
import type { Logger } from '../log';
import { ManagerClient } from '../manager';
import type { RetryNotice } from '../outage';
import { encodeReply, encodeHeartbeat, readReplyRoute } from '../messages';
import { redactTerm } from '../workflow/redacting-reporter';
import { eventPrefix, type Reporter } from '../workflow/reporter';
import { PrometheusMetrics } from '../health/metrics';
import { startHealthServer, type HealthServer, type HealthSource } from '../health/server';
import { BUILDER_VERSION } from '../version';
import { lifecycleReporter } from './lifecycle';
import { BrokerPublishers, type Destination } from './publisher';
import { openApertureReporter, replyDestination, type ReplyCommit } from './reporter';
import { unhandledException } from './system-event';
import { workloadByStep } from './workload';

export { openApertureReporter, workflowSaveBody } from './reporter';
export { BrokerPublishers, type Destination, type MessagePublisher } from './publisher';

/** A running service. */
export interface Service {
  readonly builder: Builder;
  /** Connected to the broker and consuming, and not draining. */
  ready(): boolean;
  draining(): boolean;
  /** Ids of the workflows in flight, as the intake knows them. */
  running(): Promise<string[]>;
  /**
   * Drains: stops consuming (basic.cancel), lets the workflows in flight finish for up to `graceMs` (default
   * SHUTDOWN_GRACE_SECONDS), then stops the tree, which aborts the rest: they are reported as stopped and their
   * deliveries are left unacknowledged, so the broker gives them to another replica. Then the last heartbeat
   * (`inactive`) and the connections close.
   */
  stop(reason?: string, graceMs?: number): Promise<void>;
}

export interface ServiceOptions {
  readonly config: BuilderConfig;
  readonly log: Logger;
  /** Delay between Manager retries while it is down at start, ms. Default 2000. */
  readonly startRetryMs?: number;
  /** Gives up on the Manager at start after this long, ms. Default 120000. */
  readonly startDeadlineMs?: number;
  /** Masks secrets in every output; learns the OAuth access tokens and broker passwords. Default: the configuration's. */
  readonly redactor?: Redactor;
  /** Replaces FINISH_TIMEOUT_SECONDS with a budget in ms, for tests that need one under a second. */
  readonly finishTimeoutMs?: number;
}

function required(value: string | undefined, name: string): string {
  if (value === undefined) throw new Error(`${name} is required in service mode`);
  return value;
}

const BUILD_LOG_ROUTES_TTL_MS = 300_000;
/** How long a reply waits for the intake's go-ahead; the intake never waits inside its handler. */
const CLAIM_TIMEOUT_MS = 10_000;
/** How long a look at the workload waits for the intake. */
const WORKLOAD_TIMEOUT_MS = 5_000;

/** Retries `work` until it succeeds or `deadlineMs` passes, logging each failure: the Manager may start after us. */
async function untilUp<T>(
  what: string,
  work: () => Promise<T>,
  log: Logger,
  retryMs: number,
  deadlineMs: number,
): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (err) {
      if (Date.now() + retryMs > deadline) throw err;
      log.warn(`${what} failed; retrying`, { attempt, retry_in_ms: retryMs, err });
      await new Promise((resolve) => setTimeout(resolve, retryMs));
    }
  }
}

/**
 * Starts the builder as an OpenAperture system module: registers it with the Manager (the orchestrator only
 * dispatches to exchanges with a registered builder), starts the tree, then consumes QUEUE_NAME.
 */
export async function startService(options: ServiceOptions): Promise<Service> {
  const { config, log } = options;
  const redactor = options.redactor ?? configRedactor(config);
  const exchangeId = required(config.exchangeId, 'EXCHANGE_ID');
  const brokerId = required(config.brokerId, 'BROKER_ID');
  // The tree's own children (health endpoint, intake) reach the tree through this once it has started.
  const started: { builder?: Builder } = {};
  const treeHealth = async () => {
    if (!started.builder) throw new Error('the builder is starting');
    return redactor.redactValue(await started.builder.app.health());
  };
  const farm = async () => {
    if (!started.builder) throw new Error('the builder is starting');
    return started.builder.farm();
  };
  const metrics = new PrometheusMetrics({ slots: config.concurrency, health: treeHealth, farm });
  const timeoutMs = config.httpTimeoutSeconds * 1000;
  const onRetry = (notice: RetryNotice): void => metrics.retried(notice.dependency);
  const manager = new ManagerClient({
    managerUrl: required(config.managerUrl, 'MANAGER_URL'),
    oauthLoginUrl: required(config.oauthLoginUrl, 'OAUTH_LOGIN_URL'),
    oauthClientId: required(config.oauthClientId, 'OAUTH_CLIENT_ID'),
    oauthClientSecret: required(config.oauthClientSecret, 'OAUTH_CLIENT_SECRET'),
    timeoutMs,
    retry: { budgetMs: config.outageBudgetSeconds * 1000, onRetry },
    logger: log.child({ component: 'manager' }),
    onToken: (token, expiresAt) => redactor.add(token, expiresAt),
  });
  const resolver = new BrokerResolver({ manager, logger: log });
  // Broker passwords come from the Manager at run time; the redactor learns each before it could be logged.
  const brokers = {
    brokerUrls: async (id: string): Promise<string[]> => {
      const urls = await resolver.brokerUrls(id);
      for (const url of urls) redactor.add(urlPassword(url));
      return urls;
    },
    brokerFor: (src: string, srcExchange: string, dst: string) => resolver.brokerFor(src, srcExchange, dst),
  };
  const exchanges = new ExchangeResolver({ manager, logger: log });
  const publisher = new BrokerPublishers({
    exchanges,
    brokers,
    amqpUrl: config.amqpUrl,
    name: `oa-builder-${config.hostname}`,
    outage: { budgetMs: config.outageBudgetSeconds * 1000, onRetry },
    log: log.child({ component: 'publisher' }),
  });
  const retryMs = options.startRetryMs ?? 2000;
  const deadlineMs = options.startDeadlineMs ?? 120_000;

  const intake = intakeMemory();
  const healthSource: HealthSource = {
    health: async () => ({
      ...(await treeHealth()),
      workload: await workload(),
      ...(intake.pause ? { paused: { reason: intake.pause.reason, since: intake.pause.since } } : {}),
    }),
    farm,
    // Not ready before the tree (and the broker connection it needs) is up.
    ready: () => started.builder !== undefined && readiness(),
    metrics: async () => ({
      contentType: metrics.registry.contentType,
      body: await metrics.registry.metrics(),
    }),
  };
  // Bound before registering: a port that is taken stops the start before the Manager lists this replica.
  let bound: HealthServer | undefined = await startHealthServer(config.healthListen, healthSource);
  const handOver = (): HealthServer | undefined => {
    const server = bound;
    bound = undefined;
    return server;
  };
  // A start that fails after this point closes the server, unless the tree has taken it over.
  const failedStart = async (err: unknown): Promise<never> => {
    await handOver()?.close();
    throw err;
  };

  await untilUp(
    'module registration with the Manager',
    () =>
      manager.registerModule(
        exchangeId,
        {
          hostname: config.hostname,
          type: 'builder',
          status: 'active',
          workload: [],
        },
        { retry: { attempts: 1 } },
      ),
    log,
    retryMs,
    deadlineMs,
  ).catch(failedStart);
  log.info('registered with the Manager', { exchange_id: exchangeId, hostname: config.hostname });
  const staleDirs = await staleWorkDirs(config.workDir);
  // Read before the directories go: the images a killed predecessor's builds committed, for the farm to remove.
  const leftoverImages = await recordedImages(staleDirs);
  const stale = await removeWorkDirs(staleDirs);
  if (stale.length > 0) log.warn('removed work directories a previous run left behind', { removed: stale });

  // Which Managers to stream build logs to, looked up again every few minutes like every Manager lookup.
  const buildLogRoutes = new LookupCache<Destination[]>(BUILD_LOG_ROUTES_TTL_MS, Date.now, log);
  const buildLogDestinations = (): Promise<Destination[]> =>
    buildLogRoutes.get('build_logs', async () => {
      const components = await manager.listSystemComponents({ type: 'manager' });
      const ids = [...new Set(components.map((c) => c.messaging_exchange_id).filter((id) => id != null))];
      return Promise.all(
        ids.map(async (id) => ({
          brokerId: await brokers.brokerFor(brokerId, exchangeId, String(id)),
          exchangeId: String(id),
          queue: 'build_logs',
        })),
      );
    });

  let draining = false;
  const origin = { hostname: config.hostname, exchangeId };
  const raiseEvent = (workflowId: string, reason: string, message: string): Promise<void> =>
    manager.createSystemEvent(unhandledException(origin, workflowId, reason, message)).then(
      (outcome) => void log.info('system event raised', { workflow_id: workflowId, outcome }),
      (err: unknown) => log.warn('system event failed', { workflow_id: workflowId, err }),
    );
  // The intake owns every delivery's life; workflows tell it of their reply and their end.
  const intakeRef = (): ActorRef<IntakeMsg> | undefined =>
    started.builder?.app.child('intake') as ActorRef<IntakeMsg> | undefined;
  /** The workflows in flight and the step each is in, from the intake: counted by step in the heartbeat, listed on /healthz. */
  async function workload(): Promise<WorkloadEntry[]> {
    const ref = intakeRef();
    return ref ? ask(ref, { type: 'workload' }, WORKLOAD_TIMEOUT_MS) : [];
  }
  const commitFor = (workflowId: string): ReplyCommit => ({
    claim: async (status) => {
      const ref = intakeRef();
      if (!ref) return false;
      return ask(ref, { type: 'claim-reply', workflowId, status }, CLAIM_TIMEOUT_MS).catch((err: unknown) => {
        log.warn('the intake did not clear the reply; none goes out', { workflow_id: workflowId, err });
        return false;
      });
    },
    confirm: async () => {
      const ref = intakeRef();
      if (!ref) return false;
      return ask(ref, { type: 'confirm-reply', workflowId }, CLAIM_TIMEOUT_MS).catch((err: unknown) => {
        log.warn('the intake did not confirm the reply; none goes out', { workflow_id: workflowId, err });
        return false;
      });
    },
    settle: (sent) => {
      const ref = intakeRef();
      if (ref) send(ref, { type: 'replied', workflowId, sent });
    },
  });
  const reporterFor = (request: Parameters<typeof openApertureReporter>[0]): Reporter => {
    const reporter = lifecycleReporter(
      request,
      openApertureReporter(
        request,
        {
          manager,
          publisher,
          buildLogDestinations,
          raiseEvent,
          log,
          onLinesDropped: (count) => metrics.buildLogLinesDropped(count),
        },
        commitFor(request.id),
      ),
      { log, metrics },
    );
    return {
      ...reporter,
      stepStarted: (step, snapshot) => {
        const ref = intakeRef();
        if (ref) send(ref, { type: 'step', workflowId: request.id, step });
        reporter.stepStarted(step, snapshot);
      },
    };
  };
  const onWorkflowExit = (report: ChildReport): void => {
    const ref = intakeRef();
    if (ref) send(ref, { type: 'ended', workflowId: report.id });
  };

  // A request that cannot run still names a workflow and a reply route, most of the time: the orchestrator is
  // told, so the workflow fails instead of hanging, and ops get a system event.
  const reportRejected = async (term: Term, reason: string): Promise<void> => {
    if (!isMap(term)) return;
    const id = mapGet(term, 'id');
    if (typeof id !== 'string') return;
    await raiseEvent(id, reason, `Builder ${config.hostname} rejected build request ${id}: ${reason}`);
    const route = readReplyRoute(term);
    if (!route) return;
    const received = mapGet(term, 'event_log');
    const eventLog = Array.isArray(received)
      ? received.filter((e): e is string => typeof e === 'string')
      : [];
    const prefix = eventPrefix(id);
    const reply = encodeReply(redactTerm(term, redactor), {
      workflow_error: true,
      workflow_completed: true,
      event_log: [
        ...eventLog.map((e) => redactor.redact(e)),
        `${prefix} ${reason}`,
        `${prefix} Build request rejected by Builder ${config.hostname}`,
      ],
    });
    await publisher
      .publish(replyDestination(route), reply)
      .catch((err: unknown) => log.warn('failure reply for a rejected request failed', { err }));
  };

  // Ready means taking work: connected, the consumer registered, not draining, and starting workflows.
  const readiness = (): boolean => {
    const health = connection.health();
    return !draining && health.ready && health.consuming && intake.pause === undefined;
  };
  const connection = new BrokerConnection({
    urls: config.amqpUrl ? [config.amqpUrl] : () => brokers.brokerUrls(brokerId),
    name: `oa-builder-${config.hostname}`,
    logger: log.child({ component: 'intake' }),
  });
  await untilUp('broker connection', () => connection.connect({ timeoutMs }), log, retryMs, deadlineMs).catch(
    failedStart,
  );

  const beat = async (status: 'active' | 'inactive'): Promise<void> =>
    publisher
      .publish(
        { brokerId, exchangeId, queue: 'system_modules' },
        encodeHeartbeat({
          hostname: config.hostname,
          status,
          workload: workloadByStep((await workload().catch(() => [])).map((entry) => entry.step)),
          health: (await treeHealth().catch(() => null)) as Json | null,
          version: BUILDER_VERSION,
        }),
        // The next beat is due soon; repeating this one would only make the two arrive out of order.
        { once: true },
      )
      .catch((err: unknown) => log.warn('heartbeat failed', { err }));

  const pollMs = config.killSwitchSeconds * 1000;
  // The original polled only during docker build; a workflow errored in the Manager is stopped at any step.
  const killSwitch = async (request: { id: string }, signal: AbortSignal): Promise<string> => {
    for (;;) {
      await sleep(pollMs, undefined, { signal });
      try {
        const record = await manager.getWorkflow(request.id, { signal });
        if (record.workflow_error === true)
          return 'the workflow was marked as errored in the Manager; the build was stopped';
      } catch (err) {
        if (signal.aborted) throw err;
        log.warn('kill switch: the workflow record could not be read', { workflow_id: request.id, err });
      }
    }
  };
  const builder = await startBuilder({
    config,
    log,
    redactor,
    reporterFor,
    killSwitch,
    leftoverImages,
    ...(options.finishTimeoutMs === undefined ? {} : { finishTimeoutMs: options.finishTimeoutMs }),
    onRetry,
    app: {
      onWorkflowExit,
      infrastructure: {
        heartbeat: () => heartbeatActor({ intervalMs: config.heartbeatSeconds * 1000, beat }),
        http: () => httpActor(config.healthListen, healthSource, handOver),
        intake: () =>
          intakeActor({
            connection,
            queue: config.queueName,
            prefetch: config.concurrency,
            maxDeliveries: config.maxDeliveries,
            queueType: config.queueType,
            deadLetterQueue: config.deadLetterQueue,
            consumerTimeoutMs: consumerTimeoutMs(config),
            start: async (received, stop) => {
              if (!started.builder) throw new Error('the builder is starting');
              await started.builder.start(received, stop);
            },
            metrics,
            reportRejected,
            memory: intake,
          }),
      },
    },
  }).catch(failedStart);
  started.builder = builder;
  if (intake.ref) send(intake.ref, { type: 'consume' });

  return {
    builder,
    ready: readiness,
    draining: () => draining,
    running: async () => (await workload()).map((entry) => entry.workflow_id),
    async stop(reason = 'stop requested', graceMs = config.shutdownGraceSeconds * 1000) {
      draining = true;
      if (intake.ref) send(intake.ref, { type: 'drain' });
      const deadline = Date.now() + graceMs;
      const inFlight = async (): Promise<string[]> =>
        (await workload().catch(() => [])).map((entry) => entry.workflow_id);
      let left = await inFlight();
      while (left.length > 0 && Date.now() < deadline) {
        await sleep(100);
        left = await inFlight();
      }
      if (left.length > 0)
        log.warn('grace period over; stopping the workflows still running', { running: left });
      await builder.app.stop(reason);
      await Promise.allSettled([connection.close(), publisher.close()]);
    },
  };
}
