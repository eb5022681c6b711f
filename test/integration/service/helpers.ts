// What the service tests share: the broker topology ops provision by hand for one builder (a root topic
// exchange with the component queues bound below it), a fake Manager whose records describe that topology, a
// service configured against both, and taps that keep what the builder publishes, decoded, for the assertions.
import type { Channel, ConsumeMessage } from 'amqplib';
import { errorQueueName } from '../../../src/amqp';
import { loadConfig } from '../../../src/config';
import { decode, encode, isAtom, isMap, type Term } from '../../../src/etf';
import { jsonRequestTerm } from '../../../src/messages/request-file';
import { startService, type Service } from '../../../src/service';
import type { FakeManager, FakeManagerSeed } from '../../fakes/manager';
import { recordingLogger } from '../../fakes/logger';
import { dockerModem } from '../../harness/docker';
import { uniqueName } from '../../harness/env';
import type { BrokerAdmin } from '../amqp/topology';
import {
  buildRequest,
  DEPLOYMENT_EXAMPLE,
  filesOf,
  localEnv,
  type RequestJson,
  type SeededRepos,
} from '../workflow/helpers';

/** The logical queues the builder publishes to, each watched through the physical queue ops bound to it. */
export const PUBLISHED = [
  'workflow_orchestration',
  'notifications_hipchat',
  'system_modules',
  'build_logs',
] as const;
export type PublishedQueue = (typeof PUBLISHED)[number];

/** The Manager ids everything in these tests lives under: one broker, one exchange. */
export const BROKER_ID = '1';
export const EXCHANGE_ID = '1';

export interface ServiceTopology {
  /** The root topic exchange, which is also the Manager exchange's `name`. */
  exchange: string;
  /** The exchange's `routing_key_fragment`; it has no parent, so this is its routing key too. */
  routingKey: string;
  /** QUEUE_NAME, bound with `<routingKey>.builder`. */
  builderQueue: string;
  /** `<builderQueue>_error`, declared up front as ops would, so it can be watched from the start. */
  deadLetterQueue: string;
  /** The queue bound with `<routingKey>.<logical name>`, for every queue the builder publishes to. */
  queues: Record<PublishedQueue, string>;
}

/**
 * Declares through `admin` (which deletes it all on dispose) what ops would: a durable topic exchange and,
 * bound to it, the builder queue with the dead-letter arguments plus one queue per logical queue the builder
 * publishes to. Names are unique, so runs in parallel never share a message.
 */
export async function provisionTopology(admin: BrokerAdmin): Promise<ServiceTopology> {
  const exchange = uniqueName('oa-test-root');
  // Topic words are split on dots only, but a fragment without punctuation reads like the real ones.
  const routingKey = uniqueName('oatest').replace(/-/g, '');
  await admin.topicExchange(exchange);
  const bound = async (logical: string): Promise<string> => {
    const queue = await admin.componentQueue(`${routingKey}.${logical}`);
    await admin.channel.bindQueue(queue, exchange, `${routingKey}.${logical}`);
    return queue;
  };
  const builderQueue = await bound('builder');
  const deadLetterQueue = errorQueueName(builderQueue);
  await admin.channel.assertQueue(deadLetterQueue, { durable: true });
  const queues = {} as Record<PublishedQueue, string>;
  for (const logical of PUBLISHED) queues[logical] = await bound(logical);
  return { exchange, routingKey, builderQueue, deadLetterQueue, queues };
}

/** The Manager's records of `topology`: broker 1 reachable at `amqpUrl`, exchange 1, and a Manager in it. */
export function managerSeed(topology: ServiceTopology, amqpUrl: string): FakeManagerSeed {
  const url = new URL(amqpUrl);
  const vhost = decodeURIComponent(url.pathname.slice(1));
  return {
    brokers: [{ id: Number(BROKER_ID), name: 'test broker' }],
    connections: [
      {
        id: 1,
        messaging_broker_id: Number(BROKER_ID),
        username: decodeURIComponent(url.username),
        password: decodeURIComponent(url.password),
        host: url.hostname,
        port: Number(url.port || 5672),
        virtual_host: vhost === '' ? null : vhost,
      },
    ],
    exchanges: [
      { id: Number(EXCHANGE_ID), name: topology.exchange, routing_key_fragment: topology.routingKey },
    ],
    systemComponents: [{ id: 1, type: 'manager', messaging_exchange_id: Number(EXCHANGE_ID) }],
  };
}

