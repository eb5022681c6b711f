import { defineActor, send, type ActorBehaviour, type ActorContext } from '../../../actors/supervision';

/** The one message of a faulty child: the one it sends itself once started. */
export type Go = 'go';

/** A child that runs `go` once it has started; how it fails is up to `go`. */
export function onGo(go: (ctx: ActorContext<Go>) => void | Promise<void>): ActorBehaviour<Go, void> {
  return defineActor<Go>({
    init: (ctx) => {
      send(ctx.self, 'go');
    },
    handle: (_msg, _state, ctx) => go(ctx),
  });
}

function throwing(message: string): ActorBehaviour<Go, void> {
  return onGo(() => {
    throw new Error(message);
  });
}

/** One way an actor's own code can crash, and the reason its parent must be told. */
export interface Crash {
  /** Completes "a child that …". */
  readonly what: string;
  readonly child: () => ActorBehaviour<Go, void>;
  /** Expected in `exit.reason`; the paths are left out, as they depend on where the child runs. */
  readonly reason: {
    readonly name: string;
    readonly message: string;
    readonly cause?: { readonly name: string; readonly message: string };
  };
}

// Shared by the in-process tests, which check each report, and the child-process scenario, which checks
// that none of them reaches the process.
export const crashes: readonly Crash[] = [
  {
    what: 'throws in its handler',
    child: () =>
      onGo(() => {
        throw new TypeError('bad input');
      }),
    reason: { name: 'TypeError', message: 'bad input' },
  },
  {
    what: 'rejects in its handler after a timer',
    child: () =>
      onGo(
        () =>
          new Promise<void>((_, reject) => setTimeout(() => reject(new RangeError('registry said no')), 1)),
      ),
    reason: { name: 'RangeError', message: 'registry said no' },
  },
  {
    what: 'throws a value that is not an Error',
    child: () =>
      onGo(() => {
        throw 404; // eslint-disable-line @typescript-eslint/only-throw-error
      }),
    reason: { name: 'NonErrorThrown', message: '404' },
  },
  {
    what: 'throws in onChildExit',
    child: () =>
      defineActor<Go>({
        init: async (ctx) => {
          await ctx.spawnChild('inner', throwing('inner broke'));
        },
        handle: () => undefined,
        onChildExit: () => {
          throw new Error('policy threw');
        },
      }),
    reason: { name: 'Error', message: 'policy threw' },
  },
  {
    what: 'loses a child of its own and has no onChildExit',
    child: () =>
      defineActor<Go>({
        init: async (ctx) => {
          await ctx.spawnChild('inner', throwing('inner broke'));
        },
        handle: () => undefined,
      }),
    reason: {
      name: 'ChildFailedError',
      message: 'child inner ended with Error: inner broke',
      cause: { name: 'Error', message: 'inner broke' },
    },
  },
  {
    what: 'cannot start a child it needs',
    child: () =>
      onGo(async (ctx) => {
        const noInit = defineActor<never>({
          init: () => {
            throw new Error('no config');
          },
          handle: () => undefined,
        });
        await ctx.spawnChild('inner', noInit);
      }),
    reason: {
      name: 'ChildStartError',
      message: 'child inner failed to start: Error: no config',
      cause: { name: 'Error', message: 'no config' },
    },
  },
];
