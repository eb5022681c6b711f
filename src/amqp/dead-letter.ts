import type { Channel, ChannelModel, ConsumeMessage, Options } from 'amqplib';
import type { Delivery } from './ledger';
import { copyProperties } from './runs';

/** Headers the dead-letter copy carries in addition to the original's. */
export const deadLetterHeaders = {
  reason: 'x-oa-reject-reason',
  queue: 'x-oa-original-queue',
  deliveryCount: 'x-oa-delivery-count',
  /** True when the original's headers were left off because the copy's would not have fitted. */
  headersDropped: 'x-oa-original-headers-dropped',
} as const;

/**
 * The bytes amqplib encodes a header table into. A larger table throws inside the channel's publish, which then
 * never completes: the dead-letter publish would time out on every delivery of the message, and the message
 * would stay unsettled for good, holding a consumer slot. Original headers just under the limit are legal, so
 * ours could be the ones that push the copy over.
 */
const MAX_HEADER_TABLE_BYTES = 65_536;

/** An upper bound of the bytes `value` takes as a field value, type tag included, as amqplib encodes it. */
function fieldBytes(value: unknown): number {
  if (typeof value === 'string') return 5 + Buffer.byteLength(value, 'utf8');
  // Numbers, booleans, timestamps and void take a tag and at most 8 bytes.
  if (typeof value !== 'object' || value === null || value instanceof Date) return 9;
  if (value instanceof Uint8Array) return 5 + value.byteLength;
  if (Array.isArray(value)) return value.reduce((sum: number, item) => sum + fieldBytes(item), 5);
  // amqplib's `{ '!': type, value }` form, or a nested table.
  if ('!' in value) return 9 + fieldBytes((value as { value?: unknown }).value);
  return 1 + tableBytes(value as Record<string, unknown>);
}

function tableBytes(table: Record<string, unknown>): number {
  let sum = 4;
  for (const [key, value] of Object.entries(table)) sum += 1 + Buffer.byteLength(key) + fieldBytes(value);
  return sum;
}

/**
 * Longest reject reason put in a header, in characters. AMQP field tables are limited to 64 KiB, and a publish
 * that exceeds it fails on the consuming channel; reasons that echo a huge message must not get that far.
 */
export const MAX_REASON_LENGTH = 1000;

function boundedReason(reason: string): string {
  if (reason.length <= MAX_REASON_LENGTH) return reason;
  // Never cut a surrogate pair in half: the header would carry an invalid character.
  const cut = reason.slice(0, MAX_REASON_LENGTH - 1).replace(/[\uD800-\uDBFF]$/, '');
  return `${cut}…`;
}

/** Whether `headers` fit in the field table amqplib can encode (see {@link MAX_HEADER_TABLE_BYTES}). */
export function fitsHeaderTable(headers: Record<string, unknown>): boolean {
  return tableBytes(headers) <= MAX_HEADER_TABLE_BYTES;
}

/**
 * Publish options of the dead-letter copy: the original's properties and headers plus why (at most
 * {@link MAX_REASON_LENGTH} characters of it), from where and after how many deliveries. Original headers too
 * large to travel with ours are left off, which the copy says.
 */
export function deadLetterProperties(
  message: ConsumeMessage,
  reason: string,
  delivery: Delivery,
): Options.Publish {
  const ours = {
    [deadLetterHeaders.reason]: boundedReason(reason),
    [deadLetterHeaders.queue]: delivery.queue,
    [deadLetterHeaders.deliveryCount]: delivery.deliveryCount,
  };
  const all = { ...((message.properties.headers ?? {}) as Record<string, unknown>), ...ours };
  return copyProperties(
    message,
    fitsHeaderTable(all) ? all : { ...ours, [deadLetterHeaders.headersDropped]: true },
  );
}

function codeOf(err: unknown): unknown {
  return (err as { code?: unknown } | undefined)?.code;
}

// A throwaway channel: errors arrive as rejected promises, and its own `error` listener keeps amqplib from
// escalating them to the connection, which carries the consuming channel.
export async function onThrowawayChannel<T>(
  connection: ChannelModel,
  work: (channel: Channel) => Promise<T>,
): Promise<T> {
  const channel = await connection.createChannel();
  channel.on('error', () => undefined);
  // The channel's `close` event comes however it ends. amqplib's close() waits for the broker's close-ok, which
  // never comes when the connection goes first (a broker restart): waited for alone, it would hang the caller for
  // good, and with it every later lease operation of the same workflow, which run one at a time.
  const closed = new Promise<void>((resolve) => channel.once('close', () => resolve()));
  try {
    return await work(channel);
  } finally {
    await Promise.race([channel.close().catch(() => undefined), closed]);
  }
}

/**
 * Makes sure `queue` exists, declaring it as a plain durable queue only when a passive check says it is
 * absent, so an existing queue with other arguments is left alone.
 */
export async function ensureQueue(connection: ChannelModel, queue: string): Promise<void> {
  try {
    await onThrowawayChannel(connection, (channel) => channel.checkQueue(queue));
    return;
  } catch (err) {
    if (codeOf(err) !== 404) throw err;
  }
  await onThrowawayChannel(connection, (channel) => channel.assertQueue(queue, { durable: true }));
}
