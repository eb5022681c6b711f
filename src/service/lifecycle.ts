import type { Metrics } from '../health/metrics';
import type { Logger } from '../log';
import type { BuildRequest } from '../messages';
import type { Reporter } from '../workflow/reporter';

/**
 * A workflow's reporter that also writes its life into the process log and the metrics: an info line when it
 * starts (deployment repo, milestone) and when each step starts and ends, so the log of a replica that was
 * killed shows what it was doing. Steps are counted here; a workflow's start and end (and the time it waited
 * in the queue) by the intake, which owns its life.
 */
export function lifecycleReporter(
  request: BuildRequest,
  inner: Reporter,
  options: { readonly log: Logger; readonly metrics: Metrics },
): Reporter {
  const { metrics } = options;
  const log = options.log.child({ workflow_id: request.id });
  log.info('workflow started', {
    deployment_repo: request.deployment_repo,
    milestone: request.current_step,
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
