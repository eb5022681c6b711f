// setTimeout fires at once for delays beyond 2^31-1 ms, which would turn a long timeout into none.
const MAX_TIMER_MS = 2_147_483_647;

/** `setTimeout` for a finite delay in milliseconds, clamped so that a long delay never fires at once. */
export function startTimer(delayMs: number, fire: () => void): NodeJS.Timeout {
  return setTimeout(fire, Math.min(delayMs, MAX_TIMER_MS));
}
