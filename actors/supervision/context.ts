import type { ActorContext } from './behaviour';
import type { Cell } from './cell';
import { ChildStartError, DuplicateChildError } from './errors';
import { toFailure } from './failure';
import { reply } from './messaging';

// Supervisors are behaviours like any other, but they need the cell behind their context to manage
// children; this map is how they get it without widening the public context.
const owners = new WeakMap<object, Cell>();

/** The cell behind a context: for the supervisors of this package only. */
export function cellOf(ctx: ActorContext<never>): Cell {
  const cell = owners.get(ctx);
  if (!cell) throw new TypeError('not a context created by the supervision layer');
  return cell;
}

export function createContext(cell: Cell): ActorContext<unknown> {
  const ctx: ActorContext<unknown> = {
    id: cell.id,
    path: cell.path,
    self: cell.ref,
    parent: cell.parent?.ref,
    signal: cell.controller.signal,
    get log() {
      return cell.log;
    },
    reply,
    async spawnChild(id, behaviour, options) {
      if (cell.children.has(id)) throw new DuplicateChildError(id);
      const child = cell.createChild({ id, behaviour, shutdownMs: options?.shutdownMs });
      const result = await child.start();
      if (!result.ok) throw new ChildStartError(id, result.reason);
      return child.ref;
    },
    stopChild(ref) {
      const child = [...cell.children.values()].find((c) => c.uid === ref.uid);
      return child ? child.stop() : Promise.resolve('stopped');
    },
    stop(failure?: unknown) {
      cell.requestExit(
        failure === undefined
          ? { kind: 'normal' }
          : { kind: 'failed', reason: toFailure(failure, cell.path) },
      );
    },
  };
  owners.set(ctx, cell);
  return ctx;
}
