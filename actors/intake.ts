import type { BrokerConnection, Delivery, QueueConsumer, SettleOutcome } from '../src/amqp';
import type { QueueType } from '../src/amqp/runs';
import { decode, EtfDecodeError, isMap, mapGet, type Term } from '../src/etf';
import type { Metrics } from '../src/health/metrics';
import { InvalidRequestError, parseBuildRequest, type ReceivedBuildRequest } from '../src/messages';
import { timestampMs } from '../src/service/reporter';
import type { WorkloadStep } from '../src/service/workload';
import {
  ActorError,
  DuplicateChildError,
  MaxChildrenError,
  defineActor,
  send,
  type ActorBehaviour,
  type ActorContext,
  type ActorRef,
  type ReplyTo,
} from './supervision';
import { startTimer } from './supervision/timers';

/** How a workflow ended, as far as its delivery is concerned. */
export type WorkflowOutcome = 'succeeded' | 'failed' | 'stopped';

/**
 * What the intake hears. It owns the life of every delivery: the consumer hands deliveries in, the workflow's
 * start, reply and end come back as messages, and the intake alone acks, requeues or dead-letters.
 */
export type IntakeMsg =
  | { readonly type: 'consume' }
  | { readonly type: 'delivery'; readonly delivery: Delivery }
  | { readonly type: 'started'; readonly workflowId: string }
  | { readonly type: 'start-failed'; readonly workflowId: string; readonly error: StartError }
  | {
      readonly type: 'claim-reply';
      readonly workflowId: string;
      readonly status: 'succeeded' | 'failed';
      readonly replyTo: ReplyTo<boolean>;
    }
  /** Right before a claimed reply is published: whether its delivery is still held. */
  | { readonly type: 'confirm-reply'; readonly workflowId: string; readonly replyTo: ReplyTo<boolean> }
  | { readonly type: 'replied'; readonly workflowId: string; readonly sent: boolean }
  | { readonly type: 'ended'; readonly workflowId: string }
  | { readonly type: 'leased'; readonly workflowId: string; readonly taken: boolean; readonly error?: string }
  | { readonly type: 'lease-retry'; readonly workflowId: string }
  | { readonly type: 'channel-lost' }
  | { readonly type: 'try-starting' }
  | { readonly type: 'step'; readonly workflowId: string; readonly step: WorkloadStep }
  | { readonly type: 'workload'; readonly replyTo: ReplyTo<WorkloadEntry[]> }
  | { readonly type: 'drain' };

/** A workflow in flight here and the step it is in (`starting` before its first). */
export interface WorkloadEntry {
  readonly workflow_id: string;
  readonly step: WorkloadStep;
}

/** Why a workflow did not start, as plain data. */
export interface StartError {
  /** `work-dir`: no work directory could be made here, a fault of this replica rather than of the request. */
  readonly kind: 'full' | 'duplicate' | 'work-dir' | 'failed';
  readonly message: string;
}

export interface IntakeOptions {
  readonly connection: BrokerConnection;
  /** QUEUE_NAME: consumed as it is, never declared (ops own its arguments). */
  readonly queue: string;
  /** The workflow slots: deliveries unsettled at once. Each is acked only once its reply is out. */
  readonly prefetch: number;
  /** MAX_DELIVERIES: runs of one request at most; one more delivery is dead-lettered and answered. */
  readonly maxDeliveries: number;
  /** QUEUE_TYPE: how runs are counted. Default `classic`. */
  readonly queueType?: QueueType;
  readonly deadLetterQueue?: string | undefined;
  /**
   * Asked of the broker as this consumer's `x-consumer-timeout` (RabbitMQ 3.12 and later obey it): a delivery is
   * held unacknowledged for as long as its workflow may run. Default: not asked (the broker's `consumer_timeout`).
   */
  readonly consumerTimeoutMs?: number;
  /**
   * Starts the workflow of a valid request, to be stopped when `stop` aborts (its delivery went back to the
   * broker); rejects with MaxChildrenError or DuplicateChildError.
   */
  readonly start: (received: ReceivedBuildRequest, stop: AbortSignal) => Promise<void>;
  /** Reports a request that cannot run (decoded but invalid) to whoever can be told; best effort. */
  readonly reportRejected: (term: Term, reason: string) => Promise<void>;
  /** Counts workflows, redeliveries and dead-lettered messages. Default: not counted. */
  readonly metrics?: Pick<
    Metrics,
    'redelivered' | 'deadLettered' | 'workflowStarted' | 'workflowFinished' | 'startPaused'
  >;
  /** What outlives an incarnation; made once by the composition root with {@link intakeMemory}. */
  readonly memory: IntakeMemory;
}

