/**
 * Typed failures of the git adapter. Every message is meant for the workflow's event log, so it names the
 * operation, the host or repository and the cause, and never a credential: URLs reaching these classes have
 * been validated to carry no user-info, and server texts are never copied from request headers.
 */

import { quoted } from './quoted';

/** The git network operations, as they appear in messages. */
export type GitOperation = 'ls-remote' | 'clone' | 'fetch' | 'push';

/** Base class, so callers can tell git failures from everything else with one `instanceof`. */
export class GitError extends Error {
  override name = 'GitError';
}

/** A repository name or URL that the builder will not use (bad characters, ssh, credentials in it). */
export class InvalidRepoError extends GitError {
  override name = 'InvalidRepoError';
}

/** A ref that breaks `git check-ref-format` rules or the builder's stricter character set. */
export class InvalidRefError extends GitError {
  override name = 'InvalidRefError';
  constructor(
    readonly ref: string,
    reason: string,
  ) {
    super(`invalid git ref ${quoted(ref)}: ${reason}`);
  }
}

/** Why authentication failed: nothing configured for the host, credentials refused, or access denied. */
export type GitAuthFailure = 'missing' | 'rejected' | 'forbidden';

const authReasons: Record<GitAuthFailure, string> = {
  // GitHub answers 401 also for repositories that do not exist, to avoid revealing private ones.
  missing:
    'the server requires authentication (or hides a repository that does not exist) and no credentials are configured for this host',
  rejected: 'the server rejected the configured credentials',
  forbidden: 'the server denied access with the configured credentials',
};

export class GitAuthError extends GitError {
  override name = 'GitAuthError';
  constructor(
    readonly operation: GitOperation,
    readonly url: string,
    readonly reason: GitAuthFailure,
  ) {
    super(`git ${operation} of ${url} failed: ${authReasons[reason]}`);
  }
}

export class RepoNotFoundError extends GitError {
  override name = 'RepoNotFoundError';
  constructor(
    readonly operation: GitOperation,
    readonly url: string,
  ) {
    super(`git ${operation} failed: repository ${url} not found`);
  }
}

export class RefNotFoundError extends GitError {
  override name = 'RefNotFoundError';
  constructor(
    readonly url: string,
    readonly ref: string,
    detail = 'no branch, tag or reachable commit of that name',
  ) {
    super(`ref ${quoted(ref)} not found in ${url}: ${detail}`);
  }
}

export class GitUnreachableError extends GitError {
  override name = 'GitUnreachableError';
  constructor(
    readonly operation: GitOperation,
    readonly host: string,
    /** The system error code, e.g. `ECONNREFUSED`. */
    readonly systemCode: string,
  ) {
    super(`git ${operation} failed: git server ${host} is unreachable (${systemCode})`);
  }
}

export class GitTimeoutError extends GitError {
  override name = 'GitTimeoutError';
  constructor(
    readonly operation: GitOperation,
    readonly host: string,
    readonly timeoutMs: number,
  ) {
    super(`git ${operation} from ${host} timed out after ${timeoutMs / 1000} s`);
  }
}

/** The server answered, but not with something the builder can use (HTTP 5xx, a non-git endpoint, ...). */
export class GitRemoteError extends GitError {
  override name = 'GitRemoteError';
  constructor(
    readonly operation: GitOperation,
    readonly url: string,
    detail: string,
    /** The HTTP status the server answered with, when it answered with one. */
    readonly status?: number,
  ) {
    super(`git ${operation} of ${url} failed: ${detail}`);
  }
}

/** The server refused the push for a reason retrying cannot fix, or every retry lost the race. */
export class GitPushRejectedError extends GitError {
  override name = 'GitPushRejectedError';
  constructor(
    readonly url: string,
    readonly branch: string,
    detail: string,
  ) {
    super(`push of branch ${branch} to ${url} was rejected: ${detail}`);
  }
}
