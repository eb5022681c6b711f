import type { Channel, ChannelModel, ConsumeMessage, Options } from 'amqplib';
import type { Delivery } from './ledger';

/** Headers the dead-letter copy carries in addition to the original's. */
export const deadLetterHeaders = {
  reason: 'x-oa-reject-reason',
  queue: 'x-oa-original-queue',
  deliveryCount: 'x-oa-delivery-count',
} as const;

// Properties worth keeping on the copy. `expiration` would let it vanish from the dead-letter queue, and a
// `user_id` other than ours would make the broker refuse the publish.
const kept = [
  'contentType',
  'contentEncoding',
  'correlationId',
  'replyTo',
  'messageId',
  'timestamp',
  'type',
  'appId',
  'priority',
] as const;

/** Publish options of the dead-letter copy: the original's properties and headers plus why, from where and after how many deliveries. */
export function deadLetterProperties(
  message: ConsumeMessage,
  reason: string,
  delivery: Delivery,
): Options.Publish {
  const properties: Options.Publish = { persistent: true };
  for (const name of kept) {
    const value: unknown = message.properties[name];
    if (value !== undefined && value !== null) Object.assign(properties, { [name]: value });
  }
  properties.headers = {
    ...((message.properties.headers ?? {}) as Record<string, unknown>),
    [deadLetterHeaders.reason]: reason,
    [deadLetterHeaders.queue]: delivery.queue,
    [deadLetterHeaders.deliveryCount]: delivery.deliveryCount,
  };
  return properties;
}

function codeOf(err: unknown): unknown {
  return (err as { code?: unknown } | undefined)?.code;
}

// A throwaway channel: errors arrive as rejected promises, and its own `error` listener keeps amqplib from
// escalating them to the connection, which carries the consuming channel.
async function onThrowawayChannel<T>(
  connection: ChannelModel,
  work: (channel: Channel) => Promise<T>,
): Promise<T> {
  const channel = await connection.createChannel();
  channel.on('error', () => undefined);
  try {
    return await work(channel);
  } finally {
    await channel.close().catch(() => undefined);
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