/**
 * Where the delivery of one workflow stands. `leasing`: its workflow's lease is being taken, or is held by
 * another replica, which is waited for; `waiting`: no slot was free yet; `starting`; `running`;
 * `replying`: its reply is being published; `acked`: the reply was confirmed and the delivery acked, so nothing
 * else may answer. Once the delivery went back to the broker its life is over, and no reply may go out.
 */
type Phase = 'leasing' | 'waiting' | 'starting' | 'running' | 'replying' | 'acked';

interface Life {
  readonly delivery: Delivery;
  readonly received: ReceivedBuildRequest;
  phase: Phase;
  /** The workflow has started: counted as running in the metrics until it ends. */
  started: boolean;
  /** The workflow has ended (its slot is free). */
  ended: boolean;
  status: 'succeeded' | 'failed' | undefined;
  /** A new delivery of the same workflow that came once this one was answered; handled when it has ended. */
  successor: Delivery | undefined;
  /** This connection holds the workflow's lease (see src/amqp/lease.ts), given up when the life closes. */
  leased: boolean;
  /** The delivery's channel closed before it was answered: the workflow is being stopped and may not reply. */
  lost: boolean;
  /** Aborted to stop the workflow. */
  readonly stop: AbortController;
  /** The step the workflow is in, for the heartbeat's workload and `/healthz`. */
  step: WorkloadStep;
  /** Times the lease was found held elsewhere. */
  leaseWaits: number;
}

/**
 * Starting workflows is paused: a workflow could not make its work directory, so every request taken here
 * would fail at once, and the healthy replicas should have them instead.
 */
export interface StartPause {
  /** Why, as the failed start said. */
  readonly reason: string;
  /** ISO-8601 time the pause began. */
  readonly since: string;
  /** How long the current wait before the next try lasts, in milliseconds. */
  waitMs: number;
  /** The wait is over: one request at a time is taken, and the first that starts ends the pause. */
  trying: boolean;
  /** Ends the current wait. */
  timer: NodeJS.Timeout | undefined;
}

/**
 * The intake's state, which outlives an incarnation: the consumer and the deliveries it handed out belong to
 * the broker channel, not to one incarnation of the actor, so a restarted intake must go on settling them, or
 * their slots would stay taken until the connection closes. Only the intake writes it; the composition root
 * makes it, hands it over, and reads `pause` for readiness.
 */
export interface IntakeMemory {
  /** The current incarnation, which deliveries and workflow news are sent to. */
  ref: ActorRef<IntakeMsg> | undefined;
  /** Consuming was asked for (`consume`); a restarted intake resumes it. */
  consuming: boolean;
  consumer: QueueConsumer | undefined;
  /** The delivery of each workflow started or waiting for a slot, by workflow id, in arrival order. */
  readonly lives: Map<string, Life>;
  /** Deliveries handed to the actor and not handled yet, by delivery id. */
  readonly unhandled: Map<number, Delivery>;
  /** Starting workflows is paused; the composition root reads it for `/readyz` and `/healthz`. */
  pause: StartPause | undefined;
}

