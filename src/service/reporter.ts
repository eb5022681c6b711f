import type { Logger } from '../log';
import type { ManagerClient, WorkflowUpdate } from '../manager';
import { encodeHipchatNotification, encodeReply, type BuildRequest, type ReplyRoute } from '../messages';
import { elapsedText, erlangTimestampMs } from '../workflow/elapsed';
import type { Reporter, WorkflowResult, WorkflowSnapshot } from '../workflow/reporter';
import { BuildLogStream } from './build-log';
import type { Destination, MessagePublisher } from './publisher';

/** What the OpenAperture reporter of every workflow shares; made once by the service's composition root. */
export interface OpenApertureContext {
  readonly manager: Pick<ManagerClient, 'updateWorkflow'>;
  readonly publisher: MessagePublisher;
  /** Where build output goes: `build_logs` in every Manager's exchange, through the right broker for each. */
  readonly buildLogDestinations: () => Promise<readonly Destination[]>;
  /** Raises an `unhandled_exception` system event for a workflow; best effort, it never rejects. */
  readonly raiseEvent: (workflowId: string, reason: string, message: string) => Promise<void>;
  readonly log: Logger;
  /** Told of every batch of build-log lines dropped for size, for the metrics. Default none. */
  readonly onLinesDropped?: (count: number) => void;
  /** Clock, ms since the epoch. Default `Date.now`. */
  readonly now?: () => number;
}

/** An Erlang `{Mega, Sec, Micro}` timestamp of a request in ms since the epoch; null when it has none. */
export function timestampMs(value: readonly number[] | null): number | null {
  if (value === null || value.length !== 3) return null;
  const [mega = 0, sec = 0, micro = 0] = value;
  return erlangTimestampMs(mega, sec, micro);
}

/**
 * The body of `PUT /workflows/:id` as the orchestrator API's `Workflow.save` sends it (protocol §3.4.5): the
 * elapsed times as human strings computed from the request's timestamps, and `workflow_completed` always sent,
 * since a PUT without it resets the workflow to not completed.
 */
export function workflowSaveBody(
  request: BuildRequest,
  snapshot: Pick<WorkflowSnapshot, 'eventLog'>,
  nowMs: number,
  outcome: { error: boolean; completed: boolean } = {
    error: request.workflow_error,
    completed: request.workflow_completed,
  },
): WorkflowUpdate {
  return {
    id: request.id,
    deployment_repo: request.deployment_repo,
    deployment_repo_git_ref: request.deployment_repo_git_ref,
    source_repo: request.source_repo,
    source_repo_git_ref: request.source_repo_git_ref,
    source_commit_hash: request.source_commit_hash,
    milestones: request.milestones,
    current_step: request.current_step,
    elapsed_step_time: elapsedText(timestampMs(request.step_time), nowMs),
    elapsed_workflow_time: elapsedText(timestampMs(request.workflow_start_time), nowMs),
    workflow_duration: request.workflow_duration,
    workflow_step_durations: request.workflow_step_durations,
    workflow_error: outcome.error,
    workflow_completed: outcome.completed,
    event_log: [...snapshot.eventLog],
    scheduled_start_time: request.scheduled_start_time,
    execute_options: request.execute_options,
  };
}

/** Where the orchestrator wants its reply: the request's own route (protocol §5.3). */
export function replyDestination(route: ReplyRoute): Destination {
  return {
    brokerId: route.workflow_orchestration_broker_id,
    exchangeId: route.workflow_orchestration_exchange_id,
    queue: route.orchestration_queue_name,
  };
}

function roomNames(config: unknown): string[] {
  const hipchat = (config as { hipchat?: { room_names?: unknown } } | null)?.hipchat;
  const rooms = hipchat?.room_names;
  return Array.isArray(rooms) ? rooms.filter((r): r is string => typeof r === 'string') : [];
}

/**
 * The reporter of one workflow in service mode, speaking OpenAperture: success and failure events as HipChat
 * notifications on `notifications_hipchat`, saves as `PUT /workflows/:id`, build output on `build_logs`, and
 * the end as the ETF reply on the request's `orchestration_queue_name`. Everything but the reply is best
 * effort and only logged when it fails; the reply is what the orchestrator waits for, so its failure is thrown
 * to the caller, which then leaves the delivery unacknowledged for another attempt.
 */
/**
 * Runs `apply` on one value at a time, always on the newest offered: while one runs, later values replace each
 * other and only the last is applied next. A workflow's saves go through it, so a slow or retried older save
 * can never land after a newer one and overwrite the Manager's record with stale data.
 */
