import { randomUUID } from 'node:crypto';
import type { ChannelWrapper } from 'amqp-connection-manager';
import type { Channel, ChannelModel, ConsumeMessage, Options } from 'amqplib';
import type { Logger } from '../log';
import { errorQueueName } from './addressing';
import { deadLetterProperties, ensureQueue, fitsHeaderTable } from './dead-letter';
import { AmqpPublishError } from './errors';
import { DeliveryLedger, type Delivery, type LedgerEntry } from './ledger';
import { copyProperties, countedHeaders, type QueueType } from './runs';

/** How to consume. */
export interface ConsumeOptions {
  /**
   * Deliveries the broker may hand out before any is settled: the free build slots. 0 starts paused.
   * See `setPrefetch` for how it counts.
   */
  prefetch: number;
  /** How runs are counted (see {@link QueueType}). Default `classic`. */
  queueType?: QueueType;
  /** Where `deadLetter` puts messages; declared as a plain durable queue if absent. Default `<queue>_error`. */
  deadLetterQueue?: string;
  /** `x-consumer-timeout` consumer argument in ms (obeyed by RabbitMQ ≥ 3.12). Default: not sent. */
  consumerTimeoutMs?: number;
  /**
   * Told when the channel closes: every delivery unsettled on it went back to the broker, which may hand it to
   * another replica. Synchronous; keep it short. Default: none.
   */
  onChannelLost?: () => void;
}

/** Called for each delivery. A throw or rejection returns a still unsettled delivery to the queue. */
export type DeliveryHandler = (delivery: Delivery) => void | Promise<void>;

/** What settling did: `settled`, `stale` (its channel is gone, so it was dropped), or `already-settled`. */
export type SettleOutcome = 'settled' | 'stale' | 'already-settled';

/** The connection's channel as the consumer sees it; the connection keeps it current. */
export interface ChannelState {
  /** The raw channel of the current generation, while it is open. */
  raw: Channel | undefined;
  /** Raised on every channel setup (each reconnect). */
  generation: number;
  /** True once setup and re-consuming finished on the current channel. */
  up: boolean;
}

/** What the consumer needs from its connection. */
export interface ConsumerLink {
  channel: ChannelWrapper;
  state: ChannelState;
  /** The current amqplib connection, for throwaway channels. */
  connection: () => ChannelModel | undefined;
  /** Publishes with confirms; rejects with AmqpPublishError. */
  publish: (
    exchange: string,
    routingKey: string,
    content: Buffer,
    properties: Options.Publish,
  ) => Promise<void>;
  name: string;
  log: Logger;
}

/**
 * The one consumer of a connection: hands deliveries to the handler and settles them, guarding against
 * stale acks, poison messages and consumer-timeout redeliveries (see connection.ts).
 */
export class QueueConsumer {
  private readonly ledger: DeliveryLedger;
  private readonly queueType: QueueType;
  private readonly deadLetterQueue: string;
  /** Generation in which the dead-letter queue was last checked; a reconnect may follow a broker reset. */
  private deadLetterQueueCheckedIn: number | undefined;
  private prefetch: number;
  private tag: string | undefined;
  private cancelled = false;
  /** Registration changes, one at a time, so a cancel never races a consume. */
  private changes: Promise<void> = Promise.resolve();

  constructor(
    private readonly link: ConsumerLink,
    readonly queue: string,
    private readonly handler: DeliveryHandler,
    private readonly options: ConsumeOptions,
  ) {
    checkPrefetch(options.prefetch);
    this.prefetch = options.prefetch;
    this.queueType = options.queueType ?? 'classic';
    this.ledger = new DeliveryLedger(this.queueType);
    this.deadLetterQueue = options.deadLetterQueue ?? errorQueueName(queue);
  }

  /**
   * Not cancelled, on an open channel. A consumer paused by `setPrefetch(0)` still counts: it is healthy,
   * only busy.
   */
  get consuming(): boolean {
    return !this.cancelled && this.link.state.up && this.link.state.raw !== undefined;
  }

  /** Deliveries not yet settled, all generations. */
  get unsettled(): number {
    return this.ledger.size;
  }

  /** Registers the consumer (unless paused); a failing `basic.consume` is logged and retried on every reconnect. */
  start(): Promise<void> {
    return this.change(() => this.register());
  }

