import type { Reporter, StepName, WorkflowResult } from './reporter';

export interface ConsoleReporterOptions {
  /** Where progress goes: standard error in the CLI, so standard output stays free for `--json`. */
  readonly out: NodeJS.WritableStream;
  /** Also show every line of build and push output. Default false. */
  readonly verbose?: boolean;
  /** Told of the result once it is out, with its summary line. */
  readonly onFinished?: (result: WorkflowResult, summary: string) => void;
  /**
   * Leave the summary line to the caller (it gets it through `onFinished`), which writes it last, after the
   * records of its own shutdown: the reason of a failure is then the last line. Default false.
   */
  readonly deferSummary?: boolean;
  /** Milliseconds since the epoch; tests fix it. Default `Date.now`. */
  readonly now?: () => number;
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;
// Durations to the hundredth: most steps of a small build take well under a second.
const duration = (ms: number): string => `${(ms / 1000).toFixed(2)}s`;
const MARK = { success: '✓', failure: '✗', log: '·' } as const;

/**
 * Local mode's reporter: readable live progress, one line per step, event and (with `verbose`) build output
 * line, each stamped with the time since the workflow started.
 */
export function consoleReporter(options: ConsoleReporterOptions): Reporter {
  const now = options.now ?? Date.now;
  const started = now();
  const stamped = (text: string): string => `[${seconds(now() - started).padStart(6)}] ${text}\n`;
  const write = (text: string): void => {
    options.out.write(stamped(text));
  };
  return {
    stepStarted: (step: StepName) => write(`${step} ...`),
    event: (event) => write(`${MARK[event.kind]} ${event.message}`),
    save: () => undefined,
    logLine: (line) => {
      if (options.verbose) write(`  | ${line}`);
    },
    stepFinished: (step, outcome, durationMs) => write(`${step} ${outcome} in ${duration(durationMs)}`),
    workflowFinished: (result) => {
      const summary = stamped(
        result.status === 'succeeded'
          ? `workflow ${result.workflowId} succeeded in ${duration(result.elapsedMs)}${
              result.image ? `: ${result.image}` : ''
            }${result.imageFound ? ' (already in the registry)' : ''}`
          : `workflow ${result.workflowId} failed in ${duration(result.elapsedMs)}: ${result.message ?? ''}: ${
              result.reason ?? ''
            }`,
      );
      if (!options.deferSummary) options.out.write(summary);
      options.onFinished?.(result, summary);
      return Promise.resolve();
    },
  };
}
