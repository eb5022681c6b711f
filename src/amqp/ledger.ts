import { createHash } from 'node:crypto';
import type { ConsumeMessage } from 'amqplib';

/** One message handed to the consumer's handler, as plain data. Settle it through the connection by `id`. */
export interface Delivery {
  /** Unique within the connection object; the handle for ack, nack, deadLetter and hold. */
  readonly id: number;
  /** Queue it was consumed from. */
  readonly queue: string;
  /** The payload bytes (ETF in OpenAperture). */
  readonly content: Buffer;
  readonly headers: Readonly<Record<string, unknown>>;
  /** `message_id` property; OpenAperture publishers never set it. */
  readonly messageId: string | undefined;
  /** Identifies the message across redeliveries: `message_id`, else a SHA-256 of the content. */
  readonly key: string;
  /** The broker's flag: an earlier delivery of this message was not acknowledged. */
  readonly redelivered: boolean;
  /**
   * Deliveries of this message so far, this one included: the larger of what this process has seen, the
   * quorum queue's `x-delivery-count` + 1, and 2 when the broker says redelivered.
   */
  readonly deliveryCount: number;
  /** Channel generation it arrived on; acks of older generations are dropped. */
  readonly generation: number;
  /**
   * Id of a delivery of the same message (same key) from an older channel that this process is still
   * working on: the broker redelivered a message whose first delivery's channel closed under a running
   * build (RabbitMQ's consumer timeout). Such a copy is not counted against the delivery limit.
   */
  readonly copyOf?: number;
}

/** A delivery plus what settling it needs. */
export interface LedgerEntry {
  readonly delivery: Delivery;
  readonly message: ConsumeMessage;
  /** Copies held for this delivery by `hold`: settled together with it. */
  readonly held: number[];
}

function countHeader(headers: Record<string, unknown>): number {
  const value = headers['x-delivery-count'];
  return typeof value === 'number' && Number.isFinite(value) ? value + 1 : 1;
}

/**
 * Bookkeeping of unsettled deliveries and of how often each message was delivered. RabbitMQ 3.10 classic
 * queues do not count deliveries, so counts live here, keyed by message, for at most `maxKeys` messages
 * (oldest forgotten first); a count is forgotten when its message is finally settled.
 */
export class DeliveryLedger {
  private readonly entries = new Map<number, LedgerEntry>();
  private readonly counts = new Map<string, number>();
  private nextId = 1;

  constructor(private readonly maxKeys = 10_000) {}

  record(message: ConsumeMessage, queue: string, generation: number): Delivery {
    const headers = (message.properties.headers ?? {}) as Record<string, unknown>;
    const messageId =
      typeof message.properties.messageId === 'string' ? message.properties.messageId : undefined;
    const key = messageId ?? createHash('sha256').update(message.content).digest('hex');
    const seen = (this.counts.get(key) ?? 0) + 1;
    this.counts.delete(key);
    this.counts.set(key, seen);
    if (this.counts.size > this.maxKeys) this.counts.delete(this.counts.keys().next().value as string);
    const original = [...this.entries.values()].find(
      (e) => e.delivery.key === key && e.delivery.generation < generation,
    );
    const delivery: Delivery = {
      id: this.nextId++,
      queue,
      content: message.content,
      headers,
      messageId,
      key,
      redelivered: message.fields.redelivered,
      deliveryCount: Math.max(seen, countHeader(headers), message.fields.redelivered ? 2 : 1),
      generation,
      ...(original ? { copyOf: original.delivery.id } : {}),
    };
    this.entries.set(delivery.id, { delivery, message, held: [] });
    return delivery;
  }

  /** Links `copyId` to `originalId`; false when either is no longer unsettled. */
  hold(copyId: number, originalId: number): boolean {
    const original = this.entries.get(originalId);
    if (!original || !this.entries.has(copyId) || copyId === originalId) return false;
    if (!original.held.includes(copyId)) original.held.push(copyId);
    return true;
  }

  /** The unsettled entry `id` followed by the unsettled copies held for it. */
  group(id: number): LedgerEntry[] {
    const entry = this.entries.get(id);
    if (!entry) return [];
    const copies = entry.held.map((copy) => this.entries.get(copy));
    return [entry, ...copies.filter((c): c is LedgerEntry => c !== undefined)];
  }

  /** Drops entry `id`; `final` also forgets its message's delivery count (it will not come back). */
  settle(id: number, final: boolean): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    this.entries.delete(id);
    if (final) this.counts.delete(entry.delivery.key);
  }

  /** Unsettled deliveries, from every generation. */
  get size(): number {
    return this.entries.size;
  }
}
