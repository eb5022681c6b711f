import { defineActor, type ActorBehaviour, type ActorContext } from './behaviour';
import { ask } from './messaging';
import type { ActorRef, ReplyTo } from './types';

/** The one message of a step actor: run the step on `input` and reply with its output. */
export type StepMsg<Input, Output> = {
  readonly type: 'run';
  readonly input: Input;
  readonly replyTo: ReplyTo<Output>;
};

/**
 * An actor around one async step function (checkout, render, docker, report): "actors decide, adapters do".
 * The function gets the actor's context: pass `ctx.signal` to the adapter. A throw or rejection crashes the
 * actor, so the caller's `runStep` rejects with `ActorCrashedError` and the parent gets `crashed`.
 */
export function defineStep<Input, Output>(
  run: (input: Input, ctx: ActorContext<StepMsg<Input, Output>>) => Promise<Output>,
): ActorBehaviour<StepMsg<Input, Output>, void> {
  return defineActor<StepMsg<Input, Output>>({
    init: () => undefined,
    async handle(msg, _state, ctx) {
      ctx.reply(msg.replyTo, await run(msg.input, ctx));
    },
  });
}

/**
 * Runs the step and resolves with its output. Rejects with `ActorCrashedError` (the step threw; `reason`
 * says what), `ActorStoppedError`, `AskTimeoutError` after `timeoutMs` milliseconds, or `AskAbortedError`
 * when `signal` fires.
 */
export function runStep<Input, Output>(
  step: ActorRef<StepMsg<Input, Output>>,
  input: Input,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Output> {
  return ask(step, { type: 'run', input }, timeoutMs, signal);
}
