import { BrokerConnection, type BrokerResolver, type ExchangeResolver, type LogicalQueue } from '../amqp';
import { nopLogger, type Logger } from '../log';
import { retry, type OutageWatch } from '../outage/retry';

/** Where one OpenAperture message goes: a logical queue in a Manager exchange, through a Manager broker. */
export interface Destination {
  readonly brokerId: string;
  readonly exchangeId: string;
  readonly queue: LogicalQueue | (string & {});
}

/** How one message is published. */
export interface PublishCall {
  readonly signal?: AbortSignal | undefined;
  /**
   * Publish once, without waiting out a lost channel, where waiting is worse than losing the message or its
   * retry lies elsewhere: a workflow's reply, whose delivery went back to the queue with the consuming
   * connection on the same broker, so that the redelivery is its retry (answering now as well would answer
   * twice); build-log batches, which the reply waits for; the heartbeat. Default false.
   */
  readonly once?: boolean;
  /**
   * Asked once the destination is known, right before the message goes out: false withdraws it, and the publish
   * resolves without sending. A workflow's reply asks its delivery's owner, since looking the destination up
   * can take long enough for the delivery to go back to the broker meanwhile. Default: always sent.
   */
  readonly beforeSend?: () => Promise<boolean>;
}

/** Publishes ETF payloads to OpenAperture destinations. */
export interface MessagePublisher {
  /**
   * Resolves once the broker confirmed the message (or `call.beforeSend` withdrew it); rejects with a
   * ManagerError, ResolutionError or AmqpPublishError.
   */
  publish(to: Destination, payload: Buffer, call?: PublishCall): Promise<void>;
  close(): Promise<void>;
}

export interface BrokerPublishersOptions {
  readonly exchanges: ExchangeResolver;
  readonly brokers: Pick<BrokerResolver, 'brokerUrls'>;
  /** AMQP_URL: one broker for everything instead of the Manager's connection records. Default: unset. */
  readonly amqpUrl?: string | undefined;
  /** `connection_name` prefix. Default `oa-builder`. */
  readonly name?: string;
  readonly publishTimeoutMs?: number;
  /**
   * How long a publish whose channel closed before the broker confirmed it (a broker restart, a lost
   * connection) is repeated, and who hears each retry. Default: published once.
   */
  readonly outage?: OutageWatch | undefined;
  readonly log?: Logger;
}

/**
 * One publishing connection per broker id, opened on first use and kept: the consuming connection is never
 * used to publish, since a publish to a missing exchange closes the channel and would return every delivery
 * in flight to the queue. Addresses come from the Manager's exchange records (cached), so a publish goes to
 * `<root exchange>` with routing key `<routing key>.<queue>`, as the Elixir modules publish.
 */
export class BrokerPublishers implements MessagePublisher {
  private readonly connections = new Map<string, BrokerConnection>();
  private readonly log: Logger;

  constructor(private readonly options: BrokerPublishersOptions) {
    this.log = options.log ?? nopLogger;
  }

  /**
   * amqp-connection-manager holds a publish made while the connection is down until it is back, but rejects
   * one whose channel closed after it went out and before its confirm: that one is repeated here, within the
   * outage budget. The broker may have taken the first copy; its consumers have at-least-once delivery anyway.
   */
  async publish(to: Destination, payload: Buffer, call: PublishCall = {}): Promise<void> {
    const { signal } = call;
    const outage = this.options.outage;
    await retry(
      async () => {
        const address = await this.options.exchanges.address(
          to.exchangeId,
          to.queue,
          signal ? { signal } : {},
        );
        if (call.beforeSend && !(await call.beforeSend())) return;
        await this.connection(to.brokerId).publish(address.exchange, address.routingKey, payload, {
          persistent: true,
          ...(signal ? { signal } : {}),
        });
      },
      {
        dependency: 'broker',
        policy: outage && !call.once ? outage : { attempts: 1 },
        signal: signal ?? new AbortController().signal,
        onRetry: (notice) => {
          this.log.warn(notice.text, { broker_id: to.brokerId, queue: to.queue, err: notice.error });
          outage?.onRetry?.(notice);
        },
      },
    );
  }

  async close(): Promise<void> {
    const open = [...this.connections.values()];
    this.connections.clear();
    await Promise.allSettled(open.map((c) => c.close()));
  }

  private connection(brokerId: string): BrokerConnection {
    let connection = this.connections.get(brokerId);
    if (!connection) {
      const { amqpUrl, brokers } = this.options;
      connection = new BrokerConnection({
        urls: amqpUrl ? [amqpUrl] : () => brokers.brokerUrls(brokerId),
        name: `${this.options.name ?? 'oa-builder'}-publish-${brokerId}`,
        ...(this.options.publishTimeoutMs === undefined
          ? {}
          : { publishTimeoutMs: this.options.publishTimeoutMs }),
        logger: this.log.child({ broker_id: brokerId }),
      });
      this.connections.set(brokerId, connection);
      // The connection manager starts connecting only when asked to; from then on it reconnects by itself, and
      // a publish made before the channel is up waits for it (within the publish timeout).
      connection
        .connect()
        .catch((err: unknown) => this.log.warn('publishing connection failed', { broker_id: brokerId, err }));
    }
    return connection;
  }
}
