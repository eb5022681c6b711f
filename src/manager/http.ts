import { setTimeout as sleep } from 'node:timers/promises';

/** How idempotent requests are retried on 5xx answers, network errors and timeouts. */
export interface RetryPolicy {
  /** Attempts after the first one. Default 3. */
  retries: number;
  /** Delay before the first retry in ms; it doubles with each retry. Default 200. */
  baseDelayMs: number;
  /** Upper bound of one delay in ms. Default 5000. */
  maxDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = { retries: 3, baseDelayMs: 200, maxDelayMs: 5000 };

/** What one HTTP exchange produced; the body is read inside the same deadline as the headers. */
export interface HttpResult {
  status: number;
  location: string | null;
  body: string;
}

/** A failure worth another attempt: no response, a timeout, or a 5xx. `detail` is safe to show. */
export class TransientFailure extends Error {
  override name = 'TransientFailure';
  constructor(
    readonly detail: string,
    readonly status: number | undefined,
  ) {
    super(detail);
  }
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new DOMException('The operation was aborted', 'AbortError');
}

function networkDetail(err: unknown): string {
  // undici reports "fetch failed" and keeps the useful part (ECONNREFUSED, ...) in the cause. Its errors come
  // from Node's own realm, so they are read by shape rather than with instanceof.
  const { message, cause } = (err ?? {}) as {
    message?: unknown;
    cause?: { code?: unknown; message?: unknown };
  };
  if (typeof cause?.code === 'string') return `network error ${cause.code}`;
  if (typeof cause?.message === 'string') return `network error: ${cause.message}`;
  return `network error: ${typeof message === 'string' ? message : String(err)}`;
}

/**
 * One HTTP exchange with a deadline of `timeoutMs` that also covers reading the body. Throws the caller's
 * abort reason when `signal` aborts, `TransientFailure` when no response arrived in time, and never follows
 * redirects (the Manager sends none; a redirect would carry the bearer token elsewhere).
 */
export async function exchange(
  url: string,
  init: RequestInit,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<HttpResult> {
  const deadline = AbortSignal.timeout(timeoutMs);
  const combined = signal ? AbortSignal.any([deadline, signal]) : deadline;
  try {
    const response = await fetch(url, { ...init, redirect: 'manual', signal: combined });
    const body = await response.text();
    return { status: response.status, location: response.headers.get('location'), body };
  } catch (err) {
    if (signal?.aborted) throw abortError(signal);
    if (deadline.aborted) throw new TransientFailure(`no answer within ${timeoutMs} ms`, undefined);
    throw new TransientFailure(networkDetail(err), undefined);
  }
}

/** The delay before retry number `retry` (0-based): exponential, capped, with up to half of it random. */
export function backoffDelay(policy: RetryPolicy, retry: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/**
 * Runs `attempt` until it succeeds, throws something other than `TransientFailure`, or the retries are used
 * up; then the last `TransientFailure` is thrown. Waiting between attempts ends early when `signal` aborts.
 */
export async function withRetries<T>(
  attempt: () => Promise<T>,
  policy: RetryPolicy,
  signal: AbortSignal | undefined,
  onRetry: (failure: TransientFailure, delayMs: number) => void,
): Promise<T> {
  for (let retry = 0; ; retry++) {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof TransientFailure) || retry >= policy.retries) throw err;
      const delayMs = backoffDelay(policy, retry);
      onRetry(err, delayMs);
      try {
        await sleep(delayMs, undefined, signal ? { signal } : {});
      } catch {
        throw abortError(signal as AbortSignal);
      }
    }
  }
}

/** Replaces every occurrence of each secret in `text` with `***`, so server texts can be quoted safely. */
export function scrub(text: string, secrets: readonly string[]): string {
  return secrets.filter((s) => s.length > 0).reduce((out, secret) => out.split(secret).join('***'), text);
}
