// What the soak knows of a request still without a reply when the settle time is over, gathered before the
// replicas are stopped (the stop returns what they hold to the queue and drops their leases): whether its
// workflow's lease queue exists on the broker, which replica took it last and its last log lines. With the
// builder queue's ready messages and consumers, that tells a copy waiting for a lease, a replica holding a
// delivery it forgot and a replica that stopped consuming apart, without the broker's management plugin.
import fs from 'node:fs';
import amqp from 'amqplib';
import { onThrowawayChannel } from '../../src/amqp/dead-letter';
import { leaseQueueName } from '../../src/amqp/lease';

/** The state of one unanswered request before the stop. */
export interface Unanswered {
  readonly id: string;
  /** Its lease queue: `none`, `held by a replica's connection`, or what the broker answered otherwise. */
  readonly lease: string;
  /** The replica whose log last says `delivery taken` for it. */
  readonly lastTakenBy: string | undefined;
  /** Its last log lines across the replicas, oldest first. */
  readonly lastLines: readonly string[];
}

/** The builder queue before the stop: messages ready (not held by a replica) and consumers. */
export interface QueueState {
  readonly ready: number;
  readonly consumers: number;
}

/** A replica's name and the file its JSON log lines go to. */
export interface ReplicaLog {
  readonly name: string;
  readonly file: string;
}

const LAST_LINES = 8;

const codeOf = (err: unknown): unknown => (err as { code?: unknown } | undefined)?.code;

/** A passive declare: it neither makes the queue nor takes a lease, and an exclusive queue shows as locked. */
async function leaseState(connection: amqp.ChannelModel, id: string): Promise<string> {
  try {
    await onThrowawayChannel(connection, (channel) => channel.checkQueue(leaseQueueName(id)));
    return 'exists, not exclusive to another connection';
  } catch (err) {
    if (codeOf(err) === 404) return 'none';
    if (codeOf(err) === 405) return "held by a replica's connection";
    return `not known (${(err as Error).message})`;
  }
}

interface LogLine {
  readonly at: string;
  readonly replica: string;
  readonly text: string;
  readonly taken: boolean;
}

function linesOf(logs: readonly ReplicaLog[], id: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const { name, file } of logs) {
    let content: string;
    try {
      content = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const raw of content.split('\n')) {
      if (!raw.includes(id)) continue;
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        continue;
      }
      if (entry.workflow_id !== id) continue;
      const at = typeof entry.timestamp === 'string' ? entry.timestamp : '';
      const message = String(entry.message);
      lines.push({
        at,
        replica: name,
        text: `${at} ${name} ${String(entry.level)}: ${message}`,
        taken: message === 'delivery taken',
      });
    }
  }
  return lines.sort((x, y) => x.at.localeCompare(y.at));
}

/** Looks at each of `ids` and at `queue` on the broker at `url`; a broker that does not answer is said so. */
export async function inspectUnanswered(
  url: string,
  queue: string,
  ids: readonly string[],
  logs: readonly ReplicaLog[],
): Promise<{ queue: QueueState | string; requests: Unanswered[] }> {
  let connection: amqp.ChannelModel;
  try {
    connection = await amqp.connect(url);
    connection.on('error', () => undefined);
  } catch (err) {
    const why = `the broker did not answer: ${(err as Error).message}`;
    return { queue: why, requests: ids.map((id) => describe(id, why, logs)) };
  }
  const open = connection;
  try {
    const state = await onThrowawayChannel(open, (channel) => channel.checkQueue(queue)).then(
      (ok): QueueState => ({ ready: ok.messageCount, consumers: ok.consumerCount }),
      (err: unknown) => `not known (${(err as Error).message})`,
    );
    const requests: Unanswered[] = [];
    for (const id of ids) requests.push(describe(id, await leaseState(open, id), logs));
    return { queue: state, requests };
  } finally {
    await open.close().catch(() => undefined);
  }
}

function describe(id: string, lease: string, logs: readonly ReplicaLog[]): Unanswered {
  const lines = linesOf(logs, id);
  const taken = lines.filter((l) => l.taken);
  return {
    id,
    lease,
    lastTakenBy: taken[taken.length - 1]?.replica,
    lastLines: lines.slice(-LAST_LINES).map((l) => l.text),
  };
}

/** The report's lines for them, indented under the summary. */
export function unansweredLines(found: { queue: QueueState | string; requests: Unanswered[] }): string[] {
  if (found.requests.length === 0) return [];
  const queue =
    typeof found.queue === 'string'
      ? found.queue
      : `${found.queue.ready} ready, ${found.queue.consumers} consumer(s)`;
  const out = [`  before the stop, the builder queue: ${queue}`];
  for (const r of found.requests) {
    out.push(`  unanswered ${r.id}: lease ${r.lease}; last taken by ${r.lastTakenBy ?? 'no replica'}`);
    for (const line of r.lastLines) out.push(`    ${line}`);
  }
  return out;
}
