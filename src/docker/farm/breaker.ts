/**
 * The circuit breaker of one engine, as plain data: `closed` takes builds, `open` takes none until a probe
 * answers again. Probes of an open engine back off from the probe interval up to {@link MAX_BACKOFF_FACTOR}
 * times it, so a dead engine costs a connection attempt now and then, not every interval.
 */
export interface Breaker {
  readonly state: 'closed' | 'open';
  /** Failures in a row since it last answered. */
  readonly failures: number;
  /** When an open breaker is probed next (ms since the epoch). */
  readonly retryAt: number;
  /** Why it opened, naming the engine. */
  readonly lastError: string | null;
}

export const MAX_BACKOFF_FACTOR = 8;

export const closedBreaker: Breaker = { state: 'closed', failures: 0, retryAt: 0, lastError: null };

/** The breaker after a failure (a probe, or a build that could not reach the engine): open, backing off. */
export function tripped(breaker: Breaker, error: string, now: number, intervalMs: number): Breaker {
  const failures = breaker.failures + 1;
  const factor = Math.min(2 ** (failures - 1), MAX_BACKOFF_FACTOR);
  return { state: 'open', failures, retryAt: now + intervalMs * factor, lastError: error };
}

/** Whether the engine is probed on this tick: a closed one always, an open one once its backoff is over. */
export function probeDue(breaker: Breaker, now: number): boolean {
  return breaker.state === 'closed' || now >= breaker.retryAt;
}