  /**
   * Sets the free slots: at most `n` deliveries made from now on may be unsettled at once; 0 pauses.
   * RabbitMQ applies a per-consumer prefetch when a consumer is registered, so the registration is replaced
   * on the same channel (deliveries already unsettled stay valid and keep counting against the old one).
   * The service therefore passes its free slots (all slots minus work in progress) whenever they change.
   */
  setPrefetch(n: number): Promise<void> {
    checkPrefetch(n);
    return this.change(async () => {
      this.prefetch = n;
      try {
        await this.unregister();
      } finally {
        // A cancel that failed went out on a channel that closed under it, taking the old registration along;
        // the connection manager has forgotten it too, so without this one nothing would consume after the
        // reconnect, for good, while the consumer still looked healthy.
        await this.register();
      }
    });
  }

  /**
   * Whether `delivery` (or a copy held for it) can still be settled on the current channel. False once its
   * channel closed and no redelivered copy came back here: the broker has requeued the message, possibly to
   * another replica, which then runs it and answers for it.
   */
  isSettleable(delivery: Delivery): boolean {
    return this.ledger.group(delivery.id).some((entry) => this.isLive(entry));
  }

  /** Acknowledges `delivery` and the copies held for it. */
  ack(delivery: Delivery): SettleOutcome {
    return this.settle(delivery, (raw, m) => raw.ack(m));
  }

  /** Rejects `delivery` (and held copies); `requeue: false` dead-letters through the queue's DLX, if any. */
  nack(delivery: Delivery, options: { requeue: boolean }): SettleOutcome {
    return this.settle(delivery, (raw, m) => raw.nack(m, false, options.requeue));
  }

  /**
   * Returns `delivery` to the queue as a message that ran `runs` times: a copy with its runs in `x-oa-runs`
   * goes to the back of the queue under a publisher confirm, then the original is acked. A crash between the
   * two leaves both in the queue, which at-least-once delivery allows. Falls back to a plain requeue when the
   * copy cannot be published.
   */
  async requeueCounted(delivery: Delivery, runs: number): Promise<SettleOutcome> {
    const source = this.ledger.group(delivery.id).find((entry) => this.isLive(entry));
    if (!source) return this.settle(delivery, () => undefined);
    const headers = countedHeaders(source.message, runs);
    try {
      if (!fitsHeaderTable(headers)) throw new Error('its headers leave no room for the run count');
      await this.link.publish(
        '',
        this.queue,
        source.message.content,
        copyProperties(source.message, headers),
      );
    } catch (err) {
      this.link.log.error('the run count could not be put on the message; requeued without it', { err });
      return this.nack(delivery, { requeue: true });
    }
    return this.settle(delivery, (raw, m) => raw.ack(m));
  }

  /**
   * Returns `delivery` to the queue after a run that ended without settling it, that run counted once: by
   * the broker's plain requeue while the delivery's channel is open. Once that channel has closed, the broker
   * counted the run as it took the delivery back, so a copy held for it, which never ran, goes back carrying
   * the runs before it rather than being counted a second time.
   */
  async returnAfterRun(delivery: Delivery): Promise<SettleOutcome> {
    const [original, ...copies] = this.ledger.group(delivery.id);
    const copy = copies.find((entry) => this.isLive(entry));
    if (!original || this.isLive(original) || !copy) return this.nack(delivery, { requeue: true });
    return this.requeueCounted(delivery, copy.delivery.deliveryCount - 1);
  }

  /** Returns `delivery`, which did not run, to the queue without counting a run against it. */
  release(delivery: Delivery): Promise<SettleOutcome> {
    return this.requeueCounted(delivery, delivery.deliveryCount - 1);
  }

  /**
   * Publishes the original bytes and properties, plus the headers `x-oa-reject-reason`, `x-oa-original-queue`
   * and `x-oa-delivery-count`, to the dead-letter queue through the default exchange, then acks the
   * original. A stale delivery is not published: the broker has requeued it and it will be judged again.
   */
  async deadLetter(delivery: Delivery, reason: string): Promise<SettleOutcome> {
    const source = this.ledger.group(delivery.id).find((entry) => this.isLive(entry));
    if (!source) return this.settle(delivery, () => undefined);
    await this.ensureDeadLetterQueue();
    const properties = deadLetterProperties(source.message, reason, source.delivery);
    await this.link.publish('', this.deadLetterQueue, source.message.content, properties);
    this.link.log.warn('message dead-lettered', {
      queue: this.deadLetterQueue,
      reason,
      delivery_count: source.delivery.deliveryCount,
    });
    return this.settle(delivery, (raw, m) => raw.ack(m));
  }

  /**
   * Holds `copy` (a redelivery of a message still being worked on as `original`) without processing it:
   * settling `original` later settles `copy` the same way. False when `original` is already settled; the
   * caller then settles `copy` itself.
   */
  hold(copy: Delivery, original: Delivery): boolean {
    return this.ledger.hold(copy.id, original.id);
  }

