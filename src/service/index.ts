// The service's composition root: the same builder tree as local mode, fed by the RabbitMQ intake and
// reporting to OpenAperture (Manager, notifications, build logs, orchestrator replies).
import { intakeActor, type IntakeMsg } from '../../actors/intake';
import { send, type ActorRef, type ChildReport } from '../../actors/supervision';
import { BrokerConnection, BrokerResolver, ExchangeResolver } from '../amqp';
import { startBuilder, type Builder } from '../app';
import type { BuilderConfig } from '../config';
import { isMap, mapGet, type Term } from '../etf';
import type { Logger } from '../log';
import { ManagerClient } from '../manager';
import { encodeReply, encodeHeartbeat, readReplyRoute } from '../messages';
import { eventPrefix, type Reporter } from '../workflow/reporter';
import { BrokerPublishers, type Destination } from './publisher';
import { openApertureReporter } from './reporter';

export { openApertureReporter, workflowSaveBody } from './reporter';
export { BrokerPublishers, type Destination, type MessagePublisher } from './publisher';

/** A running service. */
export interface Service {
  readonly builder: Builder;
  /** Connected to the broker and consuming. */
  ready(): boolean;
  /** Stops consuming, stops the tree (workflows still running are reported as stopped), closes connections. */
  stop(reason?: string): Promise<void>;
}

export interface ServiceOptions {
  readonly config: BuilderConfig;
  readonly log: Logger;
  /** Delay between Manager retries while it is down at start, ms. Default 2000. */
  readonly startRetryMs?: number;
  /** Gives up on the Manager at start after this long, ms. Default 120000. */
  readonly startDeadlineMs?: number;
}

function required(value: string | undefined, name: string): string {
  if (value === undefined) throw new Error(`${name} is required in service mode`);
  return value;
}

