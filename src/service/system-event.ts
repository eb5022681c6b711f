import type { SystemEvent } from '../manager';

/** The replica an event comes from. */
export interface EventOrigin {
  readonly hostname: string;
  readonly exchangeId: string;
}

/**
 * The `unhandled_exception` event the original builder raised (protocol §3.4.7), unique as there, with `data`
 * naming what makes it distinct: the Manager refuses a unique event whose type and data equal those of one
 * stored within the last hour, and never compares messages, so data naming only the replica (as the
 * original's did) lost every event after the first in an hour. A true repeat, the same workflow failing for the
 * same reason again, is still refused.
 */
export function unhandledException(
  origin: EventOrigin,
  workflowId: string,
  reason: string,
  message: string,
): SystemEvent {
  return {
    unique: true,
    type: 'unhandled_exception',
    severity: 'error',
    message,
    data: {
      component: 'builder',
      exchange_id: origin.exchangeId,
      hostname: origin.hostname,
      workflow_id: workflowId,
      reason,
    },
  };
}
