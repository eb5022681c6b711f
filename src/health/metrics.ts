import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { FarmStatus } from '../../actors/farm';
import type { ActorHealth, HealthTree } from '../../actors/supervision';
import type { StepName } from '../workflow/reporter';

/** What the builder counts; the one interface every part that counts something takes. */
export interface Metrics {
  workflowStarted(): void;
  workflowFinished(result: 'succeeded' | 'failed' | 'stopped'): void;
  stepFinished(step: StepName, outcome: 'ok' | 'failed', durationMs: number): void;
  redelivered(): void;
  deadLettered(): void;
  buildLogLinesDropped(count: number): void;
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
  /** The build farm's state, read at each scrape for the per-engine figures. Default: none to show. */
  readonly farm?: () => Promise<FarmStatus>;
}

/** The farm's state for a scrape; a farm that does not answer (restarting, or none) shows no engines. */
function farmReader(read: (() => Promise<FarmStatus>) | undefined): () => Promise<FarmStatus | undefined> {
  return () => (read ? read().catch(() => undefined) : Promise.resolve(undefined));
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
    const farm = farmReader(options.farm);
    const perEngine = (
      name: string,
      help: string,
      value: (engine: FarmStatus['engines'][number]) => number,
    ): Gauge =>
      new Gauge({
        name,
        help,
        labelNames: ['engine'],
        registers,
        async collect() {
          this.reset();
          for (const engine of (await farm())?.engines ?? [])
            this.set({ engine: engine.endpoint }, value(engine));
        },
      });
    perEngine('oa_builder_engine_healthy', 'Whether the build engine is in rotation (1) or not (0).', (e) =>
      e.healthy ? 1 : 0,
    );
    perEngine('oa_builder_engine_slots', 'Builds this replica runs at once on the engine.', (e) => e.slots);
    perEngine(
      'oa_builder_engine_slots_in_use',
      'Builds this replica runs on the engine now.',
      (e) => e.inUse,
    );
    perEngine(
      'oa_builder_engine_failures',
      'Failures of the engine in a row (probes, builds that could not reach it) since it last answered.',
      (e) => e.failures,
    );
    new Counter({
      name: 'oa_builder_engine_builds_total',
      help: 'Builds that ran on the engine, by outcome (unreachable: the engine went away; stopped: the workflow was).',
      labelNames: ['engine', 'outcome'],
      registers,
      async collect() {
        this.reset();
        for (const engine of (await farm())?.engines ?? [])
          for (const [outcome, count] of Object.entries(engine.builds))
            this.inc({ engine: engine.endpoint, outcome }, count);
      },
    });
    new Gauge({
      name: 'oa_builder_engine_builds_waiting',
      help: 'Builds waiting for a free slot on a healthy engine.',
      registers,
      async collect() {
        this.set((await farm())?.waiting ?? 0);
      },
    });
    new Counter({
      name: 'oa_builder_engine_waits_total',
      help: 'Builds that had to wait for a slot.',
      registers,
      async collect() {
        this.reset();
        this.inc((await farm())?.waitsTotal ?? 0);
      },
    });
    new Counter({
      name: 'oa_builder_engine_wait_seconds_total',
      help: 'Seconds builds waited for a slot, in all.',
      registers,
      async collect() {
        this.reset();
        this.inc((await farm())?.waitSecondsTotal ?? 0);
      },
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
}
