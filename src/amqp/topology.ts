import type { Channel, ChannelModel, Options } from 'amqplib';
import { onThrowawayChannel } from './dead-letter';

/** A queue the builder expects, with the arguments it must have. */
export interface ExpectedQueue {
  readonly kind: 'queue';
  readonly name: string;
  readonly arguments: Readonly<Record<string, string>>;
}

/** A topic exchange the orchestrator publishes to. */
export interface ExpectedExchange {
  readonly kind: 'exchange';
  readonly name: string;
}

/** A binding of a queue to an exchange with a routing key. */
export interface ExpectedBinding {
  readonly kind: 'binding';
  readonly queue: string;
  readonly exchange: string;
  readonly routingKey: string;
}

export type Expected = ExpectedQueue | ExpectedExchange | ExpectedBinding;

/**
 * What the broker has of one expected entity. `differs` carries the broker's own words (its PRECONDITION_FAILED
 * text names the argument and both values). `unknown`: AMQP cannot tell (a binding cannot be read back).
 */
export type Found =
  | { readonly state: 'matches' | 'missing' | 'created' | 'bound' | 'unknown' }
  | { readonly state: 'differs'; readonly detail: string };

const PRECONDITION_FAILED = 406;
const NOT_FOUND = 404;

interface AmqpFailure {
  readonly code?: unknown;
  readonly message: string;
}

const codeOf = (err: unknown): unknown => (err as AmqpFailure | undefined)?.code;

function queueOptions(queue: ExpectedQueue, extra: Record<string, string> = {}): Options.AssertQueue {
  return { durable: true, arguments: { ...queue.arguments, ...extra } };
}

// "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'q' in vhost '/': received none but current
// is the value 'quorum' of type 'longstr'": the part after the dash is what an operator needs.
const brokerWords = (err: AmqpFailure): string =>
  err.message.replace(/^.*?PRECONDITION_FAILED - /s, '').replace(/\s+$/, '');

/**
 * Runs `work` on a throwaway channel (the broker closes a channel on a failed declaration) and returns the
 * failure when the broker refused it with `code`; any other failure is thrown.
 */
async function refusal(
  connection: ChannelModel,
  work: (channel: Channel) => Promise<unknown>,
  code: number,
): Promise<AmqpFailure | undefined> {
  try {
    await onThrowawayChannel(connection, work);
    return undefined;
  } catch (err) {
    if (codeOf(err) !== code) throw err;
    return err as AmqpFailure;
  }
}

/**
 * Declares `declare` and reads the outcome: a declaration equal to the existing entity changes nothing and
 * succeeds; one with other arguments fails with PRECONDITION_FAILED, which is the difference. A passive
 * declaration could say whether the entity exists, but not with which arguments.
 */
async function compare(
  connection: ChannelModel,
  declare: (channel: Channel) => Promise<unknown>,
): Promise<Found> {
  const refused = await refusal(connection, declare, PRECONDITION_FAILED);
  return refused ? { state: 'differs', detail: brokerWords(refused) } : { state: 'matches' };
}

const exists = async (connection: ChannelModel, check: (channel: Channel) => Promise<unknown>) =>
  (await refusal(connection, check, NOT_FOUND)) === undefined;

async function inspectQueue(connection: ChannelModel, queue: ExpectedQueue, apply: boolean): Promise<Found> {
  if (!(await exists(connection, (c) => c.checkQueue(queue.name)))) {
    if (!apply) return { state: 'missing' };
    await onThrowawayChannel(connection, (c) => c.assertQueue(queue.name, queueOptions(queue)));
    return { state: 'created' };
  }
  const found = await compare(connection, (c) => c.assertQueue(queue.name, queueOptions(queue)));
  // A quorum queue serves the builder as well as a classic one (it counts deliveries itself): compared again
  // as one, it differs only if something else does.
  if (found.state === 'differs' && /'x-queue-type'.*'quorum'/.test(found.detail))
    return compare(connection, (c) =>
      c.assertQueue(queue.name, queueOptions(queue, { 'x-queue-type': 'quorum' })),
    );
  return found;
}

async function inspectExchange(
  connection: ChannelModel,
  exchange: ExpectedExchange,
  apply: boolean,
): Promise<Found> {
  const declare = (c: Channel) => c.assertExchange(exchange.name, 'topic', { durable: true });
  if (!(await exists(connection, (c) => c.checkExchange(exchange.name)))) {
    if (!apply) return { state: 'missing' };
    await onThrowawayChannel(connection, declare);
    return { state: 'created' };
  }
  return compare(connection, declare);
}

/**
 * Compares what the broker has with what the builder expects, entity by entity, in order (exchanges and queues
 * before the bindings between them). Nothing that exists is ever redeclared differently: with `apply`, only
 * missing exchanges and queues are declared, and bindings (idempotent) are made.
 */
export async function inspectTopology(
  connection: ChannelModel,
  expected: readonly Expected[],
  apply: boolean,
): Promise<Found[]> {
  const found: Found[] = [];
  for (const entity of expected) {
    switch (entity.kind) {
      case 'queue':
        found.push(await inspectQueue(connection, entity, apply));
        break;
      case 'exchange':
        found.push(await inspectExchange(connection, entity, apply));
        break;
      case 'binding':
        if (apply)
          await onThrowawayChannel(connection, (c) =>
            c.bindQueue(entity.queue, entity.exchange, entity.routingKey),
          );
        found.push({ state: apply ? 'bound' : 'unknown' });
        break;
    }
  }
  return found;
}
