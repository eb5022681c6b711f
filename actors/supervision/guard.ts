import type { Logger } from '../../src/log';
import { toFailure } from './failure';
import { recordProcessFailure } from './registry';
import type { FailureInfo } from './types';

/** Options of `installProcessGuard`. */
export interface ProcessGuardOptions {
  /** Where each caught rejection is logged, at `error`, with the original reason and its stack. */
  readonly log: Logger;
  /** Called after a rejection was logged and recorded. Default: none. A throw here is logged. */
  readonly onFailure?: (failure: FailureInfo) => void;
  /** The emitter to guard. Default `process`; tests pass their own. */
  readonly target?: Pick<NodeJS.EventEmitter, 'on' | 'off'>;
}

/**
 * Catches promise rejections that nobody handled, anywhere in the process, so that one forgotten `await`
 * (or one of nact's own, see docs/architecture.md) cannot end the service. For each one it:
 * 1. turns the reason into a `FailureInfo` with path `process`;
 * 2. logs it at `error` with the original reason (stack included);
 * 3. records it where health reads it (`HealthTree.processFailures`: count and last failure);
 * 4. calls `onFailure`.
 * Installing it replaces Node's default for unhandled rejections (print and exit with code 1): the process
 * keeps running. Uncaught synchronous exceptions are deliberately left alone: after one, Node's state is
 * unknown and exiting is right. Returns a function that removes the guard.
 */
export function installProcessGuard(options: ProcessGuardOptions): () => void {
  const target = options.target ?? process;
  const listener = (reason: unknown): void => {
    const failure = toFailure(reason, 'process');
    options.log.error('unhandled promise rejection', { err: reason, failure });
    recordProcessFailure(failure);
    try {
      options.onFailure?.(failure);
    } catch (error) {
      options.log.error('process guard onFailure threw', { err: error });
    }
  };
  target.on('unhandledRejection', listener);
  return () => {
    target.off('unhandledRejection', listener);
  };
}
