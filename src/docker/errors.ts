/**
 * Typed Docker Engine failures. Messages carry what the daemon said and never a credential: auth configs only
 * travel in headers, and the workflow actor copies these messages into the event log.
 */

/** The Engine endpoint could not be reached, or the connection to it broke before the call finished. */
export class DockerUnreachableError extends Error {
  override readonly name = 'DockerUnreachableError';
  constructor(
    readonly endpoint: string,
    readonly detail: string,
  ) {
    super(`docker engine ${endpoint} is unreachable: ${detail}`);
  }
}

/** The daemon and the builder share no Engine API version. */
export class DockerApiVersionError extends Error {
  override readonly name = 'DockerApiVersionError';
  constructor(
    readonly endpoint: string,
    readonly detail: string,
  ) {
    super(`docker engine ${endpoint} has no usable API version: ${detail}`);
  }
}

/** An Engine answered a call with an HTTP error status: the message names the engine and gives the daemon's. */
export class DockerEngineError extends Error {
  override readonly name = 'DockerEngineError';
  constructor(
    readonly endpoint: string,
    readonly status: number,
    readonly detail: string,
  ) {
    super(`docker engine ${endpoint} answered HTTP ${status}: ${detail}`);
  }
}

/**
 * The build failed. `message` is what the daemon reported in the build stream (e.g. "The command '/bin/sh -c
 * exit 3' returned a non-zero code: 3"), or why the context could not be sent.
 */
export class DockerBuildError extends Error {
  override readonly name = 'DockerBuildError';
}

/** A push failed for a reason that is neither authentication nor unavailability (the daemon's message). */
export class DockerPushError extends Error {
  override readonly name = 'DockerPushError';
}

/** A build or push ran past its configured deadline and was cancelled. */
export class DockerTimeoutError extends Error {
  override readonly name = 'DockerTimeoutError';
  constructor(
    readonly operation: string,
    readonly seconds: number,
  ) {
    super(`docker ${operation} did not finish within ${seconds} s and was cancelled`);
  }
}

/** The message of anything thrown: an Error's own, else its string form. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
