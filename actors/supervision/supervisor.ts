import type { ActorBehaviour, ActorContext, ChildSpec } from './behaviour';
import { ChildTable, type RestartPolicy } from './children';
import { cellOf } from './context';
import { ChildStartError } from './errors';
import { actorHealth } from './health';
import type { ActorHealth, ReplyTo } from './types';

/** Every supervisor answers `health` with its own subtree (the root: the whole tree). */
export type SupervisorMsg = { readonly type: 'health'; readonly replyTo: ReplyTo<ActorHealth> };

/** A static supervisor: the children, in start order, and how to restart them. */
export interface SupervisorOptions extends RestartPolicy {
  readonly children: readonly ChildSpec[];
}

/**
 * An OTP supervisor. `init` starts the children in order, each after the previous one's `init` finished;
 * if one fails, the ones already started are stopped in reverse order and the supervisor fails to start.
 * A child that ends on its own is restarted per its restart type and the strategy; more than `intensity`
 * restarts in `periodMs` and the supervisor stops every child in reverse order and crashes with
 * `RestartIntensityError`, so its parent decides. Per-workflow use: `strategy: 'one_for_all', intensity: 0`.
 */
export function supervisor(options: SupervisorOptions): ActorBehaviour<SupervisorMsg, ChildTable> {
  return {
    kind: 'supervisor',
    async init(ctx) {
      const table = new ChildTable(cellOf(ctx), options);
      for (const spec of options.children) {
        const { result } = await table.add(spec);
        if (!result.ok) throw new ChildStartError(spec.id, result.reason);
      }
      return table;
    },
    handle(msg, table, ctx) {
      answerHealth(msg, ctx);
      return table;
    },
    async onChildExit(exit, table) {
      await table.childExited(exit);
      return table;
    },
  };
}

export function answerHealth(msg: SupervisorMsg, ctx: ActorContext<never>): void {
  ctx.reply(msg.replyTo, actorHealth(cellOf(ctx)));
}
