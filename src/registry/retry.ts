import { setTimeout as sleep } from 'node:timers/promises';

/** How often and how patiently a transient failure is retried. */
export interface RetryPolicy {
  /** Attempts in total, the first one included. Default 4. */
  readonly attempts?: number;
  /** Delay before the first retry, in milliseconds; it doubles for each further retry. Default 1000. */
  readonly initialDelayMs?: number;
  /** Upper bound of one delay, in milliseconds. Default 15000. */
  readonly maxDelayMs?: number;
}

export interface RetryOptions {
  readonly policy?: RetryPolicy | undefined;
  /** Aborting it ends a backoff sleep at once with the signal's reason. */
  readonly signal: AbortSignal;
  /** Whether a failure is transient. Anything else is thrown at once. */
  readonly retryable: (err: unknown) => boolean;
  /** Called before each backoff sleep, for logging. */
  readonly onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/**
 * Calls `work` until it succeeds, fails with a non-retryable error, or runs out of attempts (then the last
 * error is thrown). Delays grow exponentially with jitter so that replicas retrying against the same registry
 * spread out.
 */
export async function retry<T>(work: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const attempts = Math.max(1, options.policy?.attempts ?? 4);
  const initial = options.policy?.initialDelayMs ?? 1000;
  const max = options.policy?.maxDelayMs ?? 15_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await work(attempt);
    } catch (err) {
      if (attempt >= attempts || !options.retryable(err)) throw err;
      const ceiling = Math.min(max, initial * 2 ** (attempt - 1));
      const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
      options.onRetry?.(err, attempt, delay);
      // timers/promises rejects with a generic AbortError; callers expect the signal's own reason.
      await sleep(delay, undefined, { signal: options.signal }).catch(() => options.signal.throwIfAborted());
    }
  }
}