  /** The channel closed (see `ConsumeOptions.onChannelLost`). */
  channelLost(): void {
    try {
      this.options.onChannelLost?.();
    } catch (err) {
      this.link.log.error('the channel-lost listener failed', { err });
    }
  }

  /** Stops deliveries for good (`basic.cancel`); unsettled deliveries stay valid and can still be settled. */
  cancel(): Promise<void> {
    return this.change(async () => {
      this.cancelled = true;
      await this.unregister();
    });
  }

  private change(step: () => Promise<void>): Promise<void> {
    const next = this.changes.then(step);
    this.changes = next.catch(() => undefined);
    return next;
  }

  private async register(): Promise<void> {
    if (this.cancelled || this.prefetch === 0) return;
    // Chosen here rather than by the broker, so the registration can be cancelled even before consume-ok.
    const tag = `${this.link.name}-${randomUUID()}`;
    this.tag = tag;
    const options: Options.Consume & { prefetch: number } = {
      prefetch: this.prefetch,
      noAck: false,
      consumerTag: tag,
    };
    if (this.options.consumerTimeoutMs !== undefined) {
      options.arguments = { 'x-consumer-timeout': this.options.consumerTimeoutMs };
    }
    try {
      await this.link.channel.consume(this.queue, (m) => this.onMessage(m), options);
    } catch (err) {
      this.link.log.error('consuming failed; retrying after the next reconnect', {
        queue: this.queue,
        reason: (err as Error).message,
      });
    }
  }

  private async unregister(): Promise<void> {
    const tag = this.tag;
    this.tag = undefined;
    if (tag !== undefined) await this.link.channel.cancel(tag);
  }

  // Runs inside amqplib's frame handling: a throw here would be taken for a protocol error and drop the
  // connection, so nothing may escape.
  private onMessage(message: ConsumeMessage): void {
    try {
      this.dispatch(message);
    } catch (err) {
      this.link.log.error('delivery dispatch failed', { err });
    }
  }

  private dispatch(message: ConsumeMessage): void {
    const delivery = this.ledger.record(message, this.queue, this.link.state.generation);
    if (this.cancelled) {
      // Sent before the broker saw our cancel; another consumer can take it.
      this.afterwards(this.release(delivery));
      return;
    }
    if (this.queueType === 'classic' && message.fields.redelivered && delivery.copyOf === undefined) {
      // A run ended without settling it (or it never started, which cannot be told apart). The flag would be
      // all the next replica knows, so the count goes into the message before it runs again.
      this.afterwards(this.requeueCounted(delivery, delivery.deliveryCount - 1));
      return;
    }
    Promise.resolve()
      .then(() => this.handler(delivery))
      .catch((err: unknown) => {
        if (this.ledger.group(delivery.id).length === 0) return;
        this.link.log.error('delivery handler failed; returning the message to the queue', { err });
        this.nack(delivery, { requeue: true });
      });
  }

  private isLive(entry: LedgerEntry): boolean {
    return entry.delivery.generation === this.link.state.generation && this.link.state.raw !== undefined;
  }

  private afterwards(settling: Promise<SettleOutcome>): void {
    settling.catch((err: unknown) => this.link.log.error('returning a message to the queue failed', { err }));
  }

  private settle(delivery: Delivery, apply: (raw: Channel, m: ConsumeMessage) => void): SettleOutcome {
    const group = this.ledger.group(delivery.id);
    if (group.length === 0) return 'already-settled';
    let settled = 0;
    for (const entry of group) {
      const raw = this.link.state.raw;
      let done = false;
      if (raw && this.isLive(entry)) {
        try {
          apply(raw, entry.message);
          done = true;
        } catch {
          // The channel closed between the check and the call; like any stale delivery it is requeued.
        }
      }
      if (!done) {
        this.link.log.info(
          'dropped the settlement of a delivery from a closed channel; the broker requeued it',
          {
            delivery_id: entry.delivery.id,
            generation: entry.delivery.generation,
          },
        );
      }
      this.ledger.settle(entry.delivery.id);
      settled += done ? 1 : 0;
    }
    return settled > 0 ? 'settled' : 'stale';
  }

  private async ensureDeadLetterQueue(): Promise<void> {
    const { generation } = this.link.state;
    if (this.deadLetterQueueCheckedIn === generation) return;
    const connection = this.link.connection();
    if (!connection) throw new AmqpPublishError('', this.deadLetterQueue, 'not connected');
    await ensureQueue(connection, this.deadLetterQueue);
    this.deadLetterQueueCheckedIn = generation;
  }
}

function checkPrefetch(n: number): void {
  if (!Number.isInteger(n) || n < 0)
    throw new RangeError(`prefetch must be a whole number of slots, got ${n}`);
}
