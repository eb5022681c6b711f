import { types } from 'node:util';

/**
 * Settles like `promise`, or rejects with the signal's reason as soon as `signal` aborts, so a library that
 * ignores the signal in some phase cannot keep the caller waiting. A later rejection of the abandoned
 * promise is swallowed: nobody is listening for it any more. Rejections of `promise` pass on untouched,
 * so system errors keep the `code` that callers map to typed errors.
 */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  promise.catch(() => undefined);
  if (signal.aborted) return Promise.reject(abortReason(signal));
  let onAbort = (): void => undefined;
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([promise, aborted]).finally(() => signal.removeEventListener('abort', onAbort));
}

/** The signal's reason as an Error (an `AbortError` DOMException unless the aborter gave an Error). */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  // isNativeError also recognises errors from another realm, such as a test sandbox.
  return reason instanceof Error || types.isNativeError(reason)
    ? reason
    : new DOMException('The operation was aborted', 'AbortError');
}
