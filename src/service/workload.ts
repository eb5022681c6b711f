import type { StepName } from '../workflow/reporter';

/** Where a workflow in flight is: started and not yet in a step, or in one. */
export type WorkloadStep = 'starting' | StepName;

const STEP_ORDER: readonly WorkloadStep[] = ['starting', 'checkout', 'config', 'build', 'verify'];

/**
 * The Manager keeps a module's `workload` as JSON text in a 255-character column, and the Overseer re-registers
 * the module with every heartbeat's workload: the Manager deletes the module's row first, so a longer workload
 * fails the insert and leaves the builder unregistered until a heartbeat that fits.
 */
export const WORKLOAD_MAX_CHARS = 255;

/**
 * The heartbeat's workload: how many workflows are in each step, in step order, e.g.
 * `[{"step":"build","workflows":6},{"step":"verify","workflows":2}]`. At most five entries whatever the slot
 * count, so it always fits {@link WORKLOAD_MAX_CHARS}; the workflows themselves are listed on `/healthz`.
 */
export function workloadByStep(steps: Iterable<WorkloadStep>): { step: WorkloadStep; workflows: number }[] {
  const counts = new Map<WorkloadStep, number>();
  for (const step of steps) counts.set(step, (counts.get(step) ?? 0) + 1);
  return STEP_ORDER.flatMap((step) => {
    const workflows = counts.get(step);
    return workflows === undefined ? [] : [{ step, workflows }];
  });
}
