import { createHash } from 'node:crypto';

/** What placement needs to know of one engine. */
export interface EngineLoad {
  readonly endpoint: string;
  readonly healthy: boolean;
  readonly inUse: number;
  readonly slots: number;
}

/** The engine chosen for a build, and why, for the debug log and `/healthz`. */
export interface Placement {
  readonly endpoint: string;
  readonly reason: string;
}

/**
 * How much busier (in share of its slots) the affine engine may be than the least loaded one before a build
 * leaves it: half its slots. A cache hit saves a whole rebuild, a wait for a slot costs at most one build.
 */
export const AFFINITY_SLACK = 0.5;

/** Rendezvous (highest random weight) score of `endpoint` for `key`: stable, and only moves keys of a changed engine. */
export function rendezvousScore(key: string, endpoint: string): number {
  return createHash('sha256').update(key).update('\0').update(endpoint).digest().readUInt32BE(0);
}

const load = (e: EngineLoad): number => e.inUse / e.slots;

/**
 * Places one build: on the engine the key hashes to (rendezvous hashing over the healthy engines), so a
 * deployment repo's layers are cached there, unless it has no free slot or is {@link AFFINITY_SLACK} busier
 * than the least loaded engine; then on the least loaded healthy engine with a free slot. Undefined when no
 * healthy engine outside `exclude` has a free slot: the build waits.
 */
export function place(
  engines: readonly EngineLoad[],
  key: string,
  exclude: ReadonlySet<string> = new Set(),
): Placement | undefined {
  const healthy = engines.filter((e) => e.healthy && !exclude.has(e.endpoint));
  const ranked = healthy
    .map((engine) => ({ engine, score: rendezvousScore(key, engine.endpoint) }))
    .sort((a, b) => b.score - a.score)
    .map((r) => r.engine);
  const free = ranked.filter((e) => e.inUse < e.slots);
  const affine = ranked[0];
  if (!affine || free.length === 0) return undefined;
  // Ties go to the higher score, so equal engines still keep a repo where it was.
  const least = free.reduce((best, e) => (load(e) < load(best) ? e : best));
  if (affine.inUse < affine.slots && load(affine) - load(least) <= AFFINITY_SLACK)
    return { endpoint: affine.endpoint, reason: 'affinity' };
  const why = affine.inUse >= affine.slots ? 'has no free slot' : 'is much busier';
  return { endpoint: least.endpoint, reason: `least loaded (affine engine ${affine.endpoint} ${why})` };
}
