import { createHash } from 'node:crypto';
import type { ChannelModel } from 'amqplib';
import { KeyedMutex } from '../git/keyed-mutex';
import type { Logger } from '../log';
import { onThrowawayChannel } from './dead-letter';

/** Longest queue name RabbitMQ accepts, in bytes. */
const MAX_QUEUE_NAME_BYTES = 255;
const PREFIX = 'oa-builder.lease.';

/** The lease queue of workflow `id`: its id as it is, or its hash when the name would be too long. */
export function leaseQueueName(id: string): string {
  const plain = `${PREFIX}${id}`;
  if (Buffer.byteLength(plain) <= MAX_QUEUE_NAME_BYTES) return plain;
  return `${PREFIX}sha256.${createHash('sha256').update(id).digest('hex')}`;
}

/** Operations on one lease wait for the earlier ones, however long: each ends with its broker call. */
const NEVER = new AbortController().signal;

const codeOf = (err: unknown): unknown => (err as { code?: unknown } | undefined)?.code;

/**
 * Workflow leases on the broker, held by one connection: the lease of a workflow is an exclusive queue named
 * after it. RabbitMQ lets only the connection that declared an exclusive queue use it; another connection's
 * declare fails with 405 RESOURCE_LOCKED, and the queue goes when its connection closes, for whatever reason
 * (the process died, the network or the broker went away). Held on the connection that consumes the builder
 * queue, a lease lives exactly as long as the deliveries taken on it: when the broker requeues a delivery
 * because that connection died, it has already dropped the lease too.
 *
 * Nothing is ever published to a lease queue. Taking and releasing one lease are serialised, so a release
 * never overtakes a later take of the same workflow on this connection.
 */
export class WorkflowLeases {
  private readonly order = new KeyedMutex();
  /**
   * The leases this connection's workflows want, by workflow id, each with the token of the take that asked for
   * it: taken again on a new connection (see `retake`). A release drops the entry at once, so neither a take
   * already under way nor a retake queued behind it can bring back a lease its workflow gave up.
   */
  private readonly wanted = new Map<string, symbol>();

  constructor(
    private readonly connection: () => ChannelModel | undefined,
    private readonly log: Logger,
  ) {}

  /**
   * Takes the lease of workflow `id`: true once this connection holds it (also when it held it already), false
   * when another connection does. Rejects when there is no connection or the broker fails otherwise.
   */
  take(id: string): Promise<boolean> {
    const token = Symbol(id);
    this.wanted.set(id, token);
    return this.order.run(id, NEVER, async () => {
      let taken = false;
      try {
        taken = await this.declare(id);
        return taken;
      } finally {
        // Not held: nothing to take again. A release since then has dropped the entry already, and its
        // delete, queued behind this declare, removes the queue.
        if (!taken && this.wanted.get(id) === token) this.wanted.delete(id);
      }
    });
  }

  /** Gives the lease up (deletes its queue); a lease already gone, or held elsewhere, is left as it is. */
  release(id: string): Promise<void> {
    this.wanted.delete(id);
    return this.order.run(id, NEVER, async () => {
      const connection = this.connection();
      if (!connection) return;
      await onThrowawayChannel(connection, (channel) => channel.deleteQueue(leaseQueueName(id))).catch(
        (err: unknown) => {
          // 405: another connection holds it since ours went; nothing of ours is left to remove.
          if (codeOf(err) !== 405) throw err;
        },
      );
    });
  }

  /**
   * Takes every lease still wanted again, on a new connection: the old one took them with it. A lease given up
   * (or asked for anew) while this goes on is left to that release (or take). Returns the ids another
   * connection took in the meantime.
   */
  async retake(): Promise<string[]> {
    const lost: string[] = [];
    for (const [id, token] of [...this.wanted]) {
      const taken = await this.order
        .run(id, NEVER, async () => (this.wanted.get(id) === token ? this.declare(id) : true))
        .catch((err: unknown) => {
          this.log.warn('a workflow lease could not be taken again', { workflow_id: id, err });
          return false;
        });
      if (!taken && this.wanted.get(id) === token) {
        this.wanted.delete(id);
        lost.push(id);
      }
    }
    return lost;
  }

  private async declare(id: string): Promise<boolean> {
    const connection = this.connection();
    if (!connection) throw new Error('not connected to the broker');
    try {
      await onThrowawayChannel(connection, (channel) =>
        channel.assertQueue(leaseQueueName(id), { exclusive: true, durable: false, autoDelete: false }),
      );
      return true;
    } catch (err) {
      if (codeOf(err) === 405) return false;
      throw err;
    }
  }
}
