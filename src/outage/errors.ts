/** What the builder depends on, as messages and the `/metrics` label name it. */
export type Dependency = 'git server' | 'registry' | 'Manager' | 'broker' | 'docker engine';

/** Milliseconds as seconds to a tenth, as messages show waits: `4`, `0.6`, `61.2`. */
export function seconds(ms: number): string {
  return String(Math.round(ms / 100) / 10);
}

/** A dependency stayed unavailable for longer than the outage budget (or the step's remaining time). */
export class OutageError extends Error {
  override readonly name = 'OutageError';
  /** `registry unavailable for 61.2 s (7 attempts)`. */
  readonly summary: string;
  constructor(
    readonly dependency: Dependency,
    /** From the start of the first failed attempt to giving up, in milliseconds. */
    readonly waitedMs: number,
    readonly attempts: number,
    /** What the last attempt met. */
    readonly last: unknown,
  ) {
    const summary = `${dependency} unavailable for ${seconds(waitedMs)} s (${attempts} attempts)`;
    super(`${summary}, giving up: ${last instanceof Error ? last.message : String(last)}`, { cause: last });
    this.summary = summary;
  }
}
