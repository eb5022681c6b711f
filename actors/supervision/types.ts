// Plain-data types shared by the supervision layer and the actors built on it. Everything here can be
// JSON-serialised: refs, failures, exits and health all cross actor boundaries or leave the process.

declare const messageType: unique symbol;
declare const replyType: unique symbol;

/**
 * The address of one incarnation of an actor. A restarted child gets a new `uid`, so a ref kept from before
 * the restart reaches nobody (as an Erlang pid would) instead of the new incarnation.
 * `ActorRef<never>` accepts a ref of any message type.
 */
export interface ActorRef<Msg> {
  readonly uid: number;
  /** Slash-separated child ids from the root, e.g. `app/workflows/wf-42`. For logs and health only. */
  readonly path: string;
  readonly [messageType]?: (msg: Msg) => void;
}

/** Where an `ask` waits for its answer; put it in the request message and answer with `reply`. */
export interface ReplyTo<Reply> {
  readonly askId: number;
  readonly [replyType]?: (reply: Reply) => void;
}

/**
 * Where an actor is in its life. `restarting` is a new incarnation of a child that crashed or was restarted
 * with a crashed sibling, while its `init` runs; `failed` is an actor that crashed or had to be abandoned.
 */
export type LifecycleState = 'starting' | 'running' | 'restarting' | 'stopping' | 'stopped' | 'failed';

/** Supervisors only start, watch and restart children; workers do the work. */
export type ActorKind = 'worker' | 'supervisor';

/**
 * OTP restart types: `permanent` children are always restarted, `transient` ones only after a crash,
 * `temporary` ones never (one per workflow).
 */
export type RestartType = 'permanent' | 'transient' | 'temporary';

/**
 * OTP strategies, applied when a child is to be restarted: `one_for_one` restarts that child,
 * `rest_for_one` also the children started after it, `one_for_all` every child.
 */
export type Strategy = 'one_for_one' | 'rest_for_one' | 'one_for_all';

/** Why an actor failed, as plain data: what an Error becomes when it crosses an actor boundary. */
export interface FailureInfo {
  /** Error class name, e.g. `GitAuthError`, `RestartIntensityError`. */
  readonly name: string;
  readonly message: string;
  /** The error's `code` property when it had a string one. */
  readonly code?: string;
  /** Path of the actor where the failure happened. */
  readonly path: string;
  /** ISO-8601 time the failure was recorded. */
  readonly at: string;
  /** The failure that led to this one, e.g. the child crash behind a supervisor giving up. */
  readonly cause?: FailureInfo;
}

/**
 * How an actor ended. `normal` and `failed` are ends the actor chose (`ctx.stop()`, `ctx.stop(reason)`);
 * `crashed` is a throw or rejection in `init`, `handle` or `onChildExit`; `shutdown` is a stop asked by its
 * parent; `killed` is an actor abandoned after its shutdown timeout, or below one.
 */
export type ExitReason =
  | { readonly kind: 'normal' }
  | { readonly kind: 'failed'; readonly reason: FailureInfo }
  | { readonly kind: 'crashed'; readonly reason: FailureInfo }
  | { readonly kind: 'shutdown' }
  | { readonly kind: 'killed'; readonly reason: FailureInfo };

/** The message a parent receives when a child ends on its own (see `ActorBehaviour.onChildExit`). */
export interface ChildExit {
  readonly id: string;
  readonly ref: ActorRef<never>;
  readonly exit: ExitReason;
}

/** Result of stopping an actor: it finished within its shutdown timeout, or it was abandoned. */
export type StopOutcome = 'stopped' | 'abandoned';

/** One actor in the health tree. */
export interface ActorHealth {
  readonly id: string;
  readonly path: string;
  readonly kind: ActorKind;
  readonly state: LifecycleState;
  /** Times this child slot was restarted by its supervisor since the supervisor started. */
  readonly restartCount: number;
  /** The last failure of this slot (this incarnation or an earlier one), or null. */
  readonly lastFailure: FailureInfo | null;
  /** Messages delivered to the actor and not yet taken by it. */
  readonly mailboxDepth: number;
  readonly children: readonly ActorHealth[];
}

/** The whole tree, as `/healthz`, the Overseer heartbeat and the CLI show it. */
export interface HealthTree {
  /** `ok`: every actor running; `degraded`: some actor is not; `down`: the root itself is not running. */
  readonly status: 'ok' | 'degraded' | 'down';
  /** ISO-8601 time of the snapshot. */
  readonly at: string;
  /** Number of actors in `root`. */
  readonly actors: number;
  /** Messages sent to actors that had ended (they are dropped, as nact drops them, but counted here). */
  readonly deadLetters: number;
  /** Paths of actors abandoned after their shutdown timeout, oldest first. */
  readonly abandoned: readonly string[];
  /** Failures reported from outside the tree, e.g. unhandled rejections caught by the process guard. */
  readonly processFailures: { readonly count: number; readonly last: FailureInfo | null };
  readonly root: ActorHealth;
}
