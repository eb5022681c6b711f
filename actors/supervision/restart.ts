import type { ExitReason, RestartType } from './types';

/**
 * OTP's rule: `permanent` children always come back, `transient` ones only after a crash (an end they chose,
 * `normal` or `failed`, is final), `temporary` ones never. Parent-initiated stops never reach this question.
 */
export function shouldRestart(restart: RestartType, exit: ExitReason): boolean {
  switch (restart) {
    case 'permanent':
      return true;
    case 'transient':
      return exit.kind === 'crashed' || exit.kind === 'killed';
    case 'temporary':
      return false;
  }
}

/**
 * Restart intensity: at most `intensity` restarts within any `periodMs` window. One more and the supervisor
 * gives up, so a child that keeps crashing ends in an escalation instead of a restart loop.
 */
export class RestartWindow {
  private readonly times: number[] = [];

  constructor(
    private readonly intensity: number,
    private readonly periodMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Records one restart; false when it exceeds the intensity. */
  admit(): boolean {
    const now = this.now();
    while (this.times.length > 0 && (this.times[0] ?? now) <= now - this.periodMs) this.times.shift();
    this.times.push(now);
    return this.times.length <= this.intensity;
  }
}
