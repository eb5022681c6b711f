import type { FailureInfo } from './types';

/** Machine-readable kind of every error the supervision layer throws. */
export type ActorErrorCode =
  | 'ask_timeout'
  | 'ask_aborted'
  | 'actor_crashed'
  | 'actor_stopped'
  | 'child_failed'
  | 'child_start_failed'
  | 'duplicate_child'
  | 'max_children'
  | 'restart_intensity'
  | 'shutdown_timeout';

/** Base of the layer's typed errors. `reason` is the failure of another actor behind this one, if any. */
export abstract class ActorError extends Error {
  abstract readonly code: ActorErrorCode;
  readonly reason: FailureInfo | undefined;

  protected constructor(message: string, reason?: FailureInfo) {
    super(message);
    this.reason = reason;
  }
}

function described(reason: FailureInfo): string {
  return `${reason.name}: ${reason.message}`;
}

/** An `ask` got no reply in time. */
export class AskTimeoutError extends ActorError {
  override readonly name = 'AskTimeoutError';
  readonly code = 'ask_timeout';
  constructor(
    readonly path: string,
    readonly timeoutMs: number,
  ) {
    super(`${path} did not reply within ${timeoutMs} ms`);
  }
}

/** The signal given to `ask` fired before the reply came. */
export class AskAbortedError extends ActorError {
  override readonly name = 'AskAbortedError';
  readonly code = 'ask_aborted';
  constructor(readonly path: string) {
    super(`ask to ${path} was aborted`);
  }
}

/** The asked actor crashed before replying; `reason` says why. */
export class ActorCrashedError extends ActorError {
  override readonly name = 'ActorCrashedError';
  readonly code = 'actor_crashed';
  constructor(
    readonly path: string,
    reason: FailureInfo,
  ) {
    super(`${path} crashed: ${described(reason)}`, reason);
  }
}

/** The actor was not running, or ended (stopped, finished or abandoned) before replying. */
export class ActorStoppedError extends ActorError {
  override readonly name = 'ActorStoppedError';
  readonly code = 'actor_stopped';
  constructor(readonly path: string) {
    super(`${path} is not running`);
  }
}

/** A linked child ended with a failure and its parent has no `onChildExit`: the parent fails with it. */
export class ChildFailedError extends ActorError {
  override readonly name = 'ChildFailedError';
  readonly code = 'child_failed';
  constructor(
    readonly childId: string,
    reason: FailureInfo,
  ) {
    super(`child ${childId} ended with ${described(reason)}`, reason);
  }
}

/** A child's `init` failed (or it was stopped while starting). */
export class ChildStartError extends ActorError {
  override readonly name = 'ChildStartError';
  readonly code = 'child_start_failed';
  constructor(
    readonly childId: string,
    reason: FailureInfo,
  ) {
    super(`child ${childId} failed to start: ${described(reason)}`, reason);
  }
}

/** A live child already has this id; ids name children uniquely under one parent. */
export class DuplicateChildError extends ActorError {
  override readonly name = 'DuplicateChildError';
  readonly code = 'duplicate_child';
  constructor(readonly childId: string) {
    super(`a child with id ${childId} is already running`);
  }
}

/** A dynamic supervisor is at its child limit (for `workflows`: every slot is taken). */
export class MaxChildrenError extends ActorError {
  override readonly name = 'MaxChildrenError';
  readonly code = 'max_children';
  constructor(readonly limit: number) {
    super(`all ${limit} child slots are taken`);
  }
}

/** More restarts than the intensity allows in the period: the supervisor gives up and fails its parent. */
export class RestartIntensityError extends ActorError {
  override readonly name = 'RestartIntensityError';
  readonly code = 'restart_intensity';
  constructor(
    readonly intensity: number,
    readonly periodMs: number,
    reason: FailureInfo,
  ) {
    super(`more than ${intensity} restarts in ${periodMs} ms; last: ${described(reason)}`, reason);
  }
}

/** An actor did not stop within its shutdown timeout and was abandoned, with everything below it. */
export class ShutdownTimeoutError extends ActorError {
  override readonly name = 'ShutdownTimeoutError';
  readonly code = 'shutdown_timeout';
  constructor(
    readonly path: string,
    readonly timeoutMs: number,
  ) {
    super(`${path} did not stop within ${timeoutMs} ms and was abandoned`);
  }
}
