/**
 * Typed failures of the Manager client. Messages name the method, the path and what went wrong; they never
 * contain the OAuth client secret or a token, because the request headers and the login body are never
 * copied into them and server texts are scrubbed of both before they are quoted.
 */

/** An HTTP method the client uses. */
export type HttpMethod = 'GET' | 'PUT' | 'POST' | 'DELETE';

/** A Manager call that got an answer it cannot use: an unexpected status or a malformed body. */
export class ManagerError extends Error {
  override name = 'ManagerError';
  constructor(
    readonly method: HttpMethod,
    /** Path and query as sent, relative to the Manager base URL (the login URL for a login). */
    readonly path: string,
    /** HTTP status, or `undefined` when no response arrived. */
    readonly status: number | undefined,
    detail: string,
  ) {
    super(`${method} ${path}: ${detail}`);
  }
}

/** The OAuth login was refused, or the Manager refused a freshly issued token. Retrying will not help. */
export class ManagerAuthError extends ManagerError {
  override name = 'ManagerAuthError';
}

/** The Manager (or its OAuth server) could not be reached, timed out or answered 5xx on every attempt. */
export class ManagerUnavailableError extends ManagerError {
  override name = 'ManagerUnavailableError';
}
