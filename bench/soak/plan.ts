// What a soak run will do, decided up front from its seed: which workflows it publishes when, against which
// repositories, and which faults strike when. The run then follows the plan; only timing varies between two
// runs of one seed, so a finding can be chased with the same mix and the same faults.
import type { Prng } from './prng';

/**
 * build: new repositories, so a real build and push. exists: the repositories of an earlier build again, so
 * the image is normally in the registry already. config: the config milestone only (renders, then verifies
 * the image of an earlier build). bad-ref: a deployment ref that does not exist. bad-dockerfile: a Dockerfile
 * whose RUN fails.
 */
export type Kind = 'build' | 'exists' | 'config' | 'bad-ref' | 'bad-dockerfile';
export const KINDS: readonly Kind[] = ['build', 'exists', 'config', 'bad-ref', 'bad-dockerfile'];

export type FaultType = 'kill' | 'broker' | 'registry' | 'git' | 'manager' | 'engine';

export interface PlannedWorkflow {
  readonly index: number;
  readonly kind: Kind;
  /** When to publish, ms after the stream starts. */
  readonly atMs: number;
  /** The repository pair it runs against. */
  readonly pair: number;
}

export interface PairSpec {
  readonly index: number;
  readonly failingDockerfile: boolean;
}

export interface PlannedFault {
  readonly type: FaultType;
  readonly atMs: number;
  /** How long the outage lasts; for `kill`, how long the replica stays down, for `engine` the engine; unused for `broker`. */
  readonly durationMs: number;
  /** `kill`: which replica. */
  readonly replica: number;
  /** `registry`: the status; `git`: `refuse` or a status. */
  readonly variant: string;
}

export interface Plan {
  readonly workflows: readonly PlannedWorkflow[];
  readonly pairs: readonly PairSpec[];
  readonly faults: readonly PlannedFault[];
  /** When the last workflow is published, ms after the stream starts. */
  readonly windowMs: number;
}

export interface PlanOptions {
  readonly workflows: number;
  readonly intervalMs: number;
  readonly faults: number;
  readonly replicas: number;
}

const WEIGHTS: readonly [Kind, number][] = [
  ['build', 35],
  ['exists', 20],
  ['config', 15],
  ['bad-ref', 15],
  ['bad-dockerfile', 15],
];
/** Repositories with the failing Dockerfile, shared round robin: a failed build leaves nothing to reuse. */
const FAILING_PAIRS = 3;
/** A rerun refers to a build planned at least this many workflows earlier, so it has usually finished. */
const RERUN_DISTANCE = 5;
const FIRST_BUILDS = 4;

function weightedKind(rand: Prng): Kind {
  const total = WEIGHTS.reduce((sum, [, w]) => sum + w, 0);
  let roll = rand.next() * total;
  for (const [kind, weight] of WEIGHTS) {
    roll -= weight;
    if (roll < 0) return kind;
  }
  return 'build';
}

export function makePlan(rand: Prng, options: PlanOptions): Plan {
  const pairs: PairSpec[] = [];
  for (let i = 0; i < FAILING_PAIRS; i++) pairs.push({ index: pairs.length, failingDockerfile: true });
  const builds: { index: number; pair: number }[] = [];
  const workflows: PlannedWorkflow[] = [];
  let atMs = 0;
  let failing = 0;
  for (let index = 0; index < options.workflows; index++) {
    let kind = index < FIRST_BUILDS ? 'build' : weightedKind(rand);
    const earlier = builds.filter((b) => b.index <= index - RERUN_DISTANCE);
    if ((kind === 'exists' || kind === 'config' || kind === 'bad-ref') && earlier.length === 0)
      kind = 'build';
    let pair: number;
    if (kind === 'build') {
      pair = pairs.length;
      pairs.push({ index: pair, failingDockerfile: false });
      builds.push({ index, pair });
    } else if (kind === 'bad-dockerfile') pair = failing++ % FAILING_PAIRS;
    else pair = rand.pick(earlier).pair;
    workflows.push({ index, kind, atMs: Math.round(atMs), pair });
    atMs += options.intervalMs * (0.4 + 1.2 * rand.next());
  }
  const windowMs = workflows.at(-1)?.atMs ?? 0;

  const base: FaultType[] = ['kill', 'engine', 'broker', 'registry', 'git', 'manager'];
  const extra: FaultType[] = ['kill', 'kill', 'kill', 'engine', 'broker', 'registry', 'git', 'manager'];
  const types = rand.shuffle([
    ...base.slice(0, options.faults),
    ...Array.from({ length: Math.max(0, options.faults - base.length) }, () => rand.pick(extra)),
  ]);
  // The first workflows run undisturbed, and the last fault starts before the stream ends.
  const from = 8_000;
  const until = Math.max(from + 1, windowMs - 5_000);
  const slot = (until - from) / Math.max(1, types.length);
  const faults = types.map((type, i): PlannedFault => {
    const durationMs =
      type === 'kill'
        ? rand.int(2_000, 6_000)
        : type === 'engine'
          ? rand.int(5_000, 12_000)
          : type === 'manager'
            ? rand.int(10_000, 20_000)
            : type === 'broker'
              ? 0
              : rand.int(8_000, 20_000);
    const variant =
      type === 'registry'
        ? rand.pick(['500', '502', '503'])
        : type === 'git'
          ? rand.pick(['refuse', '503'])
          : '';
    return {
      type,
      atMs: Math.round(from + i * slot + rand.next() * slot * 0.5),
      durationMs,
      replica: rand.int(0, options.replicas - 1),
      variant,
    };
  });
  return { workflows, pairs, faults, windowMs };
}
