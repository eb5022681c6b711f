import type { Logger } from '../../src/log';
import type { ActorKind, ActorRef, ChildExit, ExitReason, ReplyTo, RestartType, StopOutcome } from './types';

/** What an actor's callbacks get besides their message and state. One per incarnation. */
export interface ActorContext<Msg> {
  /** The child id this actor was started under, unique among its siblings. */
  readonly id: string;
  readonly path: string;
  readonly self: ActorRef<Msg>;
  /** The parent's ref (undefined for the root). Typed loosely: cast to the parent's protocol you know. */
  readonly parent: ActorRef<unknown> | undefined;
  /**
   * Fires when this actor is stopped, crashes or is abandoned, and so when its parent stops it on the way
   * down. Pass it to every adapter call (HTTP, git, docker) so the work below stops too.
   */
  readonly signal: AbortSignal;
  /** Logger whose lines carry `{ actor: path }`. */
  readonly log: Logger;
  /** Answers an `ask`; a no-op when the asker already gave up. */
  reply<Reply>(to: ReplyTo<Reply>, value: Reply): void;
  /**
   * Starts a linked child and resolves once its `init` has finished. When the child later ends on its own,
   * this actor's `onChildExit` runs; without one, a child that crashed or failed makes this actor crash too.
   * Rejects with `DuplicateChildError` if a live child has this id, `ChildStartError` if `init` failed.
   */
  spawnChild<M, S>(id: string, behaviour: ActorBehaviour<M, S>, options?: SpawnOptions): Promise<ActorRef<M>>;
  /** Stops a child (its subtree first) and resolves when it has stopped or was abandoned. */
  stopChild(ref: ActorRef<never>): Promise<StopOutcome>;
  /**
   * Ends this actor once the current callback returns: normally without an argument, or as `failed` with
   * `failure` (an Error or any value) as the reason. The parent sees it through `onChildExit`.
   */
  stop(failure?: unknown): void;
}

/** Options of `ctx.spawnChild`. */
export interface SpawnOptions {
  /**
   * How long the child may take to stop (its own children first, then its in-flight message and
   * `terminate`) before it is abandoned, in milliseconds. `Infinity` waits for ever, `0` abandons at once
   * (OTP's `brutal_kill`). Default 5000 for workers, `Infinity` for supervisors.
   */
  readonly shutdownMs?: number;
}

/**
 * An actor: how it starts, how it handles a message, what it does when a child ends and when it stops.
 * Every callback may be async; a throw or a rejection in any of them is a crash, reported to the parent as
 * `crashed` and to every pending `ask` as `ActorCrashedError`. Messages are handled one at a time.
 */
export interface ActorBehaviour<Msg, State> {
  /** Shown in health; `supervisor` also makes the default shutdown timeout `Infinity`. Default `worker`. */
  readonly kind?: ActorKind;
  /**
   * How children are stopped when this actor stops: `reverse` start order, one at a time (OTP), or
   * `parallel` (OTP's dynamic supervisors; right for thousands of independent workflows). Default `reverse`.
   */
  readonly shutdownOrder?: 'reverse' | 'parallel';
  /** Builds the first state. Messages sent meanwhile wait; the parent's start waits for it. */
  init(ctx: ActorContext<Msg>): State | Promise<State>;
  /** Handles one message and returns the next state. */
  handle(msg: Msg, state: State, ctx: ActorContext<Msg>): State | Promise<State>;
  /** A linked child ended on its own (normal, failed or crashed). Default: fail if the child did. */
  onChildExit?(exit: ChildExit, state: State, ctx: ActorContext<Msg>): State | Promise<State>;
  /** Last words after the children have stopped and the signal fired; bounded by the shutdown timeout. */
  terminate?(state: State, exit: ExitReason, ctx: ActorContext<Msg>): void | Promise<void>;
}

/** A behaviour whose message and state types have been forgotten, as supervisors hold them. */
export type AnyBehaviour = ActorBehaviour<never, unknown>;

/** Identity function that lets TypeScript infer and check a behaviour's message and state types. */
export function defineActor<Msg, State = void>(
  behaviour: ActorBehaviour<Msg, State>,
): ActorBehaviour<Msg, State> {
  return behaviour;
}

/** One child of a supervisor, as in OTP's child specification. */
export interface ChildSpec {
  /** Unique among the supervisor's children; the last segment of the child's path. */
  readonly id: string;
  /** Called on every (re)start for a fresh behaviour, so no state leaks from a crashed incarnation. */
  readonly start: () => AnyBehaviour;
  /** Default `permanent`. */
  readonly restart?: RestartType;
  /** See `SpawnOptions.shutdownMs`. Default 5000 for workers, `Infinity` for supervisors. */
  readonly shutdownMs?: number;
}
