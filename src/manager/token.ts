import type { Logger } from '../log';
import { retry, type OutageWatch } from '../outage/retry';
import { ManagerAuthError } from './errors';
import { exchange, TransientFailure } from './http';
import { detailOf, unavailable } from './transport';

/** Settings of the OAuth2 client-credentials login (protocol §3.2). */
export interface TokenSourceOptions {
  /** The token endpoint (OAUTH_LOGIN_URL). */
  loginUrl: string;
  clientId: string;
  clientSecret: string;
  /** A token is renewed once less than this remains of its life, in ms. Default 30 000, as the Elixir client. */
  renewBeforeMs: number;
  /** Deadline of one login request in ms. */
  timeoutMs: number;
  /** Retries of the login on 5xx, network errors and timeouts. */
  retry: OutageWatch;
  /** Clock in ms since the epoch. */
  now: () => number;
  log: Logger;
  /**
   * Told every new access token and when it expires (ms since the epoch), so output redaction learns it before
   * anything could print it, and can forget it once it is of no use.
   */
  onToken?: ((token: string, expiresAt: number) => void) | undefined;
}

interface CachedToken {
  value: string;
  /** When the token dies, measured from when its request was sent. */
  expiresAt: number;
}

// Never the secret: this is all a login error may say about the request.
const loginPath = 'OAuth login';

/**
 * Hands out a bearer token, logging in only when there is none or it is within `renewBeforeMs` of expiry.
 * Concurrent callers share one login (single flight). The login is retried on transient failures although
 * it is a POST: issuing a client-credentials token has no side effect on the Manager.
 */
export class TokenSource {
  private cached: CachedToken | undefined;
  private pending: Promise<CachedToken> | undefined;

  constructor(private readonly options: TokenSourceOptions) {}

  /** A token with more than `renewBeforeMs` of life left. */
  async token(signal?: AbortSignal): Promise<string> {
    const cached = this.cached;
    if (cached && cached.expiresAt - this.options.now() > this.options.renewBeforeMs) return cached.value;
    // The shared login is not tied to any one caller's signal, so an impatient caller cannot fail the others.
    this.pending ??= this.login().finally(() => (this.pending = undefined));
    const login = this.pending;
    if (!signal) return (await login).value;
    const aborted = new Promise<never>((_, reject) => {
      signal.throwIfAborted();
      signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
    });
    return (await Promise.race([login, aborted])).value;
  }

  /** Forgets `token` if it is still the cached one (the Manager answered 401 to it). */
  invalidate(token: string): void {
    if (this.cached?.value === token) this.cached = undefined;
  }

  private async login(): Promise<CachedToken> {
    const { loginUrl, clientId, clientSecret, timeoutMs, retry: policy, now, log } = this.options;
    const body = JSON.stringify({
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: clientSecret,
    });
    const init: RequestInit = {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body,
    };
    const attempt = async (): Promise<CachedToken> => {
      const sentAt = now();
      const result = await exchange(loginUrl, init, timeoutMs, undefined);
      if (result.status >= 500) throw new TransientFailure(`status ${result.status}`, result.status);
      if (result.status !== 200) {
        throw new ManagerAuthError('POST', loginPath, result.status, `refused with status ${result.status}`);
      }
      return parseLogin(result.body, sentAt);
    };
    try {
      const token = await retry(attempt, {
        dependency: 'Manager',
        policy,
        signal: new AbortController().signal,
        onRetry: (notice) => {
          log.warn(notice.text, {
            call: loginPath,
            detail: detailOf(notice.error),
            delay_ms: notice.delayMs,
          });
          policy.onRetry?.(notice);
        },
      });
      this.cached = token;
      this.options.onToken?.(token.value, token.expiresAt);
      return token;
    } catch (err) {
      throw unavailable(err, 'POST', loginPath);
    }
  }
}

/** Reads `access_token` and `expires_in` (seconds, required as in the Elixir client) without quoting the body. */
function parseLogin(body: string, sentAt: number): CachedToken {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    // Reported below; the body itself is never quoted, as it would hold the token.
  }
  const fields = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  const token = fields.access_token;
  if (typeof token !== 'string' || token.length === 0) {
    throw new ManagerAuthError('POST', loginPath, 200, 'answer has no access_token');
  }
  const seconds = typeof fields.expires_in === 'string' ? Number(fields.expires_in) : fields.expires_in;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) {
    throw new ManagerAuthError('POST', loginPath, 200, 'answer has no numeric expires_in');
  }
  return { value: token, expiresAt: sentAt + seconds * 1000 };
}
