import { defineActor, send, type ActorBehaviour } from './supervision';

export type HeartbeatMsg = { readonly type: 'beat' };

export interface HeartbeatOptions {
  /** HEARTBEAT_SECONDS, in ms; the first beat goes out one interval after start, as the Overseer API's. */
  readonly intervalMs: number;
  /** Publishes one status event; its failures are logged by the caller, never thrown. */
  readonly beat: (status: 'active' | 'inactive') => Promise<void>;
}

/**
 * The `heartbeat` child of the app: the Overseer status event every interval while the builder runs, and a last
 * one saying `inactive` when it stops. It stops after the workflows (stop order is the reverse of start order),
 * so the last beat goes out once the drain is over. A message it does not know is a bug: it crashes, without
 * that last beat, and its supervisor restarts it with a fresh timer.
 */
export function heartbeatActor(options: HeartbeatOptions): ActorBehaviour<HeartbeatMsg, NodeJS.Timeout> {
  return defineActor<HeartbeatMsg, NodeJS.Timeout>({
    init(ctx) {
      // Through the mailbox, so beats never overlap and a crash of this actor stops them with it.
      return setInterval(() => send(ctx.self, { type: 'beat' }), options.intervalMs);
    },
    async handle(msg, timer) {
      if (msg.type !== 'beat') throw new Error(`heartbeat: unexpected message ${JSON.stringify(msg)}`);
      await options.beat('active');
      return timer;
    },
    async terminate(timer, exit) {
      clearInterval(timer);
      // A crash is followed by a restart, not by the end of the builder: the Overseer must not hear otherwise.
      if (exit.kind !== 'crashed') await options.beat('inactive');
    },
  });
}
