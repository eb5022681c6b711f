import { PassThrough } from 'node:stream';
import type { ErlMap } from '../../../src/etf';
import { consoleReporter } from '../../../src/workflow/console-reporter';
import type { WorkflowResult } from '../../../src/workflow/reporter';

const ID = '9b0e8e34-5c1d-4d8e-9a53-6f0f2f6c1a01';

/** A console reporter writing into a buffer, on a clock the test moves. */
function harness(verbose = false) {
  const out = new PassThrough();
  let text = '';
  out.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  let clock = 1_700_000_000_000;
  const finished: WorkflowResult[] = [];
  const reporter = consoleReporter({ out, verbose, now: () => clock, onFinished: (r) => finished.push(r) });
  return {
    reporter,
    finished,
    advance: (ms: number) => (clock += ms),
    lines: () => text.split('\n').filter((line) => line !== ''),
  };
}

const snapshot = { workflowId: ID, currentStep: 'build', step: null, eventLog: [], stepDurations: {} };

const result = (overrides: Partial<WorkflowResult>): WorkflowResult => ({
  workflowId: ID,
  status: 'succeeded',
  message: null,
  reason: null,
  received: { kind: 'map', entries: [] } as unknown as ErlMap,
  update: {},
  image: null,
  imageFound: false,
  elapsedMs: 0,
  stepDurations: {},
  stopped: false,
  crashed: false,
  ...overrides,
});

describe('the console reporter', () => {
  it('stamps every line with the time since the workflow started and gives step durations to the hundredth', () => {
    const h = harness();
    h.reporter.stepStarted('checkout', snapshot);
    h.advance(312);
    h.reporter.stepFinished('checkout', 'ok', 312);
    h.reporter.event({ kind: 'success', message: 'Requesting configuration...', text: 'ignored' }, snapshot);
    h.advance(1_250);
    h.reporter.stepFinished('config', 'failed', 1_250);
    expect(h.lines()).toEqual([
      '[  0.0s] checkout ...',
      '[  0.3s] checkout ok in 0.31s',
      '[  0.3s] ✓ Requesting configuration...',
      '[  1.6s] config failed in 1.25s',
    ]);
  });

  it('shows build output only when verbose', () => {
    const quiet = harness();
    quiet.reporter.logLine('Step 1/5 : FROM busybox:latest');
    expect(quiet.lines()).toEqual([]);
    const verbose = harness(true);
    verbose.reporter.logLine('Step 1/5 : FROM busybox:latest');
    expect(verbose.lines()).toEqual(['[  0.0s]   | Step 1/5 : FROM busybox:latest']);
  });

  it('ends with the outcome, the workflow time and the image, and hands the result on', async () => {
    const h = harness();
    const found = result({ image: 'registry/app:abc', imageFound: true, elapsedMs: 547 });
    await h.reporter.workflowFinished(found);
    await h.reporter.workflowFinished(
      result({
        status: 'failed',
        message: 'Milestone has failed',
        reason: 'ref nope not found',
        elapsedMs: 90,
      }),
    );
    expect(h.lines()).toEqual([
      `[  0.0s] workflow ${ID} succeeded in 0.55s: registry/app:abc (already in the registry)`,
      `[  0.0s] workflow ${ID} failed in 0.09s: Milestone has failed: ref nope not found`,
    ]);
    expect(h.finished[0]).toBe(found);
  });
});
