import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ActorHealth, HealthTree } from '../../actors/supervision';
import type { Dependency } from '../outage';
import type { StepName } from '../workflow/reporter';

/** What the builder counts; the one interface every part that counts something takes. */
export interface Metrics {
  workflowStarted(): void;
  workflowFinished(result: 'succeeded' | 'failed' | 'stopped'): void;
  stepFinished(step: StepName, outcome: 'ok' | 'failed', durationMs: number): void;
  redelivered(): void;
  deadLettered(): void;
  buildLogLinesDropped(count: number): void;
  /** One retry of a call to a dependency that was unavailable. */
  retried(dependency: Dependency): void;
}

const nop = (): void => undefined;

/** Counts nothing. */
export const nopMetrics: Metrics = {
  workflowStarted: nop,
  workflowFinished: nop,
  stepFinished: nop,
  redelivered: nop,
  deadLettered: nop,
  buildLogLinesDropped: nop,
  retried: nop,
};

function restarts(node: ActorHealth, into: Map<string, number>): Map<string, number> {
  into.set(node.path, node.restartCount);
  for (const child of node.children) restarts(child, into);
  return into;
}

export interface PrometheusMetricsOptions {
  /** BUILDER_CONCURRENCY: the slots. */
  readonly slots: number;
  /** The tree's health, read at each scrape for the restart counts. */
  readonly health: () => Promise<HealthTree>;
}

/** Prometheus metrics, exposed by `/metrics`; every name starts with `oa_builder_`. */
export class PrometheusMetrics implements Metrics {
  readonly registry = new Registry();
  private readonly running: Gauge;
  private readonly finished: Counter;
  private readonly steps: Histogram;
  private readonly redeliveries: Counter;
  private readonly deadLetters: Counter;
  private readonly droppedLines: Counter;
  private readonly retries: Counter;

  constructor(options: PrometheusMetricsOptions) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'oa_builder_process_' });
    new Gauge({
      name: 'oa_builder_workflow_slots',
      help: 'Workflows this replica runs at once.',
      registers,
    }).set(options.slots);
    this.running = new Gauge({
      name: 'oa_builder_workflows_running',
      help: 'Workflows in flight.',
      registers,
    });
    this.finished = new Counter({
      name: 'oa_builder_workflows_finished_total',
      help: 'Workflows ended, by result (stopped: by this replica shutting down, left for another attempt).',
      labelNames: ['result'],
      registers,
    });
    this.steps = new Histogram({
      name: 'oa_builder_step_duration_seconds',
      help: 'Duration of workflow steps.',
      labelNames: ['step', 'outcome'],
      buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800],
      registers,
    });
    this.redeliveries = new Counter({
      name: 'oa_builder_redeliveries_total',
      help: 'Build requests the broker delivered again (they may have run before).',
      registers,
    });
    this.deadLetters = new Counter({
      name: 'oa_builder_dead_lettered_total',
      help: 'Messages moved to the dead-letter queue (undecodable, invalid or over the delivery limit).',
      registers,
    });
    this.droppedLines = new Counter({
      name: 'oa_builder_build_log_lines_dropped_total',
      help: 'Build output lines not sent to the Managers because a build exceeded the line cap.',
      registers,
    });
    this.retries = new Counter({
      name: 'oa_builder_dependency_retries_total',
      help: 'Calls repeated because a dependency was unavailable (unreachable, timing out, 5xx), by dependency.',
      labelNames: ['dependency'],
      registers,
    });
    new Gauge({
      name: 'oa_builder_actor_restarts',
      help: 'Restarts of each actor slot since its supervisor started, by actor path.',
      labelNames: ['actor'],
      registers,
      async collect() {
        this.reset();
        const tree = await options.health();
        for (const [actor, count] of restarts(tree.root, new Map())) this.set({ actor }, count);
      },
    });
  }

  workflowStarted(): void {
    this.running.inc();
  }

  workflowFinished(result: 'succeeded' | 'failed' | 'stopped'): void {
    this.running.dec();
    this.finished.inc({ result });
  }

  stepFinished(step: StepName, outcome: 'ok' | 'failed', durationMs: number): void {
    this.steps.observe({ step, outcome }, durationMs / 1000);
  }

  redelivered(): void {
    this.redeliveries.inc();
  }

  deadLettered(): void {
    this.deadLetters.inc();
  }

  buildLogLinesDropped(count: number): void {
    this.droppedLines.inc(count);
  }

  retried(dependency: Dependency): void {
    this.retries.inc({ dependency });
  }
}
