import amqp, { type Channel, type ChannelModel, type GetMessage } from 'amqplib';
import { queueDefaults, type QueueType } from '../../../src/amqp';
import { nopLogger } from '../../../src/log';
import { BrokerConnection, type BrokerConnectionOptions } from '../../../src/amqp';

/** The shared test broker; the harness may point elsewhere through OA_TEST_AMQP_URL. */
export const sharedAmqpUrl = process.env.OA_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672/';

let counter = 0;
/** A name no other test (or test run) uses. */
export const uniqueName = (label: string): string =>
  `oa-test.${label}.${process.pid}.${Date.now()}.${++counter}`;

/**
 * What ops would do by hand, plus inspection: a plain amqplib connection used by the tests, never by the
 * code under test. Everything declared through it is deleted by `dispose`.
 */
export class BrokerAdmin {
  private readonly queues = new Set<string>();
  private readonly exchanges = new Set<string>();

  private constructor(
    private readonly connection: ChannelModel,
    readonly channel: Channel,
  ) {}

  static async open(url: string): Promise<BrokerAdmin> {
    const connection = await amqp.connect(url);
    return new BrokerAdmin(connection, await connection.createChannel());
  }

  /**
   * A component queue with QueueBuilder's arguments (durable, DLX to `<queue>_error`), classic, or quorum with
   * the broker's own delivery limit `deliveryLimit` when given, as ops would declare it for QUEUE_TYPE=quorum.
   */
  async componentQueue(label: string, type: QueueType = 'classic', deliveryLimit?: number): Promise<string> {
    const queue = uniqueName(label);
    this.queues.add(queue);
    this.queues.add(`${queue}_error`);
    const options = queueDefaults(queue);
    const quorum = {
      'x-queue-type': 'quorum',
      ...(deliveryLimit ? { 'x-delivery-limit': deliveryLimit } : {}),
    };
    await this.channel.assertQueue(queue, {
      ...options,
      arguments: { ...options.arguments, ...(type === 'quorum' ? quorum : {}) },
    });
    return queue;
  }

  async topicExchange(name: string): Promise<void> {
    this.exchanges.add(name);
    await this.channel.assertExchange(name, 'topic', { durable: true });
  }

  /** Persistent messages straight into `queue`, as an upstream publisher would leave them. */
  async fill(queue: string, ...contents: (string | Buffer)[]): Promise<void> {
    for (const content of contents)
      this.channel.sendToQueue(queue, Buffer.from(content), { persistent: true });
    await this.channel.checkQueue(queue);
  }

  /**
   * Ready (not unacked) messages in `queue`, 0 while it does not exist yet. The check runs on a channel of its
   * own because the broker closes the channel a passive declare of a missing queue was sent on.
   */
  async ready(queue: string): Promise<number> {
    const channel = await this.connection.createChannel();
    channel.on('error', () => undefined);
    try {
      return (await channel.checkQueue(queue)).messageCount;
    } catch (err) {
      if ((err as { code?: unknown }).code === 404) return 0;
      throw err;
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  /** Takes one ready message off `queue` (acked), or false. */
  async take(queue: string): Promise<GetMessage | false> {
    const message = await this.channel.get(queue, { noAck: true });
    return message;
  }

  forget(queue: string): void {
    this.queues.add(queue);
  }

  async dispose(): Promise<void> {
    for (const queue of this.queues) await this.channel.deleteQueue(queue);
    for (const exchange of this.exchanges) await this.channel.deleteExchange(exchange);
    await this.connection.close();
  }
}

/** A connection under test with short reconnect delays. */
export function connectionTo(url: string, options: Partial<BrokerConnectionOptions> = {}): BrokerConnection {
  return new BrokerConnection({
    urls: [url],
    name: 'oa-builder-test',
    heartbeatSeconds: 5,
    reconnectSeconds: 0.3,
    publishTimeoutMs: 5000,
    logger: nopLogger,
    ...options,
  });
}

/** Resolves when `predicate` holds, polling every 25 ms; rejects after `timeoutMs` naming `what`. */
export async function eventually(
  what: string,
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
) {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Waits `ms`, to show that something does not happen. */
export const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
