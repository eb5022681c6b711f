import type { AnyBehaviour, ChildSpec } from './behaviour';
import type { Cell, StartResult } from './cell';
import { DuplicateChildError, RestartIntensityError } from './errors';
import { RestartWindow, shouldRestart } from './restart';
import type { ActorRef, ChildExit, ExitReason, FailureInfo, Strategy } from './types';

/** Restart policy of one supervisor. */
export interface RestartPolicy {
  /** Default `one_for_one`. */
  readonly strategy?: Strategy;
  /** Restarts allowed within `periodMs` before the supervisor gives up. Default 3, as in Elixir. */
  readonly intensity?: number;
  /** Length of the intensity window, in milliseconds. Default 5000, as in Elixir. */
  readonly periodMs?: number;
}

interface Entry {
  readonly spec: ChildSpec;
  /** The current incarnation, possibly ended and waiting for a decision. */
  cell: Cell;
}

/**
 * The supervisor's half of OTP: the child table, ordered start, restarts by strategy and restart intensity.
 * It runs inside a supervisor's callbacks, so everything here happens one message at a time.
 */
export class ChildTable {
  // Insertion order is start order, and replacing an entry's cell keeps its place.
  private readonly entries = new Map<string, Entry>();
  private readonly window: RestartWindow;
  private readonly strategy: Strategy;
  private readonly intensity: number;
  private readonly periodMs: number;

  constructor(
    private readonly self: Cell,
    policy: RestartPolicy,
    private readonly onEnd?: (id: string, exit: ExitReason) => void,
  ) {
    this.strategy = policy.strategy ?? 'one_for_one';
    this.intensity = policy.intensity ?? 3;
    this.periodMs = policy.periodMs ?? 5000;
    this.window = new RestartWindow(this.intensity, this.periodMs);
  }

  get size(): number {
    return this.entries.size;
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  /** Starts a child after the existing ones. A child whose `init` failed is not kept. */
  async add(spec: ChildSpec): Promise<{ readonly ref: ActorRef<unknown>; readonly result: StartResult }> {
    if (this.entries.has(spec.id)) throw new DuplicateChildError(spec.id);
    const entry: Entry = { spec, cell: this.spawn(spec, undefined) };
    this.entries.set(spec.id, entry);
    const result = await entry.cell.start();
    if (!result.ok) this.delete(entry);
    return { ref: entry.cell.ref, result };
  }

  /** Stops one child and forgets it. Undefined when there is no such child. */
  async remove(id: string): Promise<'stopped' | 'abandoned' | undefined> {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    const outcome = await entry.cell.stop();
    this.delete(entry);
    return outcome;
  }

  /**
   * A child ended on its own: restart it (and its group) per restart type and strategy, or forget it.
   * Throws `RestartIntensityError` when one restart too many happened in the period: the supervisor crashes
   * and its own parent decides.
   */
  async childExited({ id, ref, exit }: ChildExit): Promise<void> {
    const entry = this.entries.get(id);
    // An exit from an incarnation already replaced or stopped by this supervisor needs nothing more.
    if (entry?.cell.uid !== ref.uid) return;
    if (!shouldRestart(entry.spec.restart ?? 'permanent', exit)) {
      if (entry.spec.restart === 'temporary') this.delete(entry);
      return;
    }
    if (!this.window.admit()) {
      throw new RestartIntensityError(this.intensity, this.periodMs, this.reasonOf(entry, exit));
    }
    await this.restart(entry);
  }

  private async restart(failed: Entry): Promise<void> {
    const group = this.groupOf(failed);
    for (const entry of [...group].reverse()) if (entry !== failed) await entry.cell.stop();
    for (const entry of group) {
      // OTP never restarts a temporary child, not even with its group.
      if (entry !== failed && entry.spec.restart === 'temporary') {
        this.delete(entry);
        continue;
      }
      entry.cell = this.spawn(entry.spec, entry.cell);
      const result = await entry.cell.start();
      if (!result.ok) {
        // Retried as if the new incarnation had crashed: through the mailbox, so timers and I/O run between
        // attempts (nact's own `reset` retries in a microtask loop), and counted against the intensity.
        this.self.deliverExit({
          id: entry.spec.id,
          ref: entry.cell.ref,
          exit: { kind: 'crashed', reason: result.reason },
        });
        return;
      }
    }
  }

  private groupOf(failed: Entry): Entry[] {
    const all = [...this.entries.values()];
    switch (this.strategy) {
      case 'one_for_one':
        return [failed];
      case 'one_for_all':
        return all;
      case 'rest_for_one':
        return all.slice(all.indexOf(failed));
    }
  }

  private spawn(spec: ChildSpec, replaces: Cell | undefined): Cell {
    return this.self.createChild({
      id: spec.id,
      behaviour: behaviourOf(spec),
      shutdownMs: spec.shutdownMs,
      retain: true,
      replaces,
      onEnd: this.onEnd && ((exit) => this.onEnd?.(spec.id, exit)),
    });
  }

  private delete(entry: Entry): void {
    if (this.entries.get(entry.spec.id) === entry) this.entries.delete(entry.spec.id);
    this.self.removeChild(entry.cell);
  }

  private reasonOf(entry: Entry, exit: ExitReason): FailureInfo {
    if ('reason' in exit) return exit.reason;
    const { path } = entry.cell;
    return {
      name: 'ChildExited',
      message: `${path} exited (${exit.kind})`,
      path,
      at: new Date().toISOString(),
    };
  }
}

/** A start function that throws is a failed start, retried and counted like a failed `init`. */
function behaviourOf(spec: ChildSpec): AnyBehaviour {
  try {
    return spec.start();
  } catch (error) {
    return {
      init: () => {
        throw error;
      },
      handle: (_msg, state) => state,
    };
  }
}
