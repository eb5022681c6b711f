import type { FailureInfo } from './types';

/** What the registry needs of a live actor to deliver a message to it. */
export interface Mailbox {
  /** Queues a message; false when the actor no longer takes messages. */
  post(message: unknown): boolean;
}

// Process-wide, as nact's own system map is: a ref is a uid, and the uid finds the live incarnation.
const live = new Map<number, Mailbox>();
let lastUid = 0;

const counters = { deadLetters: 0, processFailures: 0, lastProcessFailure: null as FailureInfo | null };

export function nextUid(): number {
  return ++lastUid;
}

export function register(uid: number, mailbox: Mailbox): void {
  live.set(uid, mailbox);
}

export function unregister(uid: number): void {
  live.delete(uid);
}

export function lookup(uid: number): Mailbox | undefined {
  return live.get(uid);
}

/** A message went to an actor that had ended: dropped, as OTP and nact drop it, but counted for health. */
export function countDeadLetter(): void {
  counters.deadLetters += 1;
}

/** Records a failure that happened outside any actor (see `installProcessGuard`); health shows it. */
export function recordProcessFailure(failure: FailureInfo): void {
  counters.processFailures += 1;
  counters.lastProcessFailure = failure;
}

export function processCounters(): Readonly<typeof counters> {
  return { ...counters };
}
