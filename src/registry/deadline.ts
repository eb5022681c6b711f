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
  const timeout = AbortSignal.timeout(ms);
  try {
    return await work(AbortSignal.any([caller, timeout]));
  } catch (err) {
    caller.throwIfAborted();
    if (timeout.aborted) throw onTimeout();
    throw err;
  }
}
