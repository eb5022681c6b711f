import type { ErlMap } from '../etf';
import type { ReplyUpdate } from '../messages';

/** The steps of a workflow, in the order they can run. */
export type StepName = 'checkout' | 'config' | 'build' | 'verify';

/**
 * How an event-log entry reaches people, as in the original: `success` and `failure` are also sent as
 * notifications (green or red), `log` only goes into the event log.
 */
export type EventKind = 'success' | 'failure' | 'log';

/** One event-log entry; `text` is the full line, `[OA][<workflow id>] <message>`. */
export interface WorkflowEvent {
  readonly kind: EventKind;
  readonly message: string;
  readonly text: string;
}

/** The workflow record as the Manager keeps it: what a save sends (`PUT /workflows/:id`). */
export interface WorkflowSnapshot {
  readonly workflowId: string;
  readonly currentStep: string;
  readonly step: StepName | null;
  /** Received entries first, then the builder's. */
  readonly eventLog: readonly string[];
  /** Milliseconds each finished step took, by step. */
  readonly stepDurations: Readonly<Partial<Record<StepName, number>>>;
}

/** How a workflow ended; `reply` is what the orchestrator receives. */
export interface WorkflowResult {
  readonly workflowId: string;
  readonly status: 'succeeded' | 'failed';
  /** The failure notification's text (`Milestone has failed`, ...), null on success. */
  readonly message: string | null;
  /** Why it failed, in the event log before `message`; null on success. */
  readonly reason: string | null;
  /** The request map as received, and the fields the builder changed in it. */
  readonly received: ErlMap;
  readonly update: ReplyUpdate;
  /** The image reference built or found, when the workflow got that far. */
  readonly image: string | null;
  readonly imageFound: boolean;
  readonly elapsedMs: number;
  /**
   * The builder stopped the workflow (shutdown, or the Manager marked it errored) rather than the work failing.
   * Its delivery goes back to the queue for another attempt, so the orchestrator must not hear of it yet.
   */
  readonly stopped: boolean;
  /**
   * A bug crashed the processing (a step actor, or the workflow's own code) rather than the work failing; the
   * original builder raised a system event for such a failure.
   */
  readonly crashed: boolean;
  readonly stepDurations: Readonly<Partial<Record<StepName, number>>>;
}

/**
 * Where a workflow tells the world what it does: the console in local mode, OpenAperture (notifications,
 * Manager saves, build logs, the orchestrator reply) in service mode. Every method but `workflowFinished` is
 * fire-and-forget for the workflow: a reporter that fails or is slow must not fail or stall a build, so
 * implementations swallow (and log) their own errors. `workflowFinished` is awaited: the delivery is acked only
 * after the result is out.
 */
export interface Reporter {
  stepStarted(step: StepName, snapshot: WorkflowSnapshot): void;
  event(event: WorkflowEvent, snapshot: WorkflowSnapshot): void;
  /** The record is worth saving now (the original's save points). */
  save(snapshot: WorkflowSnapshot): void;
  /** One line of docker build or push output. */
  logLine(line: string): void;
  stepFinished(step: StepName, outcome: 'ok' | 'failed', durationMs: number): void;
  workflowFinished(result: WorkflowResult): Promise<void>;
}

const nop = (): void => undefined;

/** A reporter that reports nothing. */
export const nopReporter: Reporter = {
  stepStarted: nop,
  event: nop,
  save: nop,
  logLine: nop,
  stepFinished: nop,
  workflowFinished: () => Promise.resolve(),
};

/** The event-log prefix of the builder's entries. */
export function eventPrefix(workflowId: string): string {
  return `[OA][${workflowId}]`;
}
