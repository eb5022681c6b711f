import type { Term } from '../etf';

/** One thing wrong with one field of a message. */
export interface RequestIssue {
  /** The top-level key, e.g. `milestones`; `(message)` when the message as a whole is wrong. */
  field: string;
  /** What is wrong, naming the position inside the field when it is nested, e.g. `/1 must be string`. */
  message: string;
}

/** A build request that cannot be processed; one error for the whole message, naming every bad field. */
export class InvalidRequestError extends Error {
  override readonly name = 'InvalidRequestError';

  constructor(
    readonly issues: readonly RequestIssue[],
    /** The term as received, so a failure reply can still echo it (see `readReplyRoute`). */
    readonly term: Term,
  ) {
    super(`invalid build request: ${issues.map((i) => `${i.field} ${i.message}`).join('; ')}`);
  }
}
