import { ActorStoppedError, AskAbortedError, AskTimeoutError } from './errors';
import { countDeadLetter, lookup } from './registry';
import { startTimer } from './timers';
import type { ActorRef, ReplyTo } from './types';

interface PendingAsk {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

// Our own correlation instead of nact's `query`: its timeout is an untyped Error('Query Timeout') and it
// cannot tell the asker that the actor crashed. Asks are indexed by target so a crash fails them at once.
const pending = new Map<number, PendingAsk>();
const byTarget = new Map<number, Set<number>>();
let lastAskId = 0;

/** The members of a message union that ask for an answer: a `type` and a `replyTo`. */
export type AskMsg<Msg> = Extract<Msg, { readonly type: string; readonly replyTo: ReplyTo<never> }>;

/** What the caller of `ask` writes for the request of type `Type`: the message without its `replyTo`. */
export type AskRequest<Msg, Type> = Omit<Extract<AskMsg<Msg>, { readonly type: Type }>, 'replyTo'>;

/** The answer type of the request of type `Type` in `Msg`. */
export type ReplyOf<Msg, Type> =
  Extract<AskMsg<Msg>, { readonly type: Type }> extends { readonly replyTo: ReplyTo<infer Reply> }
    ? Reply
    : never;

/** Fire-and-forget. False when the actor has ended: the message is dropped and counted as a dead letter. */
export function send<Msg>(to: ActorRef<Msg>, msg: NoInfer<Msg>): boolean {
  const delivered = lookup(to.uid)?.post(msg) ?? false;
  if (!delivered) countDeadLetter();
  return delivered;
}

/**
 * Sends `request` with a fresh `replyTo` added and waits for the actor to `reply(msg.replyTo, value)`; the
 * reply type is the one of that request's `replyTo` in the actor's protocol. Rejects with
 * `AskTimeoutError` after `timeoutMs` milliseconds (`Infinity`: never), `AskAbortedError` when `signal`
 * fires, `ActorCrashedError` (with the reason) if the actor crashes first, `ActorStoppedError` if it is not
 * running or ends first.
 */
export function ask<Msg, Type extends AskMsg<Msg>['type']>(
  to: ActorRef<Msg>,
  request: { readonly type: Type } & NoInfer<AskRequest<Msg, Type>>,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<ReplyOf<Msg, Type>> {
  return new Promise<ReplyOf<Msg, Type>>((resolve, reject) => {
    if (signal?.aborted) return reject(new AskAbortedError(to.path));
    const askId = ++lastAskId;
    const timer = Number.isFinite(timeoutMs)
      ? startTimer(timeoutMs, () => entry.reject(new AskTimeoutError(to.path, timeoutMs)))
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
        resolve(value as ReplyOf<Msg, Type>);
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
    const msg = { ...request, replyTo: { askId } } as unknown as Msg;
    if (!send(to, msg)) entry.reject(new ActorStoppedError(to.path));
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
