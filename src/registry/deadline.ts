/**
 * A signal that aborts when the caller's does (with its reason) or after `ms` milliseconds (with a
 * `TimeoutError`, as `AbortSignal.timeout`'s), until `dispose()` disarms it: the timer is cleared and the
 * listener on the caller's signal removed. `AbortSignal.timeout` with `AbortSignal.any` stays armed after the
 * work is done: when its timer fires, long after, it runs every abort handler that the finished work left on
 * the signal (fetch leaves one per request, which then aborts a response already read), and the caller's
 * signal keeps a dependent for each call until it is collected.
 */
export class Deadline {
  readonly signal: AbortSignal;
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly onCallerAbort: () => void;
  private timedOut = false;

  constructor(
    private readonly caller: AbortSignal | undefined,
    ms: number,
  ) {
    this.signal = this.controller.signal;
    this.onCallerAbort = () => this.controller.abort(caller?.reason);
    if (caller?.aborted) this.onCallerAbort();
    else caller?.addEventListener('abort', this.onCallerAbort, { once: true });
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
    }, ms);
    // Like AbortSignal.timeout's: a deadline alone does not keep the process alive.
    this.timer.unref();
  }

  /** Whether the time ran out (before `dispose`). */
  get expired(): boolean {
    return this.timedOut;
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.caller?.removeEventListener('abort', this.onCallerAbort);
  }
}

/**
 * Runs `work` with a signal that ends when the caller aborts or after `ms` milliseconds, whichever comes
 * first. A failure caused by the caller's abort is rethrown as the caller's abort reason, one caused by the
 * deadline as `onTimeout()`, so callers see why the work stopped rather than the socket error the abort
 * produced.
 */
export async function withDeadline<T>(
  caller: AbortSignal,
  ms: number,
  onTimeout: () => Error,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  caller.throwIfAborted();
  const deadline = new Deadline(caller, ms);
  try {
    return await work(deadline.signal);
  } catch (err) {
    caller.throwIfAborted();
    if (deadline.expired) throw onTimeout();
    throw err;
  } finally {
    deadline.dispose();
  }
}