export class LatestFirst<T> {
  private running = false;
  private next: { value: T } | undefined;

  constructor(private readonly apply: (value: T) => Promise<void>) {}

  push(value: T): void {
    this.next = { value };
    if (!this.running) void this.drain();
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.next) {
      const { value } = this.next;
      this.next = undefined;
      await this.apply(value);
    }
    this.running = false;
  }
}

/**
 * The gate of a workflow's reply, kept by the owner of its delivery: the reply is the commit point, so it may
 * go out only while the delivery is still held, and the delivery is acked as soon as the reply is confirmed.
 */
export interface ReplyCommit {
  /** Whether the reply may go out now; false once the delivery went back to the broker. */
  claim(status: 'succeeded' | 'failed'): Promise<boolean>;
  /**
   * Whether the claimed reply may still go out, asked once its destination is known, right before it is
   * published: false when the delivery went back to the broker since the claim (its channel was lost while the
   * destination was looked up), and the attempt that holds it now answers instead.
   */
  confirm(): Promise<boolean>;
  /** The claimed reply was confirmed by the broker (`true`) or could not be published. */
  settle(sent: boolean): void;
}

export function openApertureReporter(
  request: BuildRequest,
  context: OpenApertureContext,
  commit?: ReplyCommit,
): Reporter {
  const now = context.now ?? Date.now;
  const log = context.log.child({ workflow_id: request.id });
  const notifications: Destination = {
    brokerId: request.notifications_broker_id,
    exchangeId: request.notifications_exchange_id,
    queue: 'notifications_hipchat',
  };
  const rooms = roomNames(request.notifications_config);
  const bestEffort = (what: string, work: () => Promise<void>): void => {
    work().catch((err: unknown) => log.warn(`${what} failed`, { err }));
  };
  const buildLog = new BuildLogStream({
    workflowId: request.id,
    log,
    send: async (payload) => {
      const destinations = await context.buildLogDestinations();
      // Once: batches go out in order and the reply waits for them, so waiting out an outage here would hold
      // the reply back past the reporter's budget to finish; an outage costs log lines, never the answer.
      await Promise.all(destinations.map((to) => context.publisher.publish(to, payload, { once: true })));
    },
  });
  const saves = new LatestFirst<WorkflowUpdate>((body) =>
    context.manager.updateWorkflow(request.id, body).catch((err: unknown) => {
      log.warn('workflow save failed', { err });
    }),
  );
  return {
    stepStarted: () => undefined,
    event(event) {
      if (event.kind === 'log') return;
      const prefix = event.text.slice(0, event.text.length - event.message.length - 1);
      const payload = encodeHipchatNotification({
        is_success: event.kind === 'success',
        prefix,
        message: event.message,
        room_names: rooms,
      });
      bestEffort('notification', () => context.publisher.publish(notifications, payload));
    },
    save(snapshot) {
      saves.push(workflowSaveBody(request, snapshot, now()));
    },
    logLine: (line) => buildLog.push(line),
    stepFinished: () => undefined,
    async workflowFinished(result: WorkflowResult) {
      await buildLog.flush();
      if (buildLog.droppedLines > 0) context.onLinesDropped?.(buildLog.droppedLines);
      // Stopped by this builder's shutdown: the delivery goes back to the queue and another replica runs the
      // workflow again, so the orchestrator hears from that attempt, not of this one.
      if (result.stopped) {
        log.warn('workflow stopped by the shutdown; left for another attempt', { reason: result.reason });
        return;
      }
      if (commit && !(await commit.claim(result.status))) return;
      let withdrawn = false;
      const beforeSend = async (): Promise<boolean> => {
        withdrawn = commit !== undefined && !(await commit.confirm());
        return !withdrawn;
      };
      try {
        await context.publisher.publish(
          replyDestination(request),
          encodeReply(result.received, result.update),
          { once: true, beforeSend },
        );
      } catch (err) {
        commit?.settle(false);
        throw err;
      }
      commit?.settle(!withdrawn);
      if (withdrawn) return;
      log.info('reply sent to the orchestrator', { status: result.status });
      // As in the original, a crash during processing is also an event for ops, after the failure reply.
      if (result.crashed) {
        const reason = result.reason ?? 'crashed';
        await context.raiseEvent(
          request.id,
          reason,
          `A crash ended the processing of workflow ${request.id}: ${reason}`,
        );
      }
    },
  };
}
