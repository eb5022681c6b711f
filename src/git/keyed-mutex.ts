import { raceAbort } from './abort';

/**
 * Runs tasks one at a time per key, in arrival order; tasks under different keys run concurrently.
 * Each key keeps only the tail of its queue, a promise that settles when the last queued task is done.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  /**
   * Runs `task` once every earlier task for `key` has finished. If `signal` aborts while waiting, rejects
   * with its reason without running `task`, and later tasks still wait for the earlier ones.
   */
  async run<T>(key: string, signal: AbortSignal, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key);
    let release = (): void => undefined;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = (previous ?? Promise.resolve()).then(() => mine);
    this.tails.set(key, tail);
    let acquired = false;
    try {
      await raceAbort(previous ?? Promise.resolve(), signal);
      acquired = true;
      return await task();
    } finally {
      release();
      if (this.tails.get(key) === tail) {
        // A waiter that gave up hands the queue back to the task still running before it.
        if (acquired || previous === undefined) this.tails.delete(key);
        else this.tails.set(key, previous);
      }
    }
  }
}
