import type { Redactor } from '../redact';
import type { Reporter, WorkflowSnapshot } from './reporter';

/**
 * A reporter that masks secrets before anything reaches `inner`: events, saved event logs, build output (as a
 * stream, so a secret printed across two lines is caught too) and the final result. Every reporter of the
 * builder is wrapped in one, so no output path depends on remembering to redact.
 */
export function redactingReporter(inner: Reporter, redactor: Redactor): Reporter {
  const lines = redactor.lines();
  const snapshot = (s: WorkflowSnapshot): WorkflowSnapshot => ({
    ...s,
    eventLog: s.eventLog.map((e) => redactor.redact(e)),
  });
  return {
    stepStarted: (step, s) => inner.stepStarted(step, snapshot(s)),
    event: (event, s) =>
      inner.event(
        { kind: event.kind, message: redactor.redact(event.message), text: redactor.redact(event.text) },
        snapshot(s),
      ),
    save: (s) => inner.save(snapshot(s)),
    logLine: (line) => {
      for (const out of lines.push(line)) inner.logLine(out);
    },
    stepFinished: (step, outcome, durationMs) => inner.stepFinished(step, outcome, durationMs),
    workflowFinished: (result) => {
      for (const out of lines.end()) inner.logLine(out);
      return inner.workflowFinished({
        ...result,
        message: result.message === null ? null : redactor.redact(result.message),
        reason: result.reason === null ? null : redactor.redact(result.reason),
        update: redactor.redactValue(result.update),
      });
    },
  };
}
