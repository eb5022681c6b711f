import type { Logger } from '../../log';
import type { Engine } from '../engine';
import type { DockerUnreachableError } from '../errors';

/** What a build asks of the farm. */
export interface EngineRequest {
  /** Affinity key: builds with the same key prefer the same engine (the deployment repo). */
  readonly key: string;
  /** Shown in `/healthz` beside the engine it holds. */
  readonly workflowId: string;
  /** Engines not to use: those this build already failed to reach. */
  readonly exclude?: readonly string[];
}

/**
 * How the build ended on its engine, for the engine's counters and breaker: `stopped` when the workflow was
 * (timeout, kill switch, shutdown), which says nothing about the engine.
 */
export type LeaseOutcome = 'ok' | 'failed' | 'unreachable' | 'stopped';

/** One slot on one engine, held by one build until released. */
export interface EngineLease {
  readonly engine: Engine;
  /** Why this engine: `affinity`, or why not the affine one. */
  readonly reason: string;
  /** How long the build waited for the slot, in milliseconds. */
  readonly waitedMs: number;
  /**
   * Whether `err`, which a call on this engine threw, is the engine's failure rather than the build's (see
   * `engineFault`): the farm probes the engine at once, and one that does not answer leaves rotation.
   * The failure names the engine; undefined when the error is the build's.
   */
  fault(err: unknown): Promise<DockerUnreachableError | undefined>;
  /** Gives the slot back; `unreachable` also takes the engine out of rotation until a probe answers. */
  release(outcome: LeaseOutcome, error?: string): void;
}

export interface AcquireContext {
  readonly signal: AbortSignal;
  readonly log?: Logger;
  /** Told once when no slot is free at once, with what the build waits for. */
  readonly onWait?: (message: string) => void;
}

/** The narrow interface of the build farm that the docker step uses. */
export interface EngineSource {
  /**
   * Waits for a free slot on a healthy engine (bounded by `ctx.signal`: the step's timeout) and leases it.
   */
  acquire(request: EngineRequest, ctx: AcquireContext): Promise<EngineLease>;
}
