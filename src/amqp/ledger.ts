import { createHash } from 'node:crypto';
import type { ConsumeMessage } from 'amqplib';
import { runsBefore, type QueueType } from './runs';

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
   * Runs of this message so far, this one included: the runs that ended without settling it (see
   * {@link runsBefore}) plus one. Read from the message and the broker, so every replica agrees on it.
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

/** Bookkeeping of unsettled deliveries, and of which of them are copies of one still worked on. */
export class DeliveryLedger {
  private readonly entries = new Map<number, LedgerEntry>();
  private nextId = 1;

  constructor(private readonly queueType: QueueType = 'classic') {}

  record(message: ConsumeMessage, queue: string, generation: number): Delivery {
    const headers = (message.properties.headers ?? {}) as Record<string, unknown>;
    const messageId =
      typeof message.properties.messageId === 'string' ? message.properties.messageId : undefined;
    const key = messageId ?? createHash('sha256').update(message.content).digest('hex');
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
      deliveryCount: runsBefore(headers, message.fields.redelivered, this.queueType) + 1,
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

  /** Drops entry `id`. */
  settle(id: number): void {
    this.entries.delete(id);
  }

  /** Unsettled deliveries, from every generation. */
  get size(): number {
    return this.entries.size;
  }
}
