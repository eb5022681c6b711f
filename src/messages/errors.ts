import type { Term } from '../etf';

/** One thing wrong with one field of a message. */
export interface RequestIssue {
  /** The top-level key, e.g. `milestones`; `(message)` when the message as a whole is wrong. */
  field: string;
  /** What is wrong, naming the position inside the field when it is nested, e.g. `/1 must be string`. */
  message: string;
}

/** Issues named in the message; a list of 100 000 wrong elements would otherwise make a reason of megabytes. */
export const MAX_NAMED_ISSUES = 10;

/**
 * A build request that cannot be processed; one error for the whole message, naming every bad field (up to
 * {@link MAX_NAMED_ISSUES} issues, then how many more there are; `issues` holds them all).
 */
export class InvalidRequestError extends Error {
  override readonly name = 'InvalidRequestError';

  constructor(
    readonly issues: readonly RequestIssue[],
    /** The term as received, so a failure reply can still echo it (see `readReplyRoute`). */
    readonly term: Term,
  ) {
    const named = issues.slice(0, MAX_NAMED_ISSUES).map((i) => `${i.field} ${i.message}`);
    const more = issues.length - named.length;
    super(`invalid build request: ${named.join('; ')}${more > 0 ? `; and ${more} more issue(s)` : ''}`);
  }
}
