import type { Metrics } from '../health/metrics';
import type { Logger } from '../log';
import type { BuildRequest } from '../messages';
import type { Reporter } from '../workflow/reporter';
import { timestampMs } from './reporter';

/**
 * A workflow's reporter that also writes its life into the process log and the metrics: an info line when it
 * starts (deployment repo, milestone) and when each step starts and ends, so the log of a replica that was
 * killed shows what it was doing. The queue wait is measured from the request's step_time.
 */
export function lifecycleReporter(
  request: BuildRequest,
  inner: Reporter,
  options: { readonly log: Logger; readonly metrics: Metrics; readonly now?: () => number },
): Reporter {
  const { metrics } = options;
  const log = options.log.child({ workflow_id: request.id });
  const stepTime = timestampMs(request.step_time);
  const queuedMs = stepTime === null ? undefined : (options.now ?? Date.now)() - stepTime;
  log.info('workflow started', {
    deployment_repo: request.deployment_repo,
    milestone: request.current_step,
    ...(queuedMs === undefined ? {} : { queued_ms: queuedMs }),
  });
  metrics.workflowStarted(request.id, queuedMs);
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
