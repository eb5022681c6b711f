import { dispatch, spawn, stop as stopNact, type Ref } from 'nact';
import type { Logger } from '../../src/log';
import type { ActorBehaviour, ActorContext, AnyBehaviour } from './behaviour';
import { createContext } from './context';
import { deferred } from './deferred';
import { ActorCrashedError, ActorStoppedError, ChildFailedError, ShutdownTimeoutError } from './errors';
import { toFailure } from './failure';
import { failAsks } from './messaging';
import { nextUid, register, unregister, type Mailbox } from './registry';
import type { Runtime } from './runtime';
import { startTimer } from './timers';
import type {
  ActorKind,
  ActorRef,
  ChildExit,
  ExitReason,
  FailureInfo,
  LifecycleState,
  StopOutcome,
} from './types';

/** How long a worker that is stopped may take to end (its callback in flight, its `terminate`), ms. */
export const DEFAULT_WORKER_SHUTDOWN_MS = 5000;

/** What travels through the nact mailbox: the actor's own messages and the layer's two system messages. */
type Envelope =
  | { readonly kind: 'init' }
  | { readonly kind: 'message'; readonly message: unknown }
  | { readonly kind: 'child_exit'; readonly exit: ChildExit };

/** How one incarnation of an actor is started. */
export interface CellOptions {
  readonly id: string;
  readonly behaviour: AnyBehaviour;
  /** See `SpawnOptions.shutdownMs`. */
  readonly shutdownMs?: number | undefined;
  /** Keep this child listed once it ended, until its parent replaces or removes it (supervisors do). */
  readonly retain?: boolean;
  /** The ended child this one restarts: it takes that child's place, restart count and last failure. */
  readonly replaces?: Cell | undefined;
  /** Called once when this incarnation has ended, however it ended. Must not throw (a throw is logged). */
  readonly onEnd?: ((exit: ExitReason) => void) | undefined;
}

export type StartResult = { readonly ok: true } | { readonly ok: false; readonly reason: FailureInfo };

/**
 * One incarnation of an actor: a nact actor for the mailbox, plus everything nact lacks: lifecycle state,
 * async init, crash reporting, ordered and bounded shutdown, an AbortSignal and health counters.
 * The nact handler never throws, so nact's supervision (onCrash, escalate, reset) is never entered.
 */
export class Cell implements Mailbox {
  readonly uid = nextUid();
  readonly id: string;
  readonly path: string;
  /** Typed loosely: an `ActorRef<unknown>` converts to a ref of any message type. */
  readonly ref: ActorRef<unknown>;
  readonly kind: ActorKind;
  readonly shutdownMs: number;
  /** Children by id in start order; retained ones stay after they end, until their supervisor decides. */
  readonly children = new Map<string, Cell>();
  state: LifecycleState;
  readonly restartCount: number;
  lastFailure: FailureInfo | null;
  mailboxDepth = 0;

  readonly controller = new AbortController();
  private readonly started = deferred<StartResult>();
  private readonly ended = deferred<StopOutcome>();
  private readonly mailbox: Ref<Envelope>;
  private actorState: unknown;
  private initialized = false;
  private inflight: Promise<void> | undefined;
  private ending = false;
  private finalized = false;
  private exitRequest: ExitReason | undefined;
  private deadline: NodeJS.Timeout | undefined;
  private context: ActorContext<unknown> | undefined;
  private logger: Logger | undefined;

  constructor(
    readonly runtime: Runtime,
    readonly parent: Cell | undefined,
    private readonly options: CellOptions,
  ) {
    const { id, behaviour, replaces } = options;
    this.id = id;
    this.path = parent ? `${parent.path}/${id}` : id;
    this.ref = { uid: this.uid, path: this.path };
    this.kind = behaviour.kind ?? 'worker';
    this.shutdownMs =
      options.shutdownMs ?? (this.kind === 'supervisor' ? Infinity : DEFAULT_WORKER_SHUTDOWN_MS);
    this.state = replaces ? 'restarting' : 'starting';
    this.restartCount = replaces ? replaces.restartCount + 1 : 0;
    this.lastFailure = replaces?.lastFailure ?? null;
    // nact names allow few characters; the uid keeps them unique even beside an abandoned namesake.
    const name = `${id.replace(/[^a-z0-9\-_.]/gi, '_')}.${this.uid.toString(36)}`;
    // Every mailbox sits directly under the system: nact copies an actor's map of children for each message
    // it handles, so nested mailboxes would make each message to a supervisor cost time in its number of
    // children. The tree is ours (`children`), and a cell always stops its children before itself.
    this.mailbox = spawn(
      runtime.system,
      (_: undefined, envelope: Envelope) => this.receive(envelope).then(() => undefined),
      name,
    );
    register(this.uid, this);
  }

