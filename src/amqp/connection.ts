import { AmqpConnectionManagerClass, type ChannelWrapper } from 'amqp-connection-manager';
import type { Channel, Options } from 'amqplib';
import { raceAbort } from '../git/abort';
import { nopLogger, type Logger } from '../log';
import { QueueConsumer, type ChannelState, type ConsumeOptions, type DeliveryHandler } from './consumer';
import { AmqpConnectError, AmqpPublishError } from './errors';
import { WorkflowLeases } from './lease';
import { maskUrl } from './url';

/**
 * One broker connection on amqp-connection-manager, with the guards the reproduced problems call for:
 *
 * - Stale acks. After a reconnect the broker redelivers unacked messages on the new channel with the same
 *   delivery tags, so an ack from a handler of the old channel would ack the redelivered copy. Every
 *   delivery carries the channel generation (raised on each channel setup), and settling a delivery of an
 *   older generation is dropped and logged: the broker has already requeued it.
 * - Dead channels. No `error` listener is ever put on the raw channel: without one amqplib turns a channel
 *   closed by the server (404, 406) into a connection error, and the manager reconnects, re-runs the setup
 *   and re-consumes. With one, the channel would stay closed for good. `isReady()` is false while there is
 *   no channel or no consumer, for a readiness probe to catch anything this misses.
 * - Cancelled consumers. After a `basic.cancel` from the broker (queue deleted) the manager consumes again;
 *   if the queue is gone that fails with 404, the connection is rebuilt, and it retries every reconnect.
 * - The consumer timeout. RabbitMQ (≥ 3.8.15) closes a channel that holds a delivery unacked for longer than
 *   `consumer_timeout` (30 min by default) and redelivers it, possibly here while its build still runs.
 *   `consumerTimeoutMs` is sent as the `x-consumer-timeout` consumer argument, which RabbitMQ ≥ 3.12 obeys
 *   and 3.10 ignores. On 3.10 the redelivered copy arrives with `copyOf` set (same message, still unsettled
 *   here); the service holds it with `hold(copy, original)` instead of building twice, and settling the
 *   original then settles the copy, while the original's own ack is dropped as stale. The lasting fix is
 *   broker configuration: `consumer_timeout` above the longest build.
 *
 * Use one connection for consuming and others for publishing to named exchanges: a publish to a missing
 * exchange closes the channel, which (by the second guard) rebuilds the connection and returns every
 * unsettled delivery to the queue. Dead-lettering only uses the default exchange, which cannot be missing.
 */

/** How to reach the broker. */
export interface BrokerConnectionOptions {
  /**
   * Broker URLs, tried in turn on every (re)connect; or a function asked again once all were tried (it can
   * re-resolve them from the Manager).
   */
  urls: readonly string[] | (() => Promise<readonly string[]>);
  /** `connection_name` shown by the broker, and the consumer tag prefix. Default `oa-builder`. */
  name?: string;
  /** AMQP heartbeat, seconds. Default 60, as the Elixir modules. */
  heartbeatSeconds?: number;
  /** Wait before reconnecting after a loss, seconds. Default 2. */
  reconnectSeconds?: number;
  /** Deadline of a publish, broker confirm included, ms. Default 10 000. */
  publishTimeoutMs?: number;
  /** Default: no logging. */
  logger?: Logger;
}

export interface PublishOptions {
  /** delivery_mode 2. Default true. */
  persistent?: boolean;
  /** AMQP headers. OpenAperture publishers send none. */
  headers?: Record<string, unknown>;
  /** Deadline including the broker's confirm, ms. Default the connection's `publishTimeoutMs`. */
  timeoutMs?: number;
  /** Stops waiting; the message may still reach the broker. */
  signal?: AbortSignal;
}

/** A snapshot for health checks. */
export interface ConnectionHealth {
  connected: boolean;
  channelOpen: boolean;
  consuming: boolean;
  /** Connected and consuming. */
  ready: boolean;
  generation: number;
  /** Deliveries not yet settled, all generations. */
  unsettled: number;
  /** When the channel was lost (ms since the epoch), while it is missing; for "not ready for too long". */
  channelLostAt: number | undefined;
}

const shown = (url: unknown): string => (typeof url === 'string' ? maskUrl(url) : '(connection options)');

export class BrokerConnection {
  private readonly manager: AmqpConnectionManagerClass;
  private readonly channel: ChannelWrapper;
  private readonly state: ChannelState = { raw: undefined, generation: 0, up: false };
  private readonly log: Logger;
  private readonly name: string;
  private readonly publishTimeoutMs: number;
  private consumer: QueueConsumer | undefined;
  private channelLostAt: number | undefined = Date.now();
  /** The workflow leases this connection holds (see lease.ts); taken again on every reconnect. */
  readonly leases: WorkflowLeases;

