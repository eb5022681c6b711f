import type { Logger } from '../log';

interface Slot<V> {
  value: V;
  loadedAt: number;
}

/**
 * Manager lookups kept for `ttlMs` (300 s in the Elixir resolvers), loaded once for concurrent askers. When a
 * reload fails, the last good value is served and the failure logged: a broker must stay reachable while the
 * Manager is briefly down, and without any value the failure is thrown.
 */
export class LookupCache<V> {
  private readonly slots = new Map<string, Slot<V>>();
  private readonly loading = new Map<string, Promise<V>>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number,
    private readonly log: Logger,
  ) {}

  get(key: string, load: () => Promise<V>): Promise<V> {
    const slot = this.slots.get(key);
    if (slot && this.now() - slot.loadedAt < this.ttlMs) return Promise.resolve(slot.value);
    const pending = this.loading.get(key);
    if (pending) return pending;
    const fresh = this.reload(key, load, slot).finally(() => this.loading.delete(key));
    this.loading.set(key, fresh);
    return fresh;
  }

  private async reload(key: string, load: () => Promise<V>, stale: Slot<V> | undefined): Promise<V> {
    try {
      const value = await load();
      this.slots.set(key, { value, loadedAt: this.now() });
      return value;
    } catch (err) {
      if (!stale) throw err;
      this.log.warn('Manager lookup failed, using the last known answer', { lookup: key, err });
      return stale.value;
    }
  }
}