/**
 * `seed` with copies of exchange `of` under the ids `ids`: the same exchange, routed the same way, under ids no
 * replica has looked up yet, so a request naming one makes its reply look the exchange up at the Manager.
 */
export function withExchangeCopies(
  seed: FakeManagerSeed,
  of: string,
  ids: readonly number[],
): FakeManagerSeed {
  const exchanges = seed.exchanges ?? [];
  const original = exchanges.find((e) => String(e.id) === of);
  if (!original) throw new Error(`the Manager's seed has no exchange ${of}`);
  return { ...seed, exchanges: [...exchanges, ...ids.map((id) => ({ ...original, id }))] };
}

/** One message taken off a watched queue. */
export interface Tapped {
  readonly content: Buffer;
  readonly headers: Record<string, unknown>;
  readonly persistent: boolean;
  /** The decoded term, or undefined when the bytes are not ETF. */
  readonly term: Term | undefined;
  /** The fields by name when the term is a map whose keys are all atoms, as Elixir readers need them. */
  readonly fields: Record<string, Term> | undefined;
}

function atomFields(term: Term | undefined): Record<string, Term> | undefined {
  if (term === undefined || !isMap(term)) return undefined;
  const fields: Record<string, Term> = {};
  for (const [key, value] of term.entries) {
    if (!isAtom(key)) return undefined;
    fields[key.name] = value;
  }
  return fields;
}

function tapped(message: ConsumeMessage): Tapped {
  let term: Term | undefined;
  try {
    term = decode(message.content);
  } catch {
    term = undefined;
  }
  return {
    content: message.content,
    headers: message.properties.headers ?? {},
    persistent: message.properties.deliveryMode === 2,
    term,
    fields: atomFields(term),
  };
}

/** Consumes `queue` on `channel` without acks, as its Elixir reader would, keeping every message in the array. */
export async function tap(channel: Channel, queue: string): Promise<Tapped[]> {
  const seen: Tapped[] = [];
  await channel.consume(queue, (message) => void (message && seen.push(tapped(message))), { noAck: true });
  return seen;
}

/** The messages of a watched queue whose atom-keyed `field` equals `value`. */
export function withField(messages: readonly Tapped[], field: string, value: Term): Record<string, Term>[] {
  return messages.flatMap((m) => (m.fields && m.fields[field] === value ? [m.fields] : []));
}

/** The example build request as the orchestrator sends it: both flags present, rooms to notify. */
export function serviceRequest(repos: SeededRepos, overrides: Record<string, unknown> = {}): RequestJson {
  return buildRequest(repos, {
    workflow_error: false,
    workflow_completed: false,
    notifications_config: { hipchat: { room_names: ['ops'] } },
    ...overrides,
  });
}

/**
 * Deployment-repo files whose image build takes at least `seconds`, so a stop can land in the middle of it. A
 * `marker` goes into the command of the slow step's container, which {@link containersWith} finds by it.
 */
export function slowBuild(seconds: number, marker?: string): Record<string, string> {
  const dockerfile = filesOf(DEPLOYMENT_EXAMPLE)['Dockerfile.eex'] ?? '';
  if (!dockerfile.includes('RUN '))
    throw new Error('the example Dockerfile.eex has no RUN line to slow down');
  const comment = marker === undefined ? '' : ` # ${marker}`;
  return { 'Dockerfile.eex': dockerfile.replace('RUN ', `RUN sleep ${seconds}${comment}\nRUN `) };
}

/** The engine's containers, running or not, whose command contains `marker`. */
export async function containersWith(marker: string): Promise<string[]> {
  const listed = await new Promise<unknown>((resolve, reject) =>
    dockerModem().dial(
      { path: '/containers/json?all=1', method: 'GET', statusCodes: { 200: true } },
      (err, data) => (err ? reject(err) : resolve(data)),
    ),
  );
  return (listed as { Id: string; Command: string }[])
    .filter((c) => c.Command.includes(marker))
    .map((c) => c.Id);
}

/**
 * Watches the engine for containers carrying `marker` until stopped, and says the most seen at once: two
 * builds of one workflow running together show as 2.
 */
