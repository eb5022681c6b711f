import type { ErlMap } from '../src/etf';
import type { ActorBehaviour, ReplyTo } from './supervision';
import { defineActor } from './supervision';
import {
  eventPrefix,
  type EventKind,
  type Reporter,
  type StepName,
  type WorkflowResult,
  type WorkflowSnapshot,
} from '../src/workflow/reporter';

/** What the workflow and its steps tell the reporter actor; only `finish` is answered. */
export type ReporterMsg =
  | { readonly type: 'step-started'; readonly step: StepName }
  | { readonly type: 'event'; readonly kind: EventKind; readonly message: string }
  | { readonly type: 'save' }
  | { readonly type: 'line'; readonly text: string }
  | {
      readonly type: 'step-finished';
      readonly step: StepName;
      readonly outcome: 'ok' | 'failed';
      readonly durationMs: number;
    }
  | {
      readonly type: 'finish';
      /** The result without its event log, which this actor owns and fills in. */
      readonly result: WorkflowResult;
      readonly replyTo: ReplyTo<WorkflowResult>;
    };

/** The failure of a workflow that the builder stopped (shutdown, or the workflow was cancelled). */
export const SHUTDOWN_HEADLINE = 'Milestone has failed';
export const SHUTDOWN_REASON = 'shutdown: the builder stopped the workflow';

interface ReporterState {
  /** The result went out; until then, stopping this actor reports the workflow as stopped. */
  readonly finished: boolean;
  readonly step: StepName | null;
  readonly eventLog: readonly string[];
  readonly stepDurations: Readonly<Partial<Record<StepName, number>>>;
}

export interface ReporterActorInput {
  readonly workflowId: string;
  /** The request map as received, for the result of a workflow stopped before it could finish. */
  readonly received: ErlMap;
  /** `current_step` as received. */
  readonly currentStep: string;
  /** The event log as received; the builder's entries are appended. */
  readonly eventLog: readonly string[];
}

/**
 * The workflow's reporter child: it owns the event log, so entries from every step land in one order, and it
 * is the only caller of the {@link Reporter}. A reporter method that throws is logged, never a crash: losing a
 * notification must not cost a build.
 */
export function reporterActor(
  input: ReporterActorInput,
  reporter: Reporter,
): ActorBehaviour<ReporterMsg, ReporterState> {
  const prefix = eventPrefix(input.workflowId);
  const started = Date.now();
  const snapshot = (state: ReporterState): WorkflowSnapshot => ({
    workflowId: input.workflowId,
    currentStep: input.currentStep,
    step: state.step,
    eventLog: state.eventLog,
    stepDurations: state.stepDurations,
  });
  return defineActor<ReporterMsg, ReporterState>({
    init: () => ({ finished: false, step: null, eventLog: input.eventLog, stepDurations: {} }),
    async handle(msg, state, ctx) {
      const guarded = (what: string, call: () => void): void => {
        try {
          call();
        } catch (err) {
          ctx.log.warn(`reporter failed to report ${what}`, { err });
        }
      };
      switch (msg.type) {
        case 'step-started': {
          const next = { ...state, step: msg.step };
          guarded('a step start', () => reporter.stepStarted(msg.step, snapshot(next)));
          return next;
        }
        case 'event': {
          const text = `${prefix} ${msg.message}`;
          const next = { ...state, eventLog: [...state.eventLog, text] };
          guarded('an event', () =>
            reporter.event({ kind: msg.kind, message: msg.message, text }, snapshot(next)),
          );
          return next;
        }
        case 'save':
          guarded('a save', () => reporter.save(snapshot(state)));
          return state;
        case 'line':
          guarded('a log line', () => reporter.logLine(msg.text));
          return state;
        case 'step-finished': {
          const next = { ...state, stepDurations: { ...state.stepDurations, [msg.step]: msg.durationMs } };
          guarded('a step end', () => reporter.stepFinished(msg.step, msg.outcome, msg.durationMs));
          return next;
        }
        case 'finish': {
          const result: WorkflowResult = {
            ...msg.result,
            update: { ...msg.result.update, event_log: state.eventLog },
            stepDurations: state.stepDurations,
          };
          try {
            await reporter.workflowFinished(result);
          } catch (err) {
            ctx.log.error('reporter failed to report the end of the workflow', { err });
          }
          ctx.reply(msg.replyTo, result);
          return { ...state, finished: true };
        }
      }
    },
    // Stopped before the workflow could report its end: the builder is shutting down under it. This child
    // stops last, after the steps, so it still has the whole event log to report with.
    async terminate(state, _exit, ctx) {
      if (state.finished) return;
      const lines = [SHUTDOWN_REASON, SHUTDOWN_HEADLINE].map((message) => `${prefix} ${message}`);
      try {
        await reporter.workflowFinished({
          workflowId: input.workflowId,
          status: 'failed',
          message: SHUTDOWN_HEADLINE,
          reason: SHUTDOWN_REASON,
          received: input.received,
          update: {
            workflow_error: true,
            workflow_completed: true,
            event_log: [...state.eventLog, ...lines],
          },
          image: null,
          imageFound: false,
          elapsedMs: Date.now() - started,
          stepDurations: state.stepDurations,
          stopped: true,
          crashed: false,
        });
      } catch (err) {
        ctx.log.error('reporter failed to report the stopped workflow', { err });
      }
    },
  });
}