  // The message and state types were erased when the behaviour was handed to the parent.
  private get behaviour(): ActorBehaviour<unknown, unknown> {
    return this.options.behaviour;
  }

  get log(): Logger {
    return (this.logger ??= this.runtime.log.child({ actor: this.path }));
  }

  /** Runs `init` (as the first message, so messages sent meanwhile wait) and resolves when it is done. */
  start(): Promise<StartResult> {
    dispatch(this.mailbox, { kind: 'init' });
    return this.started.promise;
  }

  post(message: unknown): boolean {
    return this.enqueue({ kind: 'message', message });
  }

  /** Stops this actor for its parent; resolves when it has stopped or been abandoned. Idempotent. */
  stop(): Promise<StopOutcome> {
    this.end({ kind: 'shutdown' }, false);
    return this.ended.promise;
  }

  /** Asks this actor to end itself once its current callback returns (`ctx.stop`). */
  requestExit(exit: ExitReason): void {
    this.exitRequest ??= exit;
  }

  /** Creates a child (not yet started: call `start`), in the place of `options.replaces` if given. */
  createChild(options: CellOptions): Cell {
    if (this.ending) throw new ActorStoppedError(this.path);
    const child = new Cell(this.runtime, this, options);
    // Re-setting an existing key keeps its position, so a restarted child keeps its place in start order.
    this.children.set(child.id, child);
    return child;
  }

  /** Forgets an ended child; a newer incarnation under the same id is left alone. */
  removeChild(child: Cell): void {
    if (this.children.get(child.id) === child) this.children.delete(child.id);
  }

  /** Queues a child's end for `onChildExit`; supervisors also use it to retry a restart that failed. */
  deliverExit(exit: ChildExit): boolean {
    return this.enqueue({ kind: 'child_exit', exit });
  }

  private enqueue(envelope: Envelope): boolean {
    if (this.ending) return false;
    this.mailboxDepth += 1;
    dispatch(this.mailbox, envelope);
    return true;
  }

  private async receive(envelope: Envelope): Promise<void> {
    if (envelope.kind !== 'init') this.mailboxDepth = Math.max(0, this.mailboxDepth - 1);
    // A message still queued when its actor ends is lost, as in OTP; asks waiting on it fail at finalize.
    if (this.ending) return;
    this.inflight = this.run(envelope);
    await this.inflight;
    this.inflight = undefined;
    if (this.exitRequest) this.end(this.exitRequest, true);
  }

  private async run(envelope: Envelope): Promise<void> {
    const behaviour = this.behaviour;
    const ctx = this.ctx();
    try {
      switch (envelope.kind) {
        case 'init':
          this.actorState = await behaviour.init(ctx);
          this.initialized = true;
          if (!this.ending) this.state = 'running';
          this.started.resolve({ ok: true });
          return;
        case 'message':
          this.actorState = await behaviour.handle(envelope.message, this.actorState, ctx);
          return;
        case 'child_exit':
          if (behaviour.onChildExit) {
            this.actorState = await behaviour.onChildExit(envelope.exit, this.actorState, ctx);
          } else if (envelope.exit.exit.kind === 'crashed' || envelope.exit.exit.kind === 'failed') {
            throw new ChildFailedError(envelope.exit.id, envelope.exit.exit.reason);
          }
          return;
      }
    } catch (error) {
      this.crash(error);
    }
  }

  private crash(error: unknown): void {
    if (this.ending) {
      // Work cut short by the abort signal typically throws; while stopping that is not a new failure.
      this.log.debug('error while stopping', { err: error });
      return;
    }
    const reason = toFailure(error, this.path);
    this.log.error('actor crashed', { err: error });
    this.lastFailure = reason;
    // A failed init is reported to whoever started the actor, through the start result, not as an exit.
    this.end({ kind: 'crashed', reason }, this.initialized);
  }

