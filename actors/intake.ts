import type { BrokerConnection, Delivery, QueueConsumer } from '../src/amqp';
import { decode, EtfDecodeError, type Term } from '../src/etf';
import type { Metrics } from '../src/health/metrics';
import type { Logger } from '../src/log';
import { InvalidRequestError, parseBuildRequest, type ReceivedBuildRequest } from '../src/messages';
import {
  DuplicateChildError,
  MaxChildrenError,
  defineActor,
  send,
  type ActorBehaviour,
  type ActorRef,
} from './supervision';

/** What the intake hears: the go-ahead, deliveries, the end of a workflow it started, and drain. */
export type IntakeMsg =
  | { readonly type: 'consume' }
  | { readonly type: 'delivery'; readonly delivery: Delivery }
  | { readonly type: 'ended'; readonly workflowId: string }
  | { readonly type: 'drain' };

export interface IntakeOptions {
  readonly connection: BrokerConnection;
  /** QUEUE_NAME: consumed as it is, never declared (ops own its arguments). */
  readonly queue: string;
  /** The workflow slots: deliveries unsettled at once. Each is acked only once its workflow has ended. */
  readonly prefetch: number;
  readonly maxDeliveries: number;
  readonly deadLetterQueue?: string | undefined;
  /**
   * Asked of the broker as this consumer's `x-consumer-timeout` (RabbitMQ 3.12 and later obey it): a delivery is
   * held unacknowledged for as long as its workflow may run. Default: not asked (the broker's `consumer_timeout`).
   */
  readonly consumerTimeoutMs?: number;
  /** Starts the workflow of a valid request; rejects with MaxChildrenError or DuplicateChildError. */
  readonly start: (received: ReceivedBuildRequest) => Promise<void>;
  /** Reports a request that cannot run (decoded but invalid) to whoever can be told; best effort. */
  readonly reportRejected: (term: Term, reason: string) => Promise<void>;
  /** Counts redeliveries and dead-lettered messages. Default: not counted. */
  readonly metrics?: Pick<Metrics, 'redelivered' | 'deadLettered'>;
  /** What outlives an incarnation; made once by the composition root with {@link intakeMemory}. */
  readonly memory: IntakeMemory;
  /** How long a full house may delay a start, ms. Default 30000. */
  readonly slotWaitMs?: number;
}

/**
 * The intake's memory across restarts. The consumer and the deliveries it handed out belong to the broker
 * channel, not to one incarnation of the actor: a restarted intake must go on settling them, or their slots
 * would stay taken until the connection closes. So they live here, with the messages a crashed incarnation had
 * not handled yet, which the next one handles instead.
 */
export interface IntakeMemory {
  /** The current incarnation, which deliveries and workflow ends are sent to. */
  ref: ActorRef<IntakeMsg> | undefined;
  /** Consuming was asked for (`consume`); a restarted intake resumes it. */
  consuming: boolean;
  consumer: QueueConsumer | undefined;
  /** The delivery of each running workflow. */
  readonly running: Map<string, Delivery>;
  /** Deliveries handed to the actor and not handled yet, by delivery id. */
  readonly unhandled: Map<number, Delivery>;
  /** Workflow ends not handled yet: whether the workflow's reply went out. */
  readonly ended: Map<string, boolean>;
}

export function intakeMemory(): IntakeMemory {
  return {
    ref: undefined,
    consuming: false,
    consumer: undefined,
    running: new Map(),
    unhandled: new Map(),
    ended: new Map(),
  };
}

/**
 * Whether the delivery of running workflow `workflowId` is still ours to settle. When it is not (its channel
 * closed and the message went back to the broker), the attempt that holds the message now answers for it.
 */
export function deliveryHeld(memory: IntakeMemory, workflowId: string): boolean {
  const delivery = memory.running.get(workflowId);
  return delivery !== undefined && memory.consumer?.isSettleable(delivery) === true;
}

/** Tells the intake that workflow `workflowId` ended, and whether its reply went out. */
export function workflowEnded(memory: IntakeMemory, workflowId: string, replied: boolean): void {
  memory.ended.set(workflowId, replied);
  if (memory.ref) send(memory.ref, { type: 'ended', workflowId });
}

const SLOT_RETRY_MS = 100;

/** The reason a delivery cannot become a workflow, or its request. */
function readDelivery(
  delivery: Delivery,
): { received: ReceivedBuildRequest } | { reason: string; term?: Term } {
  let term: Term;
  try {
    term = decode(delivery.content);
  } catch (err) {
    if (err instanceof EtfDecodeError) return { reason: `undecodable: ${err.message}` };
    throw err;
  }
  try {
    return { received: parseBuildRequest(term) };
  } catch (err) {
    if (err instanceof InvalidRequestError) return { reason: err.message, term };
    throw err;
  }
}

/**
 * Dead-letters `delivery`, or returns it to the queue when the publish fails (the broker is away, say): an
 * intake crashing on it would stop consuming for good. If the publish keeps failing, the delivery limit ends
 * the loop. True when the message was dead-lettered.
 */
async function deadLetterOrRequeue(
  consumer: QueueConsumer,
  delivery: Delivery,
  reason: string,
  log: Logger,
): Promise<boolean> {
  try {
    await consumer.deadLetter(delivery, reason);
    return true;
  } catch (err) {
    log.error('dead-lettering failed; the message goes back to the queue', { err, reason });
    consumer.nack(delivery, { requeue: true });
    return false;
  }
}

