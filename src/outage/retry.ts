import { setTimeout as sleep } from 'node:timers/promises';
import { OutageError, seconds, type Dependency } from './errors';
import { isTransient } from './transient';

/** How patiently a transient failure is retried. */
export interface RetryPolicy {
  /** Attempts in total, the first one included. Default: as many as the budget allows. */
  readonly attempts?: number;
  /**
   * How long one outage is waited out, in milliseconds, counted from the start of the first attempt that
   * failed: no attempt starts after it. Default 60000 (OUTAGE_BUDGET_SECONDS).
   */
  readonly budgetMs?: number;
  /** Delay before the first retry, in milliseconds; it doubles for each further retry. Default 1000. */
  readonly initialDelayMs?: number;
  /** Upper bound of one delay, in milliseconds. Default 8000. */
  readonly maxDelayMs?: number;
  /** When the caller's own time is up (ms since the epoch, the step's deadline): no wait reaches past it. */
  readonly deadline?: number | undefined;
}

/** One retry about to happen, told before its wait. */
export interface RetryNotice {
  readonly dependency: Dependency;
  /** The attempt that follows the wait (2 for the first retry). */
  readonly attempt: number;
  readonly delayMs: number;
  /** What the attempt before it met. */
  readonly error: unknown;
  /** `git server unavailable, retrying in 4 s (attempt 3)`: the event log's and process log's words. */
  readonly text: string;
}

/** What a caller tells an adapter about waiting out outages: the policy, and who hears each retry. */
export interface OutageWatch extends RetryPolicy {
  readonly onRetry?: ((notice: RetryNotice) => void) | undefined;
}

export interface RetryOptions {
  /** Who was unavailable; or, for a call that crosses two (a push: engine and registry), told by the failure. */
  readonly dependency: Dependency | ((error: unknown) => Dependency);
  readonly policy?: RetryPolicy | undefined;
  /** Aborting it ends a backoff sleep at once with the signal's reason. */
  readonly signal: AbortSignal;
  readonly onRetry?: ((notice: RetryNotice) => void) | undefined;
}

export const DEFAULT_OUTAGE_BUDGET_MS = 60_000;

/** The words of one retry notice, as the event log and the process log print them. */
export function retryText(dependency: Dependency, delayMs: number, attempt: number): string {
  return `${dependency} unavailable, retrying in ${seconds(delayMs)} s (attempt ${attempt})`;
}

/** The wait before retry number `retry` (0-based): exponential and capped, between half and all of it at random. */
export function backoffDelay(policy: RetryPolicy, retry: number): number {
  const ceiling = Math.min(policy.maxDelayMs ?? 8000, (policy.initialDelayMs ?? 1000) * 2 ** retry);
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

/**
 * Calls `work` until it succeeds or fails with an error that is not transient ({@link isTransient}), which is
 * thrown at once. Transient failures are retried after delays that grow exponentially, each drawn between half
 * and all of its ceiling so that replicas retrying against the same server spread out. Once the next attempt
 * would start after the outage budget or the caller's deadline, {@link OutageError} is thrown, naming the
 * dependency and the time waited; once `attempts` are used up, the last failure itself.
 */
export async function retry<T>(work: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const policy = options.policy ?? {};
  const attempts = Math.max(1, policy.attempts ?? Number.POSITIVE_INFINITY);
  const budget = policy.budgetMs ?? DEFAULT_OUTAGE_BUDGET_MS;
  let firstFailure: number | undefined;
  for (let attempt = 1; ; attempt++) {
    const started = Date.now();
    try {
      return await work(attempt);
    } catch (err) {
      if (options.signal.aborted || attempt >= attempts || budget <= 0 || !isTransient(err)) throw err;
      firstFailure ??= started;
      const delay = backoffDelay(policy, attempt - 1);
      const next = Date.now() + delay;
      const dependency =
        typeof options.dependency === 'function' ? options.dependency(err) : options.dependency;
      if (next - firstFailure > budget || (policy.deadline !== undefined && next >= policy.deadline)) {
        throw new OutageError(dependency, Date.now() - firstFailure, attempt, err);
      }
      options.onRetry?.({
        dependency,
        attempt: attempt + 1,
        delayMs: delay,
        error: err,
        text: retryText(dependency, delay, attempt + 1),
      });
      // timers/promises rejects with a generic AbortError; callers expect the signal's own reason.
      await sleep(delay, undefined, { signal: options.signal }).catch(() => options.signal.throwIfAborted());
    }
  }
}
