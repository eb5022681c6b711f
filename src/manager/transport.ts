import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../log';
import { ManagerAuthError, ManagerError, ManagerUnavailableError, type HttpMethod } from './errors';
import {
  backoffDelay,
  exchange,
  scrub,
  TransientFailure,
  withRetries,
  type HttpResult,
  type RetryPolicy,
} from './http';
import type { TokenSource } from './token';

/** One Manager call, described as data. */
export interface ManagerCall {
  method: HttpMethod;
  /** Path below the base URL, segments already encoded, e.g. `workflows/abc`. */
  path: string;
  /** Query parameters; each key and value is URL-encoded (the Elixir client did not). */
  query?: Record<string, string | number | boolean>;
  /** Sent as JSON. */
  body?: unknown;
  /** Statuses that count as success. Default: any 2xx. */
  expect?: readonly number[];
  /**
   * Whether the call may be repeated after a 5xx, a network error or a timeout. GET and PUT are; a POST only
   * where the Manager documents it as idempotent (module upsert, unique system events).
   */
  idempotent: boolean;
  signal?: AbortSignal | undefined;
}

export interface TransportOptions {
  baseUrl: string;
  tokens: TokenSource;
  timeoutMs: number;
  retry: RetryPolicy;
  /** Texts that must never appear in an error message (the client secret). Tokens are added per call. */
  secrets: readonly string[];
  log: Logger;
  /** How long a call is repeated, with the retry policy's backoff, while the Manager refuses a fresh token. */
  refusedTokenRetryMs: number;
}

/**
 * Sends Manager calls with the headers of the Elixir client (§3.1) on every request, renews the token once
 * when the Manager answers 401 and then repeats the call (with backoff, for a bounded time, while it refuses
 * the fresh token too), and retries idempotent calls with backoff.
 */
export class ManagerTransport {
  private readonly base: string;

  constructor(private readonly options: TransportOptions) {
    this.base = options.baseUrl.replace(/\/+$/, '');
  }

  async send(call: ManagerCall): Promise<HttpResult> {
    const shown = `/${describePath(call)}`;
    const attempt = (): Promise<HttpResult> => this.authorised(call, shown);
    try {
      return call.idempotent
        ? await withRetries(attempt, this.options.retry, call.signal, (failure, delayMs) =>
            this.options.log.warn('Manager call failed, retrying', {
              call: `${call.method} ${shown}`,
              detail: failure.detail,
              delay_ms: delayMs,
            }),
          )
        : await attempt();
    } catch (err) {
      if (err instanceof TransientFailure) {
        throw new ManagerUnavailableError(call.method, shown, err.status, err.detail);
      }
      throw err;
    }
  }

  private async authorised(call: ManagerCall, shown: string): Promise<HttpResult> {
    const { tokens } = this.options;
    let token = await tokens.token(call.signal);
    let result = await this.once(call, token);
    if (result.status === 401) {
      tokens.invalidate(token);
      token = await tokens.token(call.signal);
      result = await this.once(call, token);
      // The Manager answers 401 as well when it cannot reach its token validator (§3.2): a refused fresh token
      // is more likely that outage than a bad secret, which the login itself would have refused.
      const until = Date.now() + this.options.refusedTokenRetryMs;
      for (let retry = 0; result.status === 401; retry++) {
        const delayMs = backoffDelay(this.options.retry, retry);
        if (Date.now() + delayMs > until)
          throw new ManagerAuthError(call.method, shown, 401, 'the Manager refused a freshly issued token');
        this.options.log.warn(
          'the Manager refused a fresh token; its token validator may be down; retrying',
          {
            call: `${call.method} ${shown}`,
            retry: retry + 1,
            delay_ms: delayMs,
          },
        );
        await sleep(delayMs, undefined, call.signal ? { signal: call.signal } : {}).catch(() =>
          call.signal?.throwIfAborted(),
        );
        token = await tokens.token(call.signal);
        result = await this.once(call, token);
      }
    }
    if (result.status >= 500) throw new TransientFailure(this.failureDetail(result, token), result.status);
    if (call.expect ? call.expect.includes(result.status) : result.status >= 200 && result.status < 300) {
      return result;
    }
    throw new ManagerError(call.method, shown, result.status, this.failureDetail(result, token));
  }

  private once(call: ManagerCall, token: string): Promise<HttpResult> {
    const init: RequestInit = {
      method: call.method,
      headers: {
        Accept: 'application/json',
        'Content-Type': 'application/json',
        'User-Agent': 'openaperture-manager-api',
        Authorization: `Bearer access_token=${token}`,
      },
    };
    if (call.body !== undefined) init.body = JSON.stringify(call.body);
    return exchange(`${this.base}/${describePath(call)}`, init, this.options.timeoutMs, call.signal);
  }

  /** The Manager's error messages (`{"errors":[{"message":…}]}` or `{field:[…]}`), short and scrubbed. */
  private failureDetail(result: HttpResult, token: string): string {
    const text = scrub(result.body.trim(), [...this.options.secrets, token]).slice(0, 300);
    return text.length > 0 ? `status ${result.status} (${text})` : `status ${result.status}`;
  }
}

function describePath(call: ManagerCall): string {
  const path = call.path.replace(/^\/+/, '');
  const entries = Object.entries(call.query ?? {});
  if (entries.length === 0) return path;
  return `${path}?${new URLSearchParams(entries.map(([k, v]): [string, string] => [k, String(v)])).toString()}`;
}