/**
 * The service's intake: consumes the builder queue and turns each delivery into a workflow. A delivery is
 * settled only when its workflow has ended: acked once the reply reached the broker, returned to the queue
 * otherwise (so another attempt, here or on another replica, can finish the job; every step is idempotent).
 * Messages that cannot run (not ETF, not a valid request) go to the dead-letter queue with the reason in a
 * header, and are reported where the request says where to; the consumer carries on with the next.
 */
export function intakeActor(options: IntakeOptions): ActorBehaviour<IntakeMsg, IntakeMemory> {
  const startWhenFree = async (received: ReceivedBuildRequest): Promise<void> => {
    const deadline = Date.now() + (options.slotWaitMs ?? 30_000);
    for (;;) {
      try {
        return await options.start(received);
      } catch (err) {
        // The broker hands out a message as soon as the previous one is acked, which can be a moment
        // before the ended workflow has left its slot.
        if (!(err instanceof MaxChildrenError) || Date.now() > deadline) throw err;
        await new Promise((resolve) => setTimeout(resolve, SLOT_RETRY_MS));
      }
    }
  };

  const { memory } = options;
  return defineActor<IntakeMsg, IntakeMemory>({
    init(ctx) {
      memory.ref = ctx.self;
      if (memory.consuming) {
        ctx.log.warn('intake restarted; carrying on with the deliveries in flight', {
          running: memory.running.size,
          unhandled: memory.unhandled.size,
        });
        if (!memory.consumer) send(ctx.self, { type: 'consume' });
        for (const delivery of memory.unhandled.values()) send(ctx.self, { type: 'delivery', delivery });
        for (const workflowId of memory.ended.keys()) send(ctx.self, { type: 'ended', workflowId });
      }
      return memory;
    },
    async handle(msg, state, ctx) {
      switch (msg.type) {
        case 'consume': {
          memory.consuming = true;
          if (memory.consumer) return state;
          memory.consumer = await options.connection.consume(
            options.queue,
            (delivery) => {
              memory.unhandled.set(delivery.id, delivery);
              if (memory.ref) send(memory.ref, { type: 'delivery', delivery });
            },
            {
              prefetch: options.prefetch,
              maxDeliveries: options.maxDeliveries,
              ...(options.deadLetterQueue ? { deadLetterQueue: options.deadLetterQueue } : {}),
              ...(options.consumerTimeoutMs ? { consumerTimeoutMs: options.consumerTimeoutMs } : {}),
            },
          );
          ctx.log.info('consuming', { queue: options.queue, prefetch: options.prefetch });
          return state;
        }
        case 'delivery': {
          const { consumer } = memory;
          const { delivery } = msg;
          if (!consumer || !memory.unhandled.delete(delivery.id)) return state;
          const read = readDelivery(delivery);
          if ('reason' in read) {
            if (!(await deadLetterOrRequeue(consumer, delivery, read.reason, ctx.log))) return state;
            options.metrics?.deadLettered();
            if (read.term !== undefined) await options.reportRejected(read.term, read.reason);
            return state;
          }
          const id = read.received.request.id;
          const original = memory.running.get(id);
          if (original && delivery.copyOf === original.id && consumer.hold(delivery, original)) {
            ctx.log.warn(
              'the broker redelivered a message whose workflow still runs here; holding the copy',
              {
                workflow_id: id,
              },
            );
            return state;
          }
          if (original) {
            // Published again while it runs here: the running attempt answers for the workflow.
            const reason = `workflow ${id} is already running on this builder`;
            if (await deadLetterOrRequeue(consumer, delivery, reason, ctx.log))
              options.metrics?.deadLettered();
            return state;
          }
          // Recorded before the start: a workflow can end (and ask whether its delivery is still held) at once.
          memory.running.set(id, delivery);
          try {
            await startWhenFree(read.received);
          } catch (err) {
            const reason =
              err instanceof DuplicateChildError
                ? `workflow ${id} is already running on this builder`
                : `the workflow could not start: ${(err as Error).message}`;
            memory.running.delete(id);
            ctx.log.warn('delivery returned to the queue', { workflow_id: id, reason });
            if (err instanceof DuplicateChildError) {
              if (await deadLetterOrRequeue(consumer, delivery, reason, ctx.log))
                options.metrics?.deadLettered();
            } else consumer.nack(delivery, { requeue: true });
            return state;
          }
          // With the workflow's own "workflow started" line, what a killed replica's log needs to tell its story.
          ctx.log.info('delivery taken', { workflow_id: id, delivery_count: delivery.deliveryCount });
          if (delivery.redelivered) {
            options.metrics?.redelivered();
            ctx.log.info('redelivered request: it may have run before; every step is idempotent', {
              workflow_id: id,
            });
          }
          return state;
        }
        case 'ended': {
          const replied = memory.ended.get(msg.workflowId);
          const delivery = memory.running.get(msg.workflowId);
          memory.ended.delete(msg.workflowId);
          if (replied === undefined || !delivery || !memory.consumer) return state;
          memory.running.delete(msg.workflowId);
          const outcome = replied
            ? memory.consumer.ack(delivery)
            : memory.consumer.nack(delivery, { requeue: true });
          ctx.log.info(replied ? 'delivery acked' : 'no reply went out; delivery returned to the queue', {
            workflow_id: msg.workflowId,
            outcome,
          });
          return state;
        }
        case 'drain':
          await memory.consumer?.cancel();
          return state;
        default:
          throw new Error(`intake: unexpected message ${JSON.stringify(msg)}`);
      }
    },
    // A crash keeps the consumer for the next incarnation; any other end stops consuming for good.
    async terminate(_state, exit) {
      if (exit.kind === 'crashed') return;
      memory.ref = undefined;
      await memory.consumer?.cancel().catch(() => undefined);
    },
  });
}