export function intakeMemory(): IntakeMemory {
  return {
    ref: undefined,
    consuming: false,
    consumer: undefined,
    lives: new Map(),
    unhandled: new Map(),
    pause: undefined,
  };
}

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
 * How long the request waited before its workflow started here, from its step_time (the orchestrator's clock,
 * so the difference between the two hosts' clocks is in it); undefined when the request has no step_time.
 */
function queueWaitMs(received: ReceivedBuildRequest): number | undefined {
  const stepTime = timestampMs(received.request.step_time);
  return stepTime === null ? undefined : Date.now() - stepTime;
}

/** How long a request whose workflow holds its lease elsewhere waits before it asks again. */
const LEASE_RETRY_MS = 1000;

/** The first wait of a pause before a request is taken again; each failed try doubles it, up to the most. */
const PAUSE_FIRST_WAIT_MS = 2000;
const PAUSE_MOST_WAIT_MS = 30_000;

/** Why a workflow whose delivery went back to the broker is stopped; it is not answered. */
const DELIVERY_LOST_REASON =
  'the broker connection was lost and the request went back to the queue; the build was stopped';

// Decided by where the start failed (making the work directory, in the workflow's init), not by the error's
// code alone: an EACCES from anywhere else says nothing about this replica.
function failedOnWorkDir(err: unknown): boolean {
  if (!(err instanceof ActorError)) return false;
  for (let reason = err.reason; reason; reason = reason.cause)
    if (reason.name === 'WorkDirError') return true;
  return false;
}

function startError(err: unknown): StartError {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof MaxChildrenError) return { kind: 'full', message };
  if (err instanceof DuplicateChildError) return { kind: 'duplicate', message };
  if (failedOnWorkDir(err)) return { kind: 'work-dir', message };
  return { kind: 'failed', message };
}

/** What the intake knows of a request it dead-letters: its term, when it decoded, and its workflow id. */
interface Rejected {
  readonly term?: Term;
  readonly workflowId?: string;
  /** Whether the orchestrator is told: not when another attempt of the workflow runs and will answer. */
  readonly answer: boolean;
}

/**
 * The service's intake, and the one owner of a delivery's life: it consumes the builder queue, turns each
 * delivery into a workflow, and decides alone when a delivery is acked, requeued or dead-lettered and whether
 * a reply may go out. The reply is the commit point: a workflow's reporter asks (`claim-reply`) before it
 * publishes, which is granted only while the delivery is still held and was not returned, and asks again
 * (`confirm-reply`) once the reply's destination is looked up, right before the publish, as the delivery may
 * have gone back to the broker with its channel meanwhile; once the reply is
 * confirmed (`replied`) the delivery is acked at once, whatever the rest of the finish does. A workflow that
 * ends without a confirmed reply has its delivery returned to the queue (a counted run), and a reply claimed
 * after that is refused, so nothing answers for a delivery that went back to the broker.
 *
 * A workflow starts only once this connection holds its lease (src/amqp/lease.ts): a copy of a workflow that
 * runs on another replica waits until it has ended there. When the channel closes, the deliveries not answered
 * went back to the broker with it, and their workflows are stopped at once, without a reply.
 *
 * Messages that cannot run (not ETF, not a valid request, run `maxDeliveries` times already, failed to start)
 * go to the dead-letter queue with the reason in a header, counted and answered where the request says. A start
 * that failed making its work directory is the replica's fault: the run counts and the request goes back to the
 * queue (dead-lettered only at its last run), and starting pauses (see `pauseStarting`). The
 * handler never waits on a start, a slot or a publish: those finish as messages, so acks and the drain are
 * never queued behind them.
 */
