import { start, stop, type Ref } from 'nact';
import type { Logger } from '../../src/log';
import type { ExitReason } from './types';

/**
 * What the actors of one tree share: the nact system their mailboxes live in, the logger, and the record of
 * abandoned actors. One per `startApp` (or per test tree).
 */
export class Runtime {
  readonly system: Ref<never> = start();
  /** Paths of actors abandoned after their shutdown timeout, oldest first. */
  readonly abandoned: string[] = [];

  constructor(
    readonly log: Logger,
    private readonly onRootExit: (exit: ExitReason) => void,
  ) {}

  /** The root ended on its own (it crashed or gave up): nobody above it can restart it. */
  rootExited(exit: ExitReason): void {
    try {
      this.onRootExit(exit);
    } catch (error) {
      this.log.error('root exit callback threw', { err: error });
    }
  }

  /** Stops the nact system; call after the root has stopped. */
  close(): void {
    stop(this.system);
  }
}
