import { WORKLOAD_MAX_CHARS, workloadByStep, type WorkloadStep } from '../../../src/service/workload';

describe('the heartbeat workload', () => {
  it('counts the workflows in flight by step, in step order', () => {
    const steps: WorkloadStep[] = ['build', 'checkout', 'build', 'starting', 'verify', 'build'];
    expect(workloadByStep(steps)).toEqual([
      { step: 'starting', workflows: 1 },
      { step: 'checkout', workflows: 1 },
      { step: 'build', workflows: 3 },
      { step: 'verify', workflows: 1 },
    ]);
    expect(workloadByStep([])).toEqual([]);
  });

  it('fits the Manager’s 255-character column with a hundred thousand workflows in every step', () => {
    const every: WorkloadStep[] = ['starting', 'checkout', 'config', 'build', 'verify'];
    const workload = workloadByStep(every.flatMap((step) => Array<WorkloadStep>(100_000).fill(step)));
    expect(workload).toHaveLength(5);
    expect(JSON.stringify(workload).length).toBeLessThanOrEqual(WORKLOAD_MAX_CHARS);
  });
});
