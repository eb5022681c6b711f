import { BrokerConnection, type BrokerResolver, type ExchangeResolver, type LogicalQueue } from '../amqp';
import { nopLogger, type Logger } from '../log';

/** Where one OpenAperture message goes: a logical queue in a Manager exchange, through a Manager broker. */
export interface Destination {
  readonly brokerId: string;
  readonly exchangeId: string;
  readonly queue: LogicalQueue | (string & {});
}

/** Publishes ETF payloads to OpenAperture destinations. */
export interface MessagePublisher {
  /** Resolves once the broker confirmed the message; rejects with a ManagerError, ResolutionError or AmqpPublishError. */
  publish(to: Destination, payload: Buffer, signal?: AbortSignal): Promise<void>;
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

  async publish(to: Destination, payload: Buffer, signal?: AbortSignal): Promise<void> {
    const address = await this.options.exchanges.address(to.exchangeId, to.queue, signal ? { signal } : {});
    await this.connection(to.brokerId).publish(address.exchange, address.routingKey, payload, {
      persistent: true,
      ...(signal ? { signal } : {}),
    });
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
