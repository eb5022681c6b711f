import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { FarmStatus } from '../../actors/farm';
import type { ActorHealth, HealthTree } from '../../actors/supervision';
import type { Dependency } from '../outage';
import { BUILDER_VERSION } from '../version';
import type { StepName } from '../workflow/reporter';

/** What the builder counts; the one interface every part that counts something takes. */
export interface Metrics {
  /** `queuedMs`: how long the request waited before it started here, when known. */
  workflowStarted(workflowId: string, queuedMs?: number): void;
  workflowFinished(workflowId: string, result: 'succeeded' | 'failed' | 'stopped'): void;
  stepStarted(workflowId: string, step: StepName): void;
  stepFinished(workflowId: string, step: StepName, outcome: 'ok' | 'failed', durationMs: number): void;
  redelivered(): void;
  deadLettered(): void;
  buildLogLinesDropped(count: number): void;
  /** Starting workflows paused (no work directory could be made here) or resumed. */
  startPaused(paused: boolean): void;
  /** One retry of a call to a dependency that was unavailable. */
  retried(dependency: Dependency): void;
}

const nop = (): void => undefined;

/** Counts nothing. */
export const nopMetrics: Metrics = {
  workflowStarted: nop,
  workflowFinished: nop,
  stepStarted: nop,
  stepFinished: nop,
  redelivered: nop,
  deadLettered: nop,
  buildLogLinesDropped: nop,
  startPaused: nop,
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
  /** Milliseconds since the epoch. Default `Date.now`. */
  readonly now?: () => number;
  /** The build farm's state, read at each scrape for the per-engine figures. Default: none to show. */
  readonly farm?: () => Promise<FarmStatus>;
}

/** The farm's state for a scrape; a farm that does not answer (restarting, or none) shows no engines. */
function farmReader(read: (() => Promise<FarmStatus>) | undefined): () => Promise<FarmStatus | undefined> {
  return () => (read ? read().catch(() => undefined) : Promise.resolve(undefined));
}

const STEPS: readonly StepName[] = ['checkout', 'config', 'build', 'verify'];

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
  private readonly paused: Gauge;
  private readonly pauses: Counter;
  private readonly queueWait: Histogram;
  /** The step each workflow in flight is in, by workflow id; absent between steps. */
  private readonly inStep = new Map<string, StepName>();
  /** When each workflow in flight took its slot. */
  private readonly slotTaken = new Map<string, number>();
  /** Slot time of the workflows that have ended, ms. */
  private busyMs = 0;
  private readonly now: () => number;

  constructor(options: PrometheusMetricsOptions) {
    const registers = [this.registry];
    this.now = options.now ?? Date.now;
    collectDefaultMetrics({ register: this.registry, prefix: 'oa_builder_process_' });
    new Gauge({
      name: 'oa_builder_build_info',
      help: 'Always 1; the labels say which builder version runs, on which Node.js.',
      labelNames: ['version', 'node'],
      registers,
    }).set({ version: BUILDER_VERSION, node: process.version }, 1);
    const inStep = this.inStep;
    new Gauge({
      name: 'oa_builder_workflows_in_step',
      help: 'Workflows in flight by the step they are in (between two steps a workflow counts in none).',
      labelNames: ['step'],
      registers,
      collect() {
        const counts = new Map<StepName, number>(STEPS.map((step) => [step, 0]));
        for (const step of inStep.values()) counts.set(step, (counts.get(step) ?? 0) + 1);
        for (const [step, count] of counts) this.set({ step }, count);
      },
    });
    const slotSeconds = (): number => {
      const now = this.now();
      let ms = this.busyMs;
      for (const taken of this.slotTaken.values()) ms += now - taken;
      return ms / 1000;
    };
    new Counter({
      name: 'oa_builder_slot_busy_seconds_total',
      help:
        'Seconds of workflow slots in use, summed over the slots: its rate divided by oa_builder_workflow_slots ' +
        'is the share of the capacity used.',
      registers,
      collect() {
        this.reset();
        this.inc(slotSeconds());
      },
    });
    this.queueWait = new Histogram({
      name: 'oa_builder_queue_wait_seconds',
      help:
        "From the orchestrator's step_time of a request to the start of its workflow here: the time it waited " +
        'in the queue (and for a slot); across hosts it includes the difference of their clocks.',
      buckets: [0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600],
      registers,
    });
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
    this.paused = new Gauge({
      name: 'oa_builder_start_paused',
      help: 'Whether starting workflows is paused here (1) because no work directory could be made.',
      registers,
    });
    this.pauses = new Counter({
      name: 'oa_builder_start_pauses_total',
      help: 'Times starting workflows was paused because no work directory could be made.',
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

  workflowStarted(workflowId: string, queuedMs?: number): void {
    this.running.inc();
    this.slotTaken.set(workflowId, this.now());
    // A negative wait is two clocks disagreeing, not a measurement.
    if (queuedMs !== undefined && queuedMs >= 0) this.queueWait.observe(queuedMs / 1000);
  }

  workflowFinished(workflowId: string, result: 'succeeded' | 'failed' | 'stopped'): void {
    this.running.dec();
    this.finished.inc({ result });
    this.inStep.delete(workflowId);
    const taken = this.slotTaken.get(workflowId);
    if (taken !== undefined) this.busyMs += this.now() - taken;
    this.slotTaken.delete(workflowId);
  }

  stepStarted(workflowId: string, step: StepName): void {
    this.inStep.set(workflowId, step);
  }

  stepFinished(workflowId: string, step: StepName, outcome: 'ok' | 'failed', durationMs: number): void {
    this.inStep.delete(workflowId);
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

  startPaused(paused: boolean): void {
    this.paused.set(paused ? 1 : 0);
    if (paused) this.pauses.inc();
  }

  retried(dependency: Dependency): void {
    this.retries.inc({ dependency });
  }
}
