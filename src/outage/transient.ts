/**
 * The one classification of failures that every adapter's retries use: **transient** (the dependency is
 * down, overloaded or unreachable for now, so the same request may well succeed later) versus **the
 * request's own** (a missing ref or repository, refused credentials, a failing Dockerfile, a template error,
 * a push the server rejected): those fail the workflow at once, as retrying cannot change the answer.
 */

import { AmqpPublishError } from '../amqp/errors';
import { DockerEngineError, DockerUnreachableError } from '../docker/errors';
import { GitRemoteError, GitTimeoutError, GitUnreachableError } from '../git/errors';
import { TransientFailure } from '../manager/http';
import { ManagerUnavailableError } from '../manager/errors';
import { RegistryUnavailableError } from '../registry/errors';
import { OutageError } from './errors';

// Socket and DNS failures of Node and undici: nobody answered, or the connection broke under the request.
const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

/**
 * Texts in which a daemon or broker reports a passing failure without a code: a registry's 5xx or 429 relayed
 * in a push stream, a connection lost mid-way, a blob the registry lost between upload and manifest ("blob
 * unknown", seen when a registry restarts under a push), a broker channel that closed under a publish.
 */
const TRANSIENT_TEXT =
  /\b5\d\d\b|connection refused|connection reset|broken pipe|i\/o timeout|timed? ?out|\bEOF\b|too ?many ?requests|\b429\b|blob unknown|channel (?:was )?closed|connection closed/i;

/** Whether a status answered by an HTTP server means "later" rather than "no". */
export function transientStatus(status: number | undefined): boolean {
  return status !== undefined && (status >= 500 || status === 429);
}

/** Whether a message a dependency reported in words (no code, no status) describes a passing failure. */
export function transientText(message: string): boolean {
  return TRANSIENT_TEXT.test(message);
}

function transientShape(err: object): boolean {
  const { code, status, statusCode, name } = err as {
    code?: unknown;
    status?: unknown;
    statusCode?: unknown;
    name?: unknown;
  };
  if (typeof code === 'string' && TRANSIENT_CODES.has(code)) return true;
  if (name === 'TimeoutError') return true;
  const answered =
    typeof status === 'number' ? status : typeof statusCode === 'number' ? statusCode : undefined;
  return transientStatus(answered);
}

/**
 * Whether `err` is worth another attempt after a wait. The adapters' typed errors are judged by what they
 * record (a registry or Manager that was unavailable, a git server unreachable, timed out or answering 5xx, an
 * engine that broke the connection or answered 5xx); anything else by its system code, HTTP status or cause.
 * An abort is never transient: the caller wants the work to end; nor is a failure that retries already met.
 */
export function isTransient(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  if ((err as { name?: unknown }).name === 'AbortError') return false;
  // Already waited out by the retries below the caller: waiting again would only double the wait.
  if (err instanceof OutageError || err instanceof ManagerUnavailableError) return false;
  if (
    err instanceof RegistryUnavailableError ||
    err instanceof TransientFailure ||
    err instanceof GitUnreachableError ||
    err instanceof GitTimeoutError ||
    err instanceof DockerUnreachableError
  ) {
    return true;
  }
  if (err instanceof GitRemoteError || err instanceof DockerEngineError) return transientStatus(err.status);
  // A channel that closed under the publish (the broker restarting, the connection lost) or a confirm that
  // never came; a negative confirm is the broker refusing the message.
  if (err instanceof AmqpPublishError) return transientText(err.detail);
  return transientShape(err) || isTransient((err as { cause?: unknown }).cause);
}
