import type { Metrics } from '../health/metrics';
import type { Logger } from '../log';
import type { BuildRequest } from '../messages';
import type { Reporter } from '../workflow/reporter';
import { timestampMs } from './reporter';

/**
 * How long the request waited before it started here, from its step_time (the orchestrator's clock, so the
 * difference between the two hosts' clocks is in it); undefined when the request has no step_time.
 */
export function queueWaitMs(request: BuildRequest, now: () => number = Date.now): number | undefined {
  const stepTime = timestampMs(request.step_time);
  return stepTime === null ? undefined : now() - stepTime;
}

/**
 * A workflow's reporter that also writes its life into the process log and the metrics: an info line when it
 * starts (deployment repo, milestone) and when each step starts and ends, so the log of a replica that was
 * killed shows what it was doing. Steps are counted here; a workflow's start and end by the intake, which
 * owns its life.
 */
export function lifecycleReporter(
  request: BuildRequest,
  inner: Reporter,
  options: { readonly log: Logger; readonly metrics: Metrics; readonly now?: () => number },
): Reporter {
  const { metrics } = options;
  const log = options.log.child({ workflow_id: request.id });
  const queuedMs = queueWaitMs(request, options.now);
  log.info('workflow started', {
    deployment_repo: request.deployment_repo,
    milestone: request.current_step,
    ...(queuedMs === undefined ? {} : { queued_ms: queuedMs }),
  });
  return {
    ...inner,
    stepStarted: (step, snapshot) => {
      log.info('step started', { step });
      metrics.stepStarted(request.id, step);
      inner.stepStarted(step, snapshot);
    },
    stepFinished: (step, outcome, durationMs) => {
      log.info('step finished', { step, outcome, duration_ms: durationMs });
      metrics.stepFinished(request.id, step, outcome, durationMs);
      inner.stepFinished(step, outcome, durationMs);
    },
  };
}