export function intakeActor(options: IntakeOptions): ActorBehaviour<IntakeMsg, IntakeMemory> {
  const { memory } = options;

  // Every dead-lettering goes through here: counted, logged with the workflow, and answered. When the publish
  // fails (the broker is away, say) the message goes back to the queue instead.
  const reject = async (
    consumer: QueueConsumer,
    delivery: Delivery,
    reason: string,
    rejected: Rejected,
    ctx: ActorContext<IntakeMsg>,
  ): Promise<void> => {
    let outcome: SettleOutcome;
    try {
      outcome = await consumer.deadLetter(delivery, reason);
    } catch (err) {
      ctx.log.error('dead-lettering failed; the message goes back to the queue', { err, reason });
      consumer.nack(delivery, { requeue: true });
      return;
    }
    if (outcome !== 'settled') {
      // Its channel closed first: the broker has it again, and it is judged again wherever it goes.
      ctx.log.info('the delivery went back to the broker before it was dead-lettered', {
        workflow_id: rejected.workflowId,
        outcome,
      });
      return;
    }
    options.metrics?.deadLettered();
    ctx.log.warn('request dead-lettered', {
      workflow_id: rejected.workflowId,
      reason,
      runs: delivery.deliveryCount - 1,
    });
    if (rejected.answer && rejected.term !== undefined) await options.reportRejected(rejected.term, reason);
  };
  const rejectLater = (
    consumer: QueueConsumer,
    delivery: Delivery,
    reason: string,
    rejected: Rejected,
    ctx: ActorContext<IntakeMsg>,
  ): void => {
    reject(consumer, delivery, reason, rejected, ctx).catch((err: unknown) =>
      ctx.log.error('rejecting a request failed', { err, reason }),
    );
  };

  // Messages from work finishing later go to the incarnation current by then.
  const tell = (msg: IntakeMsg): void => {
    if (memory.ref) send(memory.ref, msg);
  };

  // One build of a workflow at a time across replicas: it starts only once this connection holds its lease.
  const takeLease = (id: string): void => {
    options.connection.leases.take(id).then(
      (taken) => tell({ type: 'leased', workflowId: id, taken }),
      (err: unknown) =>
        tell({
          type: 'leased',
          workflowId: id,
          taken: false,
          error: err instanceof Error ? err.message : String(err),
        }),
    );
  };

  const releaseLease = (id: string, ctx: ActorContext<IntakeMsg>): void => {
    options.connection.leases
      .release(id)
      .catch((err: unknown) =>
        ctx.log.warn('the workflow lease could not be given up', { workflow_id: id, err }),
      );
  };

  const startLater = (id: string, life: Life, ctx: ActorContext<IntakeMsg>): void => {
    life.phase = 'starting';
    options.start(life.received, life.stop.signal).then(
      () => send(ctx.self, { type: 'started', workflowId: id }),
      (err: unknown) => send(ctx.self, { type: 'start-failed', workflowId: id, error: startError(err) }),
    );
  };

  // A slot was freed: the oldest request waiting for one starts.
  const startWaiting = (ctx: ActorContext<IntakeMsg>): void => {
    for (const [id, life] of memory.lives) {
      if (life.phase !== 'waiting') continue;
      startLater(id, life, ctx);
      return;
    }
  };

  // A delivery that never ran goes back to the queue uncounted, for another replica to take.
  const giveBack = (consumer: QueueConsumer, delivery: Delivery, ctx: ActorContext<IntakeMsg>): void => {
    consumer
      .release(delivery)
      .catch((err: unknown) => ctx.log.error('returning a message to the queue failed', { err }));
  };

  const setSlots = (consumer: QueueConsumer, slots: number, ctx: ActorContext<IntakeMsg>): void => {
    consumer
      .setPrefetch(slots)
      .catch((err: unknown) => ctx.log.error('the consumer could not be changed', { err, slots }));
  };

  // This replica cannot make work directories: it stops taking requests and gives back those it holds that
  // have not started, so the healthy replicas build them; after a wait (doubled at each failed try) it takes
  // one request at a time again, and the first workflow that starts ends the pause.
  const pauseStarting = (reason: string, consumer: QueueConsumer, ctx: ActorContext<IntakeMsg>): void => {
    let pause = memory.pause;
    // A start under way when the pause began failed as well: the wait goes on as it was.
    if (pause?.trying === false) return;
    if (!pause) {
      pause = {
        reason,
        since: new Date().toISOString(),
        waitMs: PAUSE_FIRST_WAIT_MS,
        trying: false,
        timer: undefined,
      };
      memory.pause = pause;
      options.metrics?.startPaused(true);
      ctx.log.warn(`workflows paused: cannot make work directories (${reason})`, { wait_ms: pause.waitMs });
    } else {
      pause.waitMs = Math.min(pause.waitMs * 2, PAUSE_MOST_WAIT_MS);
      pause.trying = false;
      ctx.log.info('still cannot make work directories; workflows stay paused', { wait_ms: pause.waitMs });
    }
    setSlots(consumer, 0, ctx);
    for (const [id, life] of memory.lives) {
      if (life.phase !== 'leasing' && life.phase !== 'waiting') continue;
      memory.lives.delete(id);
      if (life.leased) releaseLease(id, ctx);
      giveBack(consumer, life.delivery, ctx);
    }
    pause.timer = startTimer(pause.waitMs, () => tell({ type: 'try-starting' }));
    pause.timer.unref();
  };

  const resumeStarting = (consumer: QueueConsumer | undefined, ctx: ActorContext<IntakeMsg>): void => {
    const pause = memory.pause;
    if (!pause) return;
    clearTimeout(pause.timer);
    memory.pause = undefined;
    options.metrics?.startPaused(false);
    ctx.log.info('workflows resumed', { paused_since: pause.since });
    if (consumer) setSlots(consumer, options.prefetch, ctx);
  };

  // The workflow has ended and no reply is in flight: the delivery is settled for good.
  const close = (id: string, life: Life, ctx: ActorContext<IntakeMsg>): void => {
    memory.lives.delete(id);
    if (life.leased) releaseLease(id, ctx);
    const outcome: WorkflowOutcome = life.phase === 'acked' ? (life.status ?? 'failed') : 'stopped';
    if (life.started) options.metrics?.workflowFinished(id, outcome);
    if (life.phase !== 'acked') {
      memory.consumer?.returnAfterRun(life.delivery).then(
        (settled) =>
          ctx.log.info('no reply went out; delivery returned to the queue', {
            workflow_id: id,
            outcome: settled,
          }),
        (err: unknown) => ctx.log.error('returning a message to the queue failed', { workflow_id: id, err }),
      );
    }
    if (life.successor && memory.consumer) handleDelivery(life.successor, memory.consumer, ctx);
    startWaiting(ctx);
  };

  const handleDelivery = (
    delivery: Delivery,
    consumer: QueueConsumer,
    ctx: ActorContext<IntakeMsg>,
  ): void => {
    const read = readDelivery(delivery);
    if ('reason' in read) {
      const id = read.term !== undefined && isMap(read.term) ? mapGet(read.term, 'id') : undefined;
      rejectLater(
        consumer,
        delivery,
        read.reason,
        {
          ...(read.term === undefined ? {} : { term: read.term }),
          ...(typeof id === 'string' ? { workflowId: id } : {}),
          answer: true,
        },
        ctx,
      );
      return;
    }
    const id = read.received.request.id;
    const original = memory.lives.get(id);
    if (original && delivery.copyOf === original.delivery.id && consumer.hold(delivery, original.delivery)) {
      ctx.log.warn('the broker redelivered a message whose workflow still runs here; holding the copy', {
        workflow_id: id,
      });
      return;
    }
    if ((original?.phase === 'acked' || original?.lost === true) && original.successor === undefined) {
      // Published again after the answer while the workflow finishes, or given back after its channel was lost
      // while it stops: its turn comes when that workflow is gone.
      original.successor = delivery;
      return;
    }
    if (original) {
      // Published again while it runs here: the running attempt answers for the workflow.
      const reason = `workflow ${id} is already running on this builder`;
      rejectLater(consumer, delivery, reason, { workflowId: id, answer: false }, ctx);
      return;
    }
    if (memory.pause?.trying === false) {
      // Handed out before the consumer paused: it never ran here.
      giveBack(consumer, delivery, ctx);
      return;
    }
    if (delivery.deliveryCount > options.maxDeliveries) {
      // Every run so far ended without an answer: most likely the request kills its replica.
      const runs = delivery.deliveryCount - 1;
      const reason = `the request was run ${runs} times without finishing (MAX_DELIVERIES is ${options.maxDeliveries}); it is not run again`;
      rejectLater(
        consumer,
        delivery,
        reason,
        { term: read.received.term, workflowId: id, answer: true },
        ctx,
      );
      return;
    }
    const life: Life = {
      delivery,
      received: read.received,
      phase: 'leasing',
      started: false,
      ended: false,
      status: undefined,
      successor: undefined,
      leased: false,
      lost: false,
      stop: new AbortController(),
      step: 'starting',
      leaseWaits: 0,
    };
    memory.lives.set(id, life);
    // With the workflow's own "workflow started" line, what a killed replica's log needs to tell its story.
    ctx.log.info('delivery taken', { workflow_id: id, delivery_count: delivery.deliveryCount });
    takeLease(id);
    if (delivery.redelivered || delivery.deliveryCount > 1) {
      options.metrics?.redelivered();
      ctx.log.info('redelivered request: it may have run before; every step is idempotent', {
        workflow_id: id,
      });
    }
  };

  return defineActor<IntakeMsg, IntakeMemory>({
    init(ctx) {
      memory.ref = ctx.self;
      if (memory.consuming) {
        ctx.log.warn('intake restarted; carrying on with the deliveries in flight', {
          running: memory.lives.size,
          unhandled: memory.unhandled.size,
        });
        if (!memory.consumer) send(ctx.self, { type: 'consume' });
        for (const delivery of memory.unhandled.values()) send(ctx.self, { type: 'delivery', delivery });
      }
      return memory;
    },
    async handle(msg, state, ctx) {
      const { consumer } = memory;
      switch (msg.type) {
        case 'consume': {
          memory.consuming = true;
          if (consumer) return state;
          memory.consumer = await options.connection.consume(
            options.queue,
            (delivery) => {
              memory.unhandled.set(delivery.id, delivery);
              if (memory.ref) send(memory.ref, { type: 'delivery', delivery });
            },
            {
              prefetch: options.prefetch,
              ...(options.queueType ? { queueType: options.queueType } : {}),
              ...(options.deadLetterQueue ? { deadLetterQueue: options.deadLetterQueue } : {}),
              ...(options.consumerTimeoutMs ? { consumerTimeoutMs: options.consumerTimeoutMs } : {}),
              onChannelLost: () => tell({ type: 'channel-lost' }),
            },
          );
          ctx.log.info('consuming', { queue: options.queue, prefetch: options.prefetch });
          return state;
        }
        case 'delivery':
          if (consumer && memory.unhandled.delete(msg.delivery.id))
            handleDelivery(msg.delivery, consumer, ctx);
          return state;
        case 'started': {
          const life = memory.lives.get(msg.workflowId);
          if (!life || life.started) return state;
          life.started = true;
          const queuedMs = queueWaitMs(life.received);
          options.metrics?.workflowStarted(msg.workflowId, queuedMs);
          ctx.log.info('workflow slot taken', { workflow_id: msg.workflowId, queued_ms: queuedMs });
          if (life.phase === 'starting') life.phase = 'running';
          // A work directory was made: the replica can start workflows again.
          resumeStarting(consumer, ctx);
          if (life.ended && life.phase !== 'replying') close(msg.workflowId, life, ctx);
          return state;
        }
        case 'start-failed': {
          const life = memory.lives.get(msg.workflowId);
          if (!life || life.phase !== 'starting' || !consumer) return state;
          if (life.lost) {
            close(msg.workflowId, life, ctx);
            return state;
          }
          if (msg.error.kind === 'full') {
            // The broker hands out a message as soon as the previous one is acked, which can be a moment
            // before the answered workflow has left its slot: it starts when a workflow ends, or at once if
            // one ended while this start was under way.
            if (memory.pause?.trying === false) {
              // Taken as starting paused: it never ran here.
              memory.lives.delete(msg.workflowId);
              if (life.leased) releaseLease(msg.workflowId, ctx);
              giveBack(consumer, life.delivery, ctx);
              return state;
            }
            life.phase = 'waiting';
            const taken = [...memory.lives.values()].filter(
              (l) => (l.started && !l.ended) || l.phase === 'starting',
            ).length;
            if (taken < options.prefetch) startLater(msg.workflowId, life, ctx);
            return state;
          }
          memory.lives.delete(msg.workflowId);
          // Whatever the reason, nothing of this delivery runs here any more: a lease kept would hold up a copy of
          // the request on another replica (one whose dead-lettering fails goes back to the queue) for good.
          if (life.leased) releaseLease(msg.workflowId, ctx);
          if (msg.error.kind === 'work-dir' && life.delivery.deliveryCount < options.maxDeliveries) {
            // The replica's fault, not the request's: the run counts, and the request goes back to the queue for
            // a healthy replica, while this one pauses. Only its last run is answered, as any other failed start.
            ctx.log.warn('the workflow did not start; the request goes back to the queue', {
              workflow_id: msg.workflowId,
              reason: msg.error.message,
              runs: life.delivery.deliveryCount,
            });
            consumer.returnAfterRun(life.delivery).catch((err: unknown) =>
              ctx.log.error('returning a message to the queue failed', {
                workflow_id: msg.workflowId,
                err,
              }),
            );
            pauseStarting(msg.error.message, consumer, ctx);
            return state;
          }
          if (msg.error.kind === 'work-dir') pauseStarting(msg.error.message, consumer, ctx);
          const duplicate = msg.error.kind === 'duplicate';
          const reason = duplicate
            ? `workflow ${msg.workflowId} is already running on this builder`
            : `the workflow could not start: ${msg.error.message}`;
          ctx.log.warn('the workflow did not start', { workflow_id: msg.workflowId, reason });
          rejectLater(
            consumer,
            life.delivery,
            reason,
            {
              term: life.received.term,
              workflowId: msg.workflowId,
              answer: !duplicate,
            },
            ctx,
          );
          startWaiting(ctx);
          return state;
        }
        case 'claim-reply': {
          const life = memory.lives.get(msg.workflowId);
          const granted =
            life !== undefined &&
            !life.lost &&
            (life.phase === 'running' || life.phase === 'starting') &&
            consumer?.isSettleable(life.delivery) === true;
          if (life && granted) {
            life.phase = 'replying';
            life.status = msg.status;
          } else {
            ctx.log.warn('the delivery went back to the broker; the attempt holding it now will reply', {
              workflow_id: msg.workflowId,
            });
          }
          ctx.reply(msg.replyTo, granted);
          return state;
        }
        case 'confirm-reply': {
          const life = memory.lives.get(msg.workflowId);
          const held = life?.phase === 'replying' && consumer?.isSettleable(life.delivery) === true;
          if (!held)
            ctx.log.warn(
              'the delivery went back to the broker while the reply was readied; the attempt holding it now will reply',
              { workflow_id: msg.workflowId },
            );
          ctx.reply(msg.replyTo, held);
          return state;
        }
        case 'replied': {
          const life = memory.lives.get(msg.workflowId);
          if (!life || life.phase !== 'replying' || !consumer) return state;
          if (msg.sent) {
            life.phase = 'acked';
            const outcome = consumer.ack(life.delivery);
            ctx.log.info('delivery acked', { workflow_id: msg.workflowId, outcome });
          } else life.phase = 'running';
          if (life.ended) close(msg.workflowId, life, ctx);
          return state;
        }
        case 'ended': {
          const life = memory.lives.get(msg.workflowId);
          if (!life) return state;
          life.ended = true;
          // A reply in flight decides: the delivery is acked or returned when it is confirmed or fails. A
          // workflow whose start has not answered yet (it crashed in its init) is settled by that answer.
          if (life.phase === 'replying') {
            ctx.log.info('the workflow ended while its reply was going out; the reply decides its delivery', {
              workflow_id: msg.workflowId,
            });
            return state;
          }
          if (life.phase === 'starting' && !life.started) return state;
          close(msg.workflowId, life, ctx);
          return state;
        }
        case 'leased': {
          const life = memory.lives.get(msg.workflowId);
          if (!life) {
            // The delivery went back to the broker while the lease was being taken.
            if (msg.taken) releaseLease(msg.workflowId, ctx);
            return state;
          }
          if (life.phase !== 'leasing') return state;
          if (msg.taken) {
            life.leased = true;
            startLater(msg.workflowId, life, ctx);
            return state;
          }
          if (!consumer?.isSettleable(life.delivery)) {
            close(msg.workflowId, life, ctx);
            return state;
          }
          if (msg.error !== undefined) {
            // The broker refused otherwise (a missing permission, say): the build goes ahead unguarded rather
            // than never.
            ctx.log.error('the workflow lease could not be taken; starting without it', {
              workflow_id: msg.workflowId,
              error: msg.error,
            });
            startLater(msg.workflowId, life, ctx);
            return state;
          }
          // Another replica builds this workflow (or stops it): this copy starts when that build is gone.
          if (life.leaseWaits++ === 0)
            ctx.log.info('the workflow holds its lease elsewhere; waiting until it ends there', {
              workflow_id: msg.workflowId,
            });
          startTimer(LEASE_RETRY_MS, () => tell({ type: 'lease-retry', workflowId: msg.workflowId })).unref();
          return state;
        }
        case 'lease-retry': {
          const life = memory.lives.get(msg.workflowId);
          if (life?.phase === 'leasing') takeLease(msg.workflowId);
          return state;
        }
        case 'channel-lost': {
          // Every delivery not answered yet went back to the broker with the channel, and the connection's
          // leases with it: another replica may take the request at once, so its build here stops now.
          const lost = [...memory.lives].filter(
            ([, life]) =>
              life.phase !== 'acked' &&
              life.phase !== 'replying' &&
              consumer?.isSettleable(life.delivery) !== true,
          );
          for (const [id, life] of lost) {
            life.lost = true;
            if (life.phase === 'leasing' || life.phase === 'waiting') {
              close(id, life, ctx);
              continue;
            }
            ctx.log.warn('the delivery went back to the broker with the channel; stopping its workflow', {
              workflow_id: id,
            });
            life.stop.abort(DELIVERY_LOST_REASON);
          }
          return state;
        }
        case 'try-starting': {
          const pause = memory.pause;
          if (!pause || pause.trying || !consumer) return state;
          pause.trying = true;
          pause.timer = undefined;
          setSlots(consumer, 1, ctx);
          return state;
        }
        case 'step': {
          const life = memory.lives.get(msg.workflowId);
          if (life) life.step = msg.step;
          return state;
        }
        case 'workload':
          ctx.reply(
            msg.replyTo,
            [...memory.lives]
              .filter(([, life]) => life.started && !life.ended)
              .map(([id, life]) => ({ workflow_id: id, step: life.step })),
          );
          return state;
        case 'drain':
          await consumer?.cancel();
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
