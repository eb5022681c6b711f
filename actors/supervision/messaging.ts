import { ActorStoppedError, AskAbortedError, AskTimeoutError } from './errors';
import { countDeadLetter, lookup } from './registry';
import type { ActorRef, ReplyTo } from './types';

// setTimeout fires at once for delays beyond 2^31-1 ms, which would turn a long timeout into none.
const MAX_TIMER_MS = 2_147_483_647;

interface PendingAsk {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

// Our own correlation instead of nact's `query`: its timeout is an untyped Error('Query Timeout') and it
// cannot tell the asker that the actor crashed. Asks are indexed by target so a crash fails them at once.
const pending = new Map<number, PendingAsk>();
const byTarget = new Map<number, Set<number>>();
let lastAskId = 0;

/** Fire-and-forget. False when the actor has ended: the message is dropped and counted as a dead letter. */
export function send<Msg>(to: ActorRef<Msg>, msg: Msg): boolean {
  const delivered = lookup(to.uid)?.post(msg) ?? false;
  if (!delivered) countDeadLetter();
  return delivered;
}

/**
 * Sends `request(replyTo)` and waits for the actor to `reply(replyTo, value)`. Rejects with
 * `AskTimeoutError` after `timeoutMs` milliseconds (`Infinity`: never), `AskAbortedError` when `signal`
 * fires, `ActorCrashedError` (with the reason) if the actor crashes first, `ActorStoppedError` if it is not
 * running or ends first.
 */
export function ask<Msg, Reply>(
  to: ActorRef<Msg>,
  request: (replyTo: ReplyTo<Reply>) => Msg,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Reply> {
  return new Promise<Reply>((resolve, reject) => {
    if (signal?.aborted) return reject(new AskAbortedError(to.path));
    const askId = ++lastAskId;
    const timer = Number.isFinite(timeoutMs)
      ? setTimeout(() => entry.reject(new AskTimeoutError(to.path, timeoutMs)), Math.min(timeoutMs, MAX_TIMER_MS))
      : undefined;
    const onAbort = (): void => entry.reject(new AskAbortedError(to.path));
    const settle = (): void => {
      pending.delete(askId);
      forgetTarget(to.uid, askId);
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const entry: PendingAsk = {
      resolve: (value) => {
        settle();
        resolve(value as Reply);
      },
      reject: (error) => {
        settle();
        reject(error);
      },
    };
    pending.set(askId, entry);
    let asks = byTarget.get(to.uid);
    if (!asks) byTarget.set(to.uid, (asks = new Set()));
    asks.add(askId);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (!send(to, request({ askId }))) entry.reject(new ActorStoppedError(to.path));
  });
}

/** Answers an ask. False when nobody waits any more (timed out, aborted, or answered already). */
export function reply<Reply>(to: ReplyTo<Reply>, value: Reply): boolean {
  const entry = pending.get(to.askId);
  entry?.resolve(value);
  return entry !== undefined;
}

/** Rejects every ask still waiting on the actor `uid`, which has just ended. */
export function failAsks(uid: number, error: Error): void {
  const asks = byTarget.get(uid);
  if (!asks) return;
  for (const askId of [...asks]) pending.get(askId)?.reject(error);
  byTarget.delete(uid);
}

function forgetTarget(uid: number, askId: number): void {
  const asks = byTarget.get(uid);
  asks?.delete(askId);
  if (asks?.size === 0) byTarget.delete(uid);
}
