import { Errors, type AuthCallback, type AuthFailureCallback, type HttpClient } from 'isomorphic-git';
import nodeHttp from 'isomorphic-git/http/node';
import type { Logger } from '../log';
import { Deadline } from '../registry/deadline';
import { retry, type OutageWatch } from '../outage/retry';
import { abortReason, raceAbort } from './abort';
import { watchAnswers } from './cut-answers';
import {
  GitAuthError,
  GitRemoteError,
  GitTimeoutError,
  GitUnreachableError,
  RepoNotFoundError,
  type GitOperation,
} from './errors';
import type { Remote } from './remote';

/** What every adapter call receives from its actor. */
export interface GitContext {
  /** Aborts the call; the operation rejects with the signal's reason. */
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** How long to wait out an unavailable git server, and who hears each retry. Default: one attempt. */
  readonly outage?: OutageWatch | undefined;
}

/** The network half of an isomorphic-git call, bound to one operation's deadline and credentials. */
export interface RemoteIo {
  readonly http: HttpClient;
  readonly onAuth: AuthCallback;
  readonly onAuthFailure: AuthFailureCallback;
}

type AuthState = 'unasked' | 'offered' | 'missing' | 'rejected';

function hostOf(url: string): string {
  return new URL(url).host;
}

function systemCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { code, syscall } = err as { code?: unknown; syscall?: unknown };
  if (typeof code !== 'string') return undefined;
  // Socket-level failures carry `syscall`, except a connection the server dropped ("socket hang up"); TLS
  // failures (bad or expired certificates) only a code.
  return typeof syscall === 'string' ||
    code === 'ECONNRESET' ||
    code.startsWith('ERR_TLS') ||
    code.includes('CERT')
    ? code
    : undefined;
}

function translate(err: unknown, operation: GitOperation, remote: Remote, auth: AuthState): unknown {
  if (err instanceof Errors.UserCanceledError) {
    return new GitAuthError(operation, remote.url, auth === 'missing' ? 'missing' : 'rejected');
  }
  if (err instanceof Errors.HttpError) {
    const { statusCode, statusMessage } = err.data;
    if (statusCode === 401)
      return new GitAuthError(operation, remote.url, auth === 'offered' ? 'rejected' : 'missing');
    if (statusCode === 403) return new GitAuthError(operation, remote.url, 'forbidden');
    if (statusCode === 404) return new RepoNotFoundError(operation, remote.url);
    return new GitRemoteError(
      operation,
      remote.url,
      `the server answered HTTP ${statusCode} ${statusMessage}`,
      statusCode,
    );
  }
  if (err instanceof Errors.SmartHttpError || err instanceof Errors.EmptyServerResponseError) {
    return new GitRemoteError(operation, remote.url, 'the server did not answer as a git smart-HTTP server');
  }
  const code = systemCode(err);
  if (code !== undefined) return new GitUnreachableError(operation, hostOf(remote.url), code);
  // The HTTP client's words when the socket stayed silent past the agent's idle timeout (5 s by default).
  if (err instanceof Error && err.message === 'Request timed out') {
    return new GitUnreachableError(operation, hostOf(remote.url), 'ETIMEDOUT');
  }
  return err;
}

/**
 * Runs one isomorphic-git network operation against `remote` under a deadline of `remote.timeoutMs` and the
 * caller's signal. isomorphic-git has no signal of its own for clone and fetch, so the signal goes to the
 * Node HTTP client of this call (which aborts the socket) and the whole call is raced against it as well,
 * because a half-read response body can otherwise leave the library waiting forever.
 *
 * Rejects with the caller's abort reason when the caller aborts, `GitTimeoutError` when the deadline passes,
 * and the typed errors of `./errors` for authentication, missing repositories and unreachable servers. Other
 * errors (a missing ref, a rejected push) pass through for the calling adapter to interpret.
 *
 * A transient failure (an unreachable server, an answer cut off midway, a timeout, HTTP 5xx) is retried within
 * `ctx.outage`, `run` being told which attempt it is: it must leave nothing behind that a second attempt would
 * trip over. A cut answer fails its attempt even when the library made a result of the part that arrived.
 */
export function withRemote<T>(
  operation: GitOperation,
  remote: Remote,
  ctx: GitContext,
  run: (io: RemoteIo, attempt: number) => Promise<T>,
): Promise<T> {
  return retry((attempt) => once(operation, remote, ctx, (io) => run(io, attempt)), {
    dependency: 'git server',
    policy: ctx.outage ?? { attempts: 1 },
    signal: ctx.signal,
    onRetry: ctx.outage?.onRetry,
  });
}

async function once<T>(
  operation: GitOperation,
  remote: Remote,
  ctx: GitContext,
  run: (io: RemoteIo) => Promise<T>,
): Promise<T> {
  if (ctx.signal.aborted) throw abortReason(ctx.signal);
  const deadline = new Deadline(ctx.signal, remote.timeoutMs);
  const { signal } = deadline;
  let auth: AuthState = 'unasked';
  const answers = watchAnswers({ request: (request) => nodeHttp.request({ ...request, signal }) });
  const io: RemoteIo = {
    http: answers.http,
    onAuth: () => {
      const creds = remote.credentials(remote.url);
      auth = creds === undefined ? 'missing' : 'offered';
      return creds === undefined ? { cancel: true } : { username: creds.username, password: creds.password };
    },
    onAuthFailure: () => {
      auth = 'rejected';
      return { cancel: true };
    },
  };
  const started = Date.now();
  const running = run(io);
  try {
    const result = await raceAbort(running, signal);
    // What the library made of an answer that broke off is not the server's word: the attempt failed with it.
    answers.throwIfCut();
    ctx.log.debug(`git ${operation} finished`, { url: remote.url, ms: Date.now() - started });
    return result;
  } catch (err) {
    if (ctx.signal.aborted) {
      // The operation's requests carry the signal, so it ends soon; waiting for that keeps a clone that was
      // about to start from making its directory again after the caller removed the work dir. The wait is
      // bounded because a half-read response body can leave the library waiting forever.
      await settledWithin(running, ABANDON_WAIT_MS);
      throw abortReason(ctx.signal);
    }
    if (deadline.expired) throw new GitTimeoutError(operation, hostOf(remote.url), remote.timeoutMs);
    // A missing ref or a "not a git server" read from half an answer is the broken connection's doing.
    throw translate(answers.cut() ?? err, operation, remote, auth);
  } finally {
    deadline.dispose();
  }
}

/** How long an aborted git operation is given to end before it is left behind. */
const ABANDON_WAIT_MS = 5000;

function settledWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return Promise.race([promise.then(noop, noop), timeout]).finally(() => clearTimeout(timer));
}

function noop(): void {}