  constructor(options: BrokerConnectionOptions) {
    this.log = options.logger ?? nopLogger;
    this.leases = new WorkflowLeases(() => this.manager.connection, this.log);
    this.name = options.name ?? 'oa-builder';
    this.publishTimeoutMs = options.publishTimeoutMs ?? 10_000;
    const { urls } = options;
    this.manager = new AmqpConnectionManagerClass(typeof urls === 'function' ? null : [...urls], {
      heartbeatIntervalInSeconds: options.heartbeatSeconds ?? 60,
      reconnectTimeInSeconds: options.reconnectSeconds ?? 2,
      connectionOptions: { clientProperties: { connection_name: this.name } },
      ...(typeof urls === 'function' ? { findServers: async () => [...(await urls())] } : {}),
    });
    this.manager.on('connect', ({ url }: { url: unknown }) =>
      this.log.info('broker connected', { url: shown(url) }),
    );
    this.manager.on('connectFailed', ({ err, url }: { err: Error; url: unknown }) =>
      this.log.warn('broker connection failed', { url: shown(url), reason: err.message }),
    );
    this.manager.on('disconnect', ({ err }: { err: Error | undefined }) =>
      this.log.warn('broker disconnected', { reason: err?.message }),
    );
    this.manager.on('blocked', ({ reason }: { reason: string }) =>
      this.log.warn('broker blocked the connection', { reason }),
    );
    this.manager.on('unblocked', () => this.log.info('broker unblocked the connection'));
    this.channel = this.manager.createChannel({
      name: this.name,
      confirm: true,
      json: false,
      publishTimeout: this.publishTimeoutMs,
      setup: (raw: Channel) => this.setup(raw),
    });
    // On the wrapper, not the raw channel: it only keeps the wrapper's own setup errors from being thrown.
    this.channel.on('error', (err: Error) =>
      this.log.error('broker channel setup failed', { reason: err.message }),
    );
    this.channel.on('connect', () => (this.state.up = true));
  }

  /**
   * Waits for the first connection. Rejects with `AmqpConnectError` on a refused login or after
   * `timeoutMs`; reconnecting goes on in the background until `close()`.
   */
  async connect(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    const connecting = this.manager.connect(
      options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs },
    );
    try {
      await (options.signal ? raceAbort(connecting, options.signal) : connecting);
    } catch (err) {
      if (options.signal?.aborted) throw err;
      throw new AmqpConnectError(`broker connection failed: ${(err as Error).message}`);
    }
    await this.channel.waitForConnect();
  }

  /**
   * Starts the connection's one consumer on `queue`, with manual acks. Resolves once it is registered; a
   * failing `basic.consume` (a missing queue) is logged and retried on every reconnect: watch `isReady()`.
   */
  async consume(queue: string, handler: DeliveryHandler, options: ConsumeOptions): Promise<QueueConsumer> {
    if (this.consumer) throw new Error(`this connection already consumes ${this.consumer.queue}`);
    const consumer = new QueueConsumer(
      {
        channel: this.channel,
        state: this.state,
        connection: () => this.manager.connection,
        publish: (exchange, routingKey, content, properties) =>
          this.confirmed(exchange, routingKey, content, properties, undefined),
        name: this.name,
        log: this.log.child({ queue }),
      },
      queue,
      handler,
      options,
    );
    this.consumer = consumer;
    await consumer.start();
    return consumer;
  }

  /** Publishes with publisher confirms; rejects with `AmqpPublishError` when not confirmed in time. */
  publish(
    exchange: string,
    routingKey: string,
    content: Buffer,
    options: PublishOptions = {},
  ): Promise<void> {
    const properties: Options.Publish & { timeout: number } = {
      persistent: options.persistent ?? true,
      timeout: options.timeoutMs ?? this.publishTimeoutMs,
    };
    if (options.headers) properties.headers = options.headers;
    return this.confirmed(exchange, routingKey, content, properties, options.signal);
  }

  /** Connected, with a channel, and (when a consumer was started) consuming. */
  isReady(): boolean {
    return this.health().ready;
  }

  health(): ConnectionHealth {
    const connected = this.manager.isConnected();
    const channelOpen = this.state.raw !== undefined && this.state.up;
    const consuming = this.consumer?.consuming ?? false;
    return {
      connected,
      channelOpen,
      consuming,
      ready: connected && channelOpen && (this.consumer === undefined || consuming),
      generation: this.state.generation,
      unsettled: this.consumer?.unsettled ?? 0,
      channelLostAt: channelOpen ? undefined : this.channelLostAt,
    };
  }

  /** Closes channel and connection; the broker requeues whatever is unsettled. */
  async close(): Promise<void> {
    await this.channel.close();
    await this.manager.close();
  }

  private async setup(raw: Channel): Promise<void> {
    this.state.generation++;
    this.state.raw = raw;
    this.state.up = false;
    this.channelLostAt = undefined;
    raw.on('close', () => {
      if (this.state.raw !== raw) return;
      this.state.raw = undefined;
      this.state.up = false;
      this.channelLostAt = Date.now();
      this.consumer?.channelLost();
    });
    raw.on('cancel', () => this.log.warn('the broker cancelled the consumer; consuming again'));
    // Before consuming again: a copy of a delivery the old connection held, handed to another replica, then
    // waits until the workflow that held it here is gone.
    const lost = await this.leases.retake();
    if (lost.length > 0) this.log.warn('workflow leases taken by another connection meanwhile', { lost });
  }

  private async confirmed(
    exchange: string,
    routingKey: string,
    content: Buffer,
    properties: Options.Publish,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const sent = this.channel.publish(exchange, routingKey, content, properties);
    try {
      await (signal ? raceAbort(sent, signal) : sent);
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new AmqpPublishError(exchange, routingKey, (err as Error).message);
    }
  }
}