  private end(exit: ExitReason, notifyParent: boolean): void {
    if (this.ending) return;
    this.ending = true;
    this.state = exit.kind === 'crashed' ? 'failed' : 'stopping';
    void this.windDownWithinTimeout(exit).then((finished) => {
      if (this.finalized) return; // an ancestor was abandoned meanwhile and killed this subtree
      if (finished) this.finalize(exit, 'stopped', notifyParent);
      else this.abandon(exit, notifyParent);
    });
  }

  private async windDown(exit: ExitReason): Promise<void> {
    if (this.behaviour.shutdownOrder === 'parallel') {
      await Promise.all([...this.children.values()].map((child) => child.stop()));
    } else {
      for (const child of [...this.children.values()].reverse()) await child.stop();
    }
    this.abort();
    await this.inflight;
    if (!this.initialized || !this.behaviour.terminate) return;
    try {
      await this.behaviour.terminate(this.actorState, exit, this.ctx());
    } catch (error) {
      this.log.warn('terminate threw', { err: error });
    }
  }

  private windDownWithinTimeout(exit: ExitReason): Promise<boolean> {
    const work = this.windDown(exit).then(() => true);
    if (!Number.isFinite(this.shutdownMs)) return work;
    return new Promise((resolve) => {
      this.deadline = startTimer(this.shutdownMs, () => resolve(false));
      void work.then((done) => {
        clearTimeout(this.deadline);
        resolve(done);
      });
    });
  }

  /** The actor overran its shutdown timeout while ending with `exit`. */
  private abandon(exit: ExitReason, notifyParent: boolean): void {
    const reason = toFailure(new ShutdownTimeoutError(this.path, this.shutdownMs), this.path);
    this.runtime.abandoned.push(this.path);
    this.log.warn('actor abandoned after its shutdown timeout', { timeoutMs: this.shutdownMs });
    for (const child of [...this.children.values()]) child.kill(reason);
    this.lastFailure = reason;
    // A parent-initiated stop ends as killed; an end the actor started keeps its own reason for the parent.
    this.finalize(notifyParent ? exit : { kind: 'killed', reason }, 'abandoned', notifyParent);
  }

  /** Ends this subtree at once, without waiting for anything: what abandoning an ancestor means. */
  private kill(reason: FailureInfo): void {
    for (const child of [...this.children.values()]) child.kill(reason);
    this.lastFailure = reason;
    this.finalize({ kind: 'killed', reason }, 'abandoned', false);
  }

  private finalize(exit: ExitReason, outcome: StopOutcome, notifyParent: boolean): void {
    if (this.finalized) return;
    this.finalized = true;
    this.ending = true;
    clearTimeout(this.deadline);
    this.state = outcome === 'abandoned' || exit.kind === 'crashed' ? 'failed' : 'stopped';
    this.mailboxDepth = 0;
    this.abort();
    stopNact(this.mailbox);
    unregister(this.uid);
    failAsks(
      this.uid,
      exit.kind === 'crashed'
        ? new ActorCrashedError(this.path, exit.reason)
        : new ActorStoppedError(this.path),
    );
    if (!this.options.retain) this.parent?.removeChild(this);
    const reason = 'reason' in exit ? exit.reason : toFailure(new ActorStoppedError(this.path), this.path);
    this.started.resolve({ ok: false, reason });
    this.ended.resolve(outcome);
    // The parent hears of the end before any onEnd listener can react to it (say, by reusing the slot).
    if (notifyParent) this.notifyParent(exit);
    try {
      this.options.onEnd?.(exit);
    } catch (error) {
      this.log.error('onEnd callback threw', { err: error });
    }
  }

  private abort(): void {
    if (!this.controller.signal.aborted) this.controller.abort(new ActorStoppedError(this.path));
  }

  private notifyParent(exit: ExitReason): void {
    if (!this.parent) return this.runtime.rootExited(exit);
    if (!this.parent.deliverExit({ id: this.id, ref: this.ref, exit })) {
      this.log.debug('exit not delivered: parent is ending', { exit: exit.kind });
    }
  }

  private ctx(): ActorContext<unknown> {
    return (this.context ??= createContext(this));
  }
}
