import { Deadline } from '../registry/deadline';

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
  const deadline = new Deadline(signal, timeoutMs);
  try {
    const response = await fetch(url, { ...init, redirect: 'manual', signal: deadline.signal });
    const body = await response.text();
    return { status: response.status, location: response.headers.get('location'), body };
  } catch (err) {
    if (signal?.aborted) throw abortError(signal);
    if (deadline.expired) throw new TransientFailure(`no answer within ${timeoutMs} ms`, undefined);
    throw new TransientFailure(networkDetail(err), undefined);
  } finally {
    deadline.dispose();
  }
}

/** Replaces every occurrence of each secret in `text` with `***`, so server texts can be quoted safely. */
export function scrub(text: string, secrets: readonly string[]): string {
  return secrets.filter((s) => s.length > 0).reduce((out, secret) => out.split(secret).join('***'), text);
}
