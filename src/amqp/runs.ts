import type { ConsumeMessage, Options } from 'amqplib';

/**
 * How the queue counts the runs of a message: a quorum queue counts returns itself (`x-delivery-count`), a
 * classic queue only flags a redelivery, so the builder carries the count in the message (`x-oa-runs`).
 */
export type QueueType = 'classic' | 'quorum';

/** The header in which a message returned to the queue by the builder carries its runs so far. */
export const RUNS_HEADER = 'x-oa-runs';

function counter(headers: Readonly<Record<string, unknown>>, name: string): number {
  const value = headers[name];
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : 0;
}

/**
 * Runs of a message that ended without settling it, before this delivery: what the builder wrote into
 * `x-oa-runs` when it returned the message, plus the returns the broker saw since (a quorum queue's
 * `x-delivery-count`; on a classic queue the redelivered flag, which says one return, not how many).
 * Nothing here lives in one process, so a fresh replica counts what its dead predecessors ran.
 */
export function runsBefore(
  headers: Readonly<Record<string, unknown>>,
  redelivered: boolean,
  queueType: QueueType,
): number {
  const returns = queueType === 'quorum' ? counter(headers, 'x-delivery-count') : redelivered ? 1 : 0;
  return counter(headers, RUNS_HEADER) + returns;
}

// Properties worth keeping on a copy. `expiration` would let it vanish from the queue it is put in, and a
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

/** The original's publish properties a copy of `message` keeps, persistent, with `headers`. */
export function copyProperties(message: ConsumeMessage, headers: Record<string, unknown>): Options.Publish {
  const properties: Options.Publish = { persistent: true };
  for (const name of kept) {
    const value: unknown = message.properties[name];
    if (value !== undefined && value !== null) Object.assign(properties, { [name]: value });
  }
  properties.headers = headers;
  return properties;
}

/**
 * Headers of the copy of `message` that goes back to its queue after `runs` runs: the original's, with the
 * broker's own count left off (the copy starts a fresh one) and the runs in `x-oa-runs`.
 */
export function countedHeaders(message: ConsumeMessage, runs: number): Record<string, unknown> {
  const { 'x-delivery-count': _count, ...headers } = (message.properties.headers ?? {}) as Record<
    string,
    unknown
  >;
  return { ...headers, [RUNS_HEADER]: runs };
}
