import type { BrokerConnection, Delivery, QueueConsumer } from '../src/amqp';
import { decode, EtfDecodeError, type Term } from '../src/etf';
import type { Metrics } from '../src/health/metrics';
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
  | { readonly type: 'ended'; readonly workflowId: string; readonly replied: boolean }
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
  /** Told the intake's ref once it runs, so workflow ends can reach it. */
  readonly onRef?: (ref: ActorRef<IntakeMsg>) => void;
  /** How long a full house may delay a start, ms. Default 30000. */
  readonly slotWaitMs?: number;
}

interface IntakeState {
  readonly consumer: QueueConsumer | undefined;
  /** The delivery of each running workflow. */
  readonly running: ReadonlyMap<string, Delivery>;
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
 * The service's intake: consumes the builder queue and turns each delivery into a workflow. A delivery is
 * settled only when its workflow has ended: acked once the reply reached the broker, returned to the queue
 * otherwise (so another attempt, here or on another replica, can finish the job; every step is idempotent).
 * Messages that cannot run (not ETF, not a valid request) go to the dead-letter queue with the reason in a
 * header, and are reported where the request says where to; the consumer carries on with the next.
 */
export function intakeActor(options: IntakeOptions): ActorBehaviour<IntakeMsg, IntakeState> {
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

  return defineActor<IntakeMsg, IntakeState>({
    init(ctx) {
      options.onRef?.(ctx.self);
      return { consumer: undefined, running: new Map() };
    },
    async handle(msg, state, ctx) {
      switch (msg.type) {
        case 'consume': {
          if (state.consumer) return state;
          const consumer = await options.connection.consume(
            options.queue,
            (delivery) => void send(ctx.self, { type: 'delivery', delivery }),
            {
              prefetch: options.prefetch,
              maxDeliveries: options.maxDeliveries,
              ...(options.deadLetterQueue ? { deadLetterQueue: options.deadLetterQueue } : {}),
              ...(options.consumerTimeoutMs ? { consumerTimeoutMs: options.consumerTimeoutMs } : {}),
            },
          );
          ctx.log.info('consuming', { queue: options.queue, prefetch: options.prefetch });
          return { ...state, consumer };
        }
        case 'delivery': {
          const { consumer } = state;
          if (!consumer) return state;
          const { delivery } = msg;
          const read = readDelivery(delivery);
          if ('reason' in read) {
            await consumer.deadLetter(delivery, read.reason);
            options.metrics?.deadLettered();
            if (read.term !== undefined) await options.reportRejected(read.term, read.reason);
            return state;
          }
          const id = read.received.request.id;
          const original = state.running.get(id);
          if (original && delivery.copyOf === original.id && consumer.hold(delivery, original)) {
            ctx.log.warn(
              'the broker redelivered a message whose workflow still runs here; holding the copy',
              {
                workflow_id: id,
              },
            );
            return state;
          }
          try {
            await startWhenFree(read.received);
          } catch (err) {
            const reason =
              err instanceof DuplicateChildError
                ? `workflow ${id} is already running on this builder`
                : `the workflow could not start: ${(err as Error).message}`;
            ctx.log.warn('delivery returned to the queue', { workflow_id: id, reason });
            if (err instanceof DuplicateChildError) {
              await consumer.deadLetter(delivery, reason);
              options.metrics?.deadLettered();
            } else consumer.nack(delivery, { requeue: true });
            return state;
          }
          if (delivery.redelivered) {
            options.metrics?.redelivered();
            ctx.log.info('redelivered request: it may have run before; every step is idempotent', {
              workflow_id: id,
            });
          }
          return { ...state, running: new Map(state.running).set(id, delivery) };
        }
        case 'ended': {
          const delivery = state.running.get(msg.workflowId);
          if (!delivery || !state.consumer) return state;
          const outcome = msg.replied
            ? state.consumer.ack(delivery)
            : state.consumer.nack(delivery, { requeue: true });
          ctx.log.info(msg.replied ? 'delivery acked' : 'no reply went out; delivery returned to the queue', {
            workflow_id: msg.workflowId,
            outcome,
          });
          const running = new Map(state.running);
          running.delete(msg.workflowId);
          return { ...state, running };
        }
        case 'drain':
          await state.consumer?.cancel();
          return state;
      }
    },
    async terminate(state) {
      await state.consumer?.cancel().catch(() => undefined);
    },
  });
}
