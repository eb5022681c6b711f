import { isImproper, isMap, isTuple, type MapEntry, type Term } from '../etf';
import type { Redactor } from '../redact';
import type { Reporter, WorkflowSnapshot } from './reporter';

/**
 * `term` with every binary redacted, keys, atoms and shape kept. The reply echoes the request as received, so
 * a repository URL with a password in it would otherwise go straight back out.
 */
export function redactTerm<T extends Term>(term: T, redactor: Redactor): T;
export function redactTerm(term: Term, redactor: Redactor): Term {
  const inner = (t: Term): Term => redactTerm(t, redactor);
  if (typeof term === 'string') return redactor.redact(term);
  if (Array.isArray(term)) return term.map(inner);
  if (isMap(term)) return { ...term, entries: term.entries.map(([k, v]): MapEntry => [k, inner(v)]) };
  if (isTuple(term)) return { ...term, items: term.items.map(inner) };
  if (isImproper(term)) return { ...term, items: term.items.map(inner), tail: inner(term.tail) };
  return term;
}

/**
 * A reporter that masks secrets before anything reaches `inner`: events, saved event logs, build output (as a
 * stream, so a secret printed across two lines is caught too) and the final result, the request it echoes
 * included. Every reporter of the builder is wrapped in one, so no output path depends on remembering to
 * redact.
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
        received: redactTerm(result.received, redactor),
        update: redactor.redactValue(result.update),
      });
    },
  };
}
