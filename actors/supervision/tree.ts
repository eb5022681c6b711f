import { nopLogger, type Logger } from '../../src/log';
import type { ActorBehaviour } from './behaviour';
import { Cell } from './cell';
import { ChildStartError } from './errors';
import { healthTree } from './health';
import { Runtime } from './runtime';
import type { ActorRef, ExitReason, HealthTree, StopOutcome } from './types';

/** Options of `startTree`. */
export interface TreeOptions {
  /** Id (and path) of the root actor. Default `root`. */
  readonly id?: string;
  /** Logger every actor's lines go to, with `{ actor: path }`. Default `nopLogger`. */
  readonly log?: Logger;
  /** Shutdown timeout of the root, in milliseconds. Default 5000 for a worker, `Infinity` for a supervisor. */
  readonly shutdownMs?: number;
  /**
   * Called when the root ends on its own: it crashed, gave up after too many restarts, or chose to end.
   * Nothing above it can restart it; the owner decides (the service exits). Default: none (it is logged).
   */
  readonly onExit?: (exit: ExitReason) => void;
}

/** What `stop` found. */
export interface ShutdownReport {
  /** `abandoned` when the root itself overran its shutdown timeout. */
  readonly outcome: StopOutcome;
  /** Paths of every actor abandoned during the tree's life, shutdown included. */
  readonly abandoned: readonly string[];
}

/** A running actor tree. */
export interface Tree<Msg> {
  readonly root: ActorRef<Msg>;
  /** The whole tree as plain data, read without going through any mailbox. */
  health(): HealthTree;
  /** The live child at `ids` below the root (e.g. `child('workflows')`), or undefined. */
  child(...ids: string[]): ActorRef<unknown> | undefined;
  /** Stops the tree: children in reverse start order, each within its shutdown timeout. Idempotent. */
  stop(): Promise<ShutdownReport>;
}

/**
 * Starts a root actor (usually a supervisor) on a fresh nact system and resolves once its `init` is done.
 * Rejects with `ChildStartError` if the root failed to start; nothing is left running then.
 */
export async function startTree<Msg, State>(
  behaviour: ActorBehaviour<Msg, State>,
  options: TreeOptions = {},
): Promise<Tree<Msg>> {
  const log = options.log ?? nopLogger;
  const runtime = new Runtime(log, (exit) => {
    log.error('root actor ended', { exit });
    options.onExit?.(exit);
  });
  const id = options.id ?? 'root';
  const root = new Cell(runtime, undefined, { id, behaviour, shutdownMs: options.shutdownMs });
  const started = await root.start();
  if (!started.ok) {
    runtime.close();
    throw new ChildStartError(id, started.reason);
  }
  let stopping: Promise<ShutdownReport> | undefined;
  return {
    root: root.ref,
    health: () => healthTree(root),
    child: (...ids) =>
      ids.reduce<Cell | undefined>((cell, childId) => cell?.children.get(childId), root)?.ref,
    stop: () =>
      (stopping ??= root.stop().then((outcome) => {
        runtime.close();
        return { outcome, abandoned: [...runtime.abandoned] };
      })),
  };
}