export function watchContainers(marker: string): { stop(): Promise<number> } {
  let most = 0;
  let watching = true;
  const loop = (async () => {
    while (watching) {
      most = Math.max(most, (await containersWith(marker)).length);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  })();
  return {
    async stop() {
      watching = false;
      await loop;
      return most;
    },
  };
}

/** The builder that took a workflow last, as its event log (a reply's, or else the Manager's) names it. */
export function processedBy(eventLog: Term | undefined): string | undefined {
  const entries = Array.isArray(eventLog) ? eventLog : [];
  return entries
    .flatMap((e) => (typeof e === 'string' ? [/processed by Builder (\S+)$/.exec(e)?.[1]] : []))
    .filter((host) => host !== undefined)
    .at(-1);
}

/** The bytes the orchestrator would publish for `request`. */
export const requestBytes = (request: RequestJson): Buffer => encode(jsonRequestTerm(request));

/** Where a test publishes from and what the service is pointed at. */
export interface Rig {
  readonly admin: BrokerAdmin;
  readonly topology: ServiceTopology;
  readonly manager: FakeManager;
}

/**
 * Publishes `content` persistently to `<routing key>.builder` on the root exchange, as the orchestrator does
 * (which sends no `headers`).
 */
export function publishToBuilder(
  { admin, topology }: Omit<Rig, 'manager'>,
  content: Buffer,
  headers?: Record<string, unknown>,
): void {
  admin.channel.publish(topology.exchange, `${topology.routingKey}.builder`, content, {
    persistent: true,
    ...(headers ? { headers } : {}),
  });
}

/** Publishes `request` as the orchestrator does, after creating the workflow record it would have saved first. */
export function submit(rig: Rig, request: RequestJson): Buffer {
  rig.manager.setWorkflow(request.id, { workflow_completed: false, workflow_error: false, event_log: [] });
  const bytes = requestBytes(request);
  publishToBuilder(rig, bytes);
  return bytes;
}

export type RecordingLog = ReturnType<typeof recordingLogger>;

export interface ServiceUnderTest {
  readonly service: Service;
  readonly hostname: string;
  readonly log: RecordingLog;
}

export interface ServiceOptions extends Omit<Rig, 'admin'> {
  readonly workRoot: string;
  /** Variables added to or replacing the defaults. */
  readonly env?: Record<string, string>;
  readonly startRetryMs?: number;
  /** The reporter's budget to finish a workflow, ms. Default the service's. */
  readonly finishTimeoutMs?: number;
}

/**
 * The service-mode variables of a builder called `hostname`: the broker comes from the Manager's connection
 * records, the builder from the local-mode test services; `options.env` adds or replaces variables.
 */
export function serviceEnv(
  options: Pick<ServiceOptions, 'manager' | 'topology' | 'workRoot' | 'env'>,
  hostname: string,
): NodeJS.ProcessEnv {
  const { manager, topology } = options;
  return localEnv(options.workRoot, {
    EXCHANGE_ID,
    BROKER_ID,
    QUEUE_NAME: topology.builderQueue,
    MANAGER_URL: manager.url,
    OAUTH_LOGIN_URL: manager.oauthUrl,
    OAUTH_CLIENT_ID: manager.clientId,
    OAUTH_CLIENT_SECRET: manager.clientSecret,
    HOSTNAME: hostname,
    SHUTDOWN_GRACE_SECONDS: '10',
    // A port of its own, so services of test files running in parallel never compete for one.
    HEALTH_LISTEN: '127.0.0.1:0',
    ...options.env,
  });
}

const running = new Set<Service>();

/**
 * Starts the service as `oa-builder serve` would, configured by {@link serviceEnv} with a unique hostname so
 * heartbeats and events can be told apart. {@link stopServices} stops whatever is still running.
 */
export async function startTestService(options: ServiceOptions): Promise<ServiceUnderTest> {
  const hostname = uniqueName('it-service');
  const log = recordingLogger();
  const config = loadConfig({ mode: 'service', env: serviceEnv(options, hostname) });
  const service = await startService({
    config,
    log,
    startRetryMs: options.startRetryMs ?? 200,
    startDeadlineMs: 20_000,
    ...(options.finishTimeoutMs === undefined ? {} : { finishTimeoutMs: options.finishTimeoutMs }),
  });
  running.add(service);
  return { service, hostname, log };
}

/** Stops `service` once, however many times it is asked. */
export async function stopService(service: Service): Promise<void> {
  if (!running.delete(service)) return;
  await service.stop('test finished');
}

export async function stopServices(): Promise<void> {
  await Promise.all([...running].map(stopService));
}

/** Whether the intake acked the delivery of workflow `id` (at least `times` times). */
export function acked(log: RecordingLog, id: string, times = 1): boolean {
  return (
    log.lines.filter((l) => l.message === 'delivery acked' && l.fields.workflow_id === id).length >= times
  );
}