const BUILD_LOG_ROUTES_TTL_MS = 300_000;

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
  const exchangeId = required(config.exchangeId, 'EXCHANGE_ID');
  const brokerId = required(config.brokerId, 'BROKER_ID');
  const timeoutMs = config.httpTimeoutSeconds * 1000;
  const manager = new ManagerClient({
    managerUrl: required(config.managerUrl, 'MANAGER_URL'),
    oauthLoginUrl: required(config.oauthLoginUrl, 'OAUTH_LOGIN_URL'),
    oauthClientId: required(config.oauthClientId, 'OAUTH_CLIENT_ID'),
    oauthClientSecret: required(config.oauthClientSecret, 'OAUTH_CLIENT_SECRET'),
    timeoutMs,
    logger: log.child({ component: 'manager' }),
  });
  const brokers = new BrokerResolver({ manager, logger: log });
  const exchanges = new ExchangeResolver({ manager, logger: log });
  const publisher = new BrokerPublishers({
    exchanges,
    brokers,
    amqpUrl: config.amqpUrl,
    name: `oa-builder-${config.hostname}`,
    log: log.child({ component: 'publisher' }),
  });
  const retryMs = options.startRetryMs ?? 2000;
  const deadlineMs = options.startDeadlineMs ?? 120_000;

  await untilUp(
    'module registration with the Manager',
    () =>
      manager.registerModule(exchangeId, {
        hostname: config.hostname,
        type: 'builder',
        status: 'active',
        workload: [],
      }),
    log,
    retryMs,
    deadlineMs,
  );
  log.info('registered with the Manager', { exchange_id: exchangeId, hostname: config.hostname });

  let buildLogRoutes: { at: number; routes: Promise<Destination[]> } | undefined;
  const buildLogDestinations = (): Promise<Destination[]> => {
    if (!buildLogRoutes || Date.now() - buildLogRoutes.at > BUILD_LOG_ROUTES_TTL_MS) {
      const routes = (async () => {
        const components = await manager.listSystemComponents({ type: 'manager' });
        const ids = [...new Set(components.map((c) => c.messaging_exchange_id).filter((id) => id != null))];
        return Promise.all(
          ids.map(async (id) => ({
            brokerId: await brokers.brokerFor(brokerId, exchangeId, String(id)),
            exchangeId: String(id),
            queue: 'build_logs',
          })),
        );
      })();
      // A failed lookup is tried again at the next batch instead of being cached.
      routes.catch(() => (buildLogRoutes = undefined));
      buildLogRoutes = { at: Date.now(), routes };
    }
    return buildLogRoutes.routes;
  };

  const replied = new Set<string>();
  const running = new Set<string>();
  let intake: ActorRef<IntakeMsg> | undefined;
  const reporterFor = (request: Parameters<typeof openApertureReporter>[0]): Reporter => {
    running.add(request.id);
    const reporter = openApertureReporter(request, { manager, publisher, buildLogDestinations, log });
    return {
      ...reporter,
      workflowFinished: async (result) => {
        await reporter.workflowFinished(result);
        replied.add(result.workflowId);
      },
    };
  };
  const onWorkflowExit = (report: ChildReport): void => {
    running.delete(report.id);
    const wasReplied = replied.delete(report.id);
    if (intake) send(intake, { type: 'ended', workflowId: report.id, replied: wasReplied });
  };

  // A request that cannot run still names a workflow and a reply route, most of the time: the orchestrator is
  // told, so the workflow fails instead of hanging, and ops get a system event.
  const reportRejected = async (term: Term, reason: string): Promise<void> => {
    if (!isMap(term)) return;
    const id = mapGet(term, 'id');
    if (typeof id !== 'string') return;
    await manager
      .createSystemEvent({
        unique: true,
        type: 'unhandled_exception',
        severity: 'error',
        message: `Builder ${config.hostname} rejected build request ${id}: ${reason}`,
        data: { component: 'builder', exchange_id: exchangeId, hostname: config.hostname },
      })
      .catch((err: unknown) => log.warn('system event failed', { err }));
    const route = readReplyRoute(term);
    if (!route) return;
    const received = mapGet(term, 'event_log');
    const eventLog = Array.isArray(received)
      ? received.filter((e): e is string => typeof e === 'string')
      : [];
    const prefix = eventPrefix(id);
    const reply = encodeReply(term, {
      workflow_error: true,
      workflow_completed: true,
      event_log: [
        ...eventLog,
        `${prefix} ${reason}`,
        `${prefix} Build request rejected by Builder ${config.hostname}`,
      ],
    });
    const to = {
      brokerId: route.workflow_orchestration_broker_id,
      exchangeId: route.workflow_orchestration_exchange_id,
      queue: route.orchestration_queue_name,
    };
    await publisher
      .publish(to, reply)
      .catch((err: unknown) => log.warn('failure reply for a rejected request failed', { err }));
  };

  const connection = new BrokerConnection({
    urls: config.amqpUrl ? [config.amqpUrl] : () => brokers.brokerUrls(brokerId),
    name: `oa-builder-${config.hostname}`,
    logger: log.child({ component: 'intake' }),
  });
  await untilUp('broker connection', () => connection.connect({ timeoutMs }), log, retryMs, deadlineMs);

  const beat = (status: 'active' | 'inactive'): Promise<void> =>
    publisher
      .publish(
        { brokerId, exchangeId, queue: 'system_modules' },
        encodeHeartbeat({
          hostname: config.hostname,
          status,
          workload: [...running].map((id) => ({ workflow_id: id })),
        }),
      )
      .catch((err: unknown) => log.warn('heartbeat failed', { err }));
  const heartbeat = setInterval(() => void beat('active'), config.heartbeatSeconds * 1000);
  heartbeat.unref();

  const builder = await startBuilder({
    config,
    log,
    reporterFor,
    app: {
      onWorkflowExit,
      infrastructure: {
        intake: () =>
          intakeActor({
            connection,
            queue: config.queueName,
            prefetch: config.concurrency,
            maxDeliveries: config.maxDeliveries,
            deadLetterQueue: config.deadLetterQueue,
            start: async (received) => void (await builder.start(received)),
            reportRejected,
            onRef: (ref) => (intake = ref),
          }),
      },
    },
  });
  if (intake) send(intake, { type: 'consume' });

  return {
    builder,
    ready: () => connection.isReady(),
    async stop(reason = 'stop requested') {
      clearInterval(heartbeat);
      await builder.app.stop(reason);
      await beat('inactive');
      await Promise.allSettled([connection.close(), publisher.close()]);
    },
  };
}
