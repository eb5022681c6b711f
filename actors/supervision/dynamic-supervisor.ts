import type { ActorBehaviour } from './behaviour';
import { ChildTable, type RestartPolicy } from './children';
import { cellOf } from './context';
import { ChildStartError, DuplicateChildError, MaxChildrenError } from './errors';
import { ask } from './messaging';
import { answerHealth, type SupervisorMsg } from './supervisor';
import type { ActorRef, ExitReason, FailureInfo, ReplyTo, RestartType, StopOutcome } from './types';

/** How one child of a dynamic supervisor ended, as given to `onChildExit`. */
export interface ChildReport {
  readonly id: string;
  readonly exit: ExitReason;
}

/** Plain-data answer to `start_child`; `startChild` turns the failures into typed errors. */
export type StartChildReply<Msg> =
  | { readonly ok: true; readonly ref: ActorRef<Msg> }
  | { readonly ok: false; readonly error: 'duplicate_child' }
  | { readonly ok: false; readonly error: 'max_children'; readonly limit: number }
  | { readonly ok: false; readonly error: 'child_start_failed'; readonly reason: FailureInfo };

export type DynamicSupervisorMsg<Args, Msg> =
  | {
      readonly type: 'start_child';
      readonly id: string;
      readonly args: Args;
      readonly replyTo: ReplyTo<StartChildReply<Msg>>;
    }
  | {
      readonly type: 'terminate_child';
      readonly id: string;
      readonly replyTo: ReplyTo<StopOutcome | 'not_found'>;
    }
  | SupervisorMsg;

/** A supervisor whose children are started on demand from one template (OTP's `simple_one_for_one`). */
export interface DynamicSupervisorOptions<Args, Msg> extends Omit<RestartPolicy, 'strategy'> {
  /** The start function: a fresh behaviour for child `id` from the plain-data `args` of `start_child`. */
  readonly start: (id: string, args: Args) => ActorBehaviour<Msg, unknown>;
  /** Restart type of every child. Default `temporary`: a child that ends is reported, never restarted. */
  readonly restart?: RestartType;
  /** Shutdown timeout of every child, in milliseconds (see `SpawnOptions.shutdownMs`). Default 5000. */
  readonly shutdownMs?: number;
  /** Children alive at once; `start_child` beyond it answers `max_children`. Default `Infinity`. */
  readonly maxChildren?: number;
  /**
   * Called once for every child end, whatever ended it: `normal`/`failed`/`crashed` on its own,
   * `shutdown` by `terminate_child` or the supervisor stopping, `killed` when abandoned. It runs where the
   * child ended, synchronously: keep it short; a throw is logged and ignored. Default: none.
   */
  readonly onChildExit?: (report: ChildReport) => void;
}

/**
 * A dynamic supervisor: one_for_one over children started by `start_child`, stopped all at once (not one
 * by one) when it stops. A child holds its slot and its id until the supervisor has processed its end.
 */
export function dynamicSupervisor<Args, Msg>(
  options: DynamicSupervisorOptions<Args, Msg>,
): ActorBehaviour<DynamicSupervisorMsg<Args, Msg>, ChildTable> {
  const maxChildren = options.maxChildren ?? Infinity;
  const report = options.onChildExit;
  return {
    kind: 'supervisor',
    shutdownOrder: 'parallel',
    init: (ctx) => new ChildTable(cellOf(ctx), options, report && ((id, exit) => report({ id, exit }))),
    async handle(msg, table, ctx) {
      switch (msg.type) {
        case 'start_child': {
          if (table.has(msg.id)) ctx.reply(msg.replyTo, { ok: false, error: 'duplicate_child' });
          else if (table.size >= maxChildren) {
            ctx.reply(msg.replyTo, { ok: false, error: 'max_children', limit: maxChildren });
          } else ctx.reply(msg.replyTo, await startOne(table, msg.id, msg.args));
          return table;
        }
        case 'terminate_child':
          ctx.reply(msg.replyTo, (await table.remove(msg.id)) ?? 'not_found');
          return table;
        case 'health':
          answerHealth(msg, ctx);
          return table;
      }
    },
    async onChildExit(exit, table) {
      await table.childExited(exit);
      return table;
    },
  };

  async function startOne(table: ChildTable, id: string, args: Args): Promise<StartChildReply<Msg>> {
    const { ref, result } = await table.add({
      id,
      start: () => options.start(id, args),
      restart: options.restart ?? 'temporary',
      ...(options.shutdownMs === undefined ? {} : { shutdownMs: options.shutdownMs }),
    });
    return result.ok ? { ok: true, ref } : { ok: false, error: 'child_start_failed', reason: result.reason };
  }
}

/**
 * Starts child `id` under a dynamic supervisor and resolves with its ref once its `init` is done. Rejects
 * with `DuplicateChildError`, `MaxChildrenError`, `ChildStartError`, or the `ask` errors (timeout after
 * `timeoutMs` milliseconds, supervisor stopped or crashed).
 */
export async function startChild<Args, Msg>(
  supervisor: ActorRef<DynamicSupervisorMsg<Args, Msg>>,
  id: string,
  args: Args,
  timeoutMs: number,
): Promise<ActorRef<Msg>> {
  const answer = await ask(supervisor, { type: 'start_child', id, args }, timeoutMs);
  if (answer.ok) return answer.ref;
  switch (answer.error) {
    case 'duplicate_child':
      throw new DuplicateChildError(id);
    case 'max_children':
      throw new MaxChildrenError(answer.limit);
    case 'child_start_failed':
      throw new ChildStartError(id, answer.reason);
  }
}

/** Stops child `id` and forgets it; `not_found` when there is no such child. */
export function terminateChild<Args, Msg>(
  supervisor: ActorRef<DynamicSupervisorMsg<Args, Msg>>,
  id: string,
  timeoutMs: number,
): Promise<StopOutcome | 'not_found'> {
  return ask(supervisor, { type: 'terminate_child', id }, timeoutMs);
}
