// The orchestrator's side of the broker for the soak: publishes build requests with publisher confirms and
// keeps every message the builders publish, across restarts of the broker. The shared taps consume without
// acks, which loses what the broker had dequeued but not yet written when it went down; here each message is
// acked only after it was kept, and a redelivery of bytes already kept (its ack died with the connection) is
// not kept twice.
import { createHash } from 'node:crypto';
import amqp, {
  type Channel,
  type ChannelModel,
  type ConfirmChannel,
  type ConsumeMessage,
  type GetMessage,
} from 'amqplib';
import type { BrokerAdmin } from '../../test/integration/amqp/topology';
import { submit, tap, type Rig, type Tapped } from '../../test/integration/service/helpers';
import type { RequestJson } from '../../test/integration/workflow/helpers';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface OrchestratorOptions {
  readonly url: string;
  readonly rig: Omit<Rig, 'admin'>;
  /** The queues to keep, by a label of ours. */
  readonly queues: Record<string, string>;
}

export class Orchestrator {
  /** Per label, one list per connection the taps ran on. */
  private readonly kept = new Map<string, Tapped[][]>();
  private readonly seen = new Set<string>();
  private readonly arrivals = new WeakMap<Buffer, number>();
  private connection: ChannelModel | undefined;
  private channel: ConfirmChannel | undefined;
  private connecting: Promise<void> | undefined;
  private paused: Promise<void> | undefined;
  private resume: (() => void) | undefined;
  private inFlight = 0;
  private stopped = false;
  /** Redeliveries of bytes already kept: acks lost with a connection. */
  redeliveriesSkipped = 0;
  reconnects = 0;

  constructor(private readonly options: OrchestratorOptions) {
    for (const label of Object.keys(options.queues)) this.kept.set(label, []);
  }

  /** Everything kept from the queue labelled `label`, in arrival order per connection. */
  messages(label: string): Tapped[] {
    return (this.kept.get(label) ?? []).flat();
  }

  /** When the message (a kept one) arrived here, ms since the epoch. */
  arrivedAt(message: Pick<Tapped, 'content'>): number | undefined {
    return this.arrivals.get(message.content);
  }

  async connect(): Promise<void> {
    const connection = await amqp.connect(this.options.url, { timeout: 5_000 });
    let closed = false;
    connection.on('error', () => undefined);
    connection.on('close', () => {
      closed = true;
      if (this.connection !== connection) return;
      this.connection = undefined;
      this.channel = undefined;
      if (!this.stopped) void this.reconnect();
    });
    try {
      const channel = await connection.createConfirmChannel();
      channel.on('error', () => undefined);
      await channel.prefetch(200);
      for (const [label, queue] of Object.entries(this.options.queues)) {
        this.kept.get(label)?.push(await tap(this.ackingTap(channel), queue));
      }
      if (closed) throw new Error('the connection closed while it was set up');
      this.connection = connection;
      this.channel = channel;
    } catch (err) {
      await connection.close().catch(() => undefined);
      throw err;
    }
  }

  /** Reconnects until it succeeds or `stop` is called; a second caller shares the first one's attempt. */
  reconnect(): Promise<void> {
    this.connecting ??= (async () => {
      try {
        while (!this.stopped && !this.connection) {
          try {
            await this.connect();
            this.reconnects++;
          } catch {
            await sleep(500);
          }
        }
      } finally {
        this.connecting = undefined;
      }
    })();
    return this.connecting;
  }

  /** Resolves once connected, or rejects after `timeoutMs`. */
  async connected(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.connection) {
      if (Date.now() > deadline) throw new Error(`no broker connection within ${timeoutMs} ms`);
      void this.reconnect();
      await sleep(200);
    }
  }

  /**
   * Holds new publishes and waits for those already sent to be confirmed: a request whose confirm dies with
   * a broker restart might or might not be queued, and publishing it again would make a duplicate of ours.
   */
  async pause(): Promise<void> {
    this.paused ??= new Promise((resolve) => (this.resume = resolve));
    while (this.inFlight > 0) await sleep(50);
  }

  unpause(): void {
    this.resume?.();
    this.paused = undefined;
    this.resume = undefined;
  }

  /**
   * Publishes `request` as the orchestrator does (its workflow record saved in the Manager first) and resolves
   * once the broker confirmed it; throws when it could not be confirmed.
   */
  async publish(request: RequestJson, connectTimeoutMs: number): Promise<void> {
    while (this.paused) await this.paused;
    await this.connected(connectTimeoutMs);
    const channel = this.channel;
    if (!channel) throw new Error('no channel');
    this.inFlight++;
    try {
      submit({ ...this.options.rig, admin: { channel } as unknown as BrokerAdmin }, request);
      await channel.waitForConfirms();
    } finally {
      this.inFlight--;
    }
  }

  /** Takes every ready message off `queue` (acked), for the end-of-run count of what was never finished. */
  async drain(queue: string, max: number): Promise<GetMessage[]> {
    await this.connected(30_000);
    const channel = this.channel;
    if (!channel) return [];
    const taken: GetMessage[] = [];
    while (taken.length < max) {
      const message = await channel.get(queue, { noAck: true });
      if (message === false) break;
      taken.push(message);
    }
    return taken;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unpause();
    const connection = this.connection;
    this.connection = undefined;
    await connection?.close().catch(() => undefined);
  }

  // The shared tap consumes with noAck; this stands in for its channel and acks each message once kept.
  private ackingTap(channel: Channel): Channel {
    const consume = (queue: string, onMessage: (message: ConsumeMessage | null) => void) =>
      channel.consume(
        queue,
        (message) => {
          if (!message) return;
          const key = createHash('sha256').update(queue).update(message.content).digest('hex');
          if (message.fields.redelivered && this.seen.has(key)) this.redeliveriesSkipped++;
          else {
            this.seen.add(key);
            this.arrivals.set(message.content, Date.now());
            onMessage(message);
          }
          channel.ack(message);
        },
        { noAck: false },
      );
    return { consume } as unknown as Channel;
  }
}
