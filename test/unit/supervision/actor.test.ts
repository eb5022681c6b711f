import {
  ActorCrashedError,
  ActorStoppedError,
  AskAbortedError,
  AskTimeoutError,
  ChildFailedError,
  ChildStartError,
  DuplicateChildError,
  ask,
  defineActor,
  send,
  startTree,
  type ActorRef,
  type ChildExit,
  type ExitReason,
  type ReplyTo,
  type Tree,
} from '../../../actors/supervision';
import { RecordingLogger, Trace, probe, type ProbeMsg } from './helpers';

type ParentMsg =
  | {
      readonly type: 'spawn';
      readonly id: string;
      readonly failInit?: boolean;
      readonly replyTo: ReplyTo<string>;
    }
  | { readonly type: 'child'; readonly id: string; readonly replyTo: ReplyTo<ActorRef<ProbeMsg> | null> };

/** A worker that spawns probes on demand and, if `trapExits`, records their exits instead of failing. */
function parent(trace: Trace, trapExits: boolean) {
  const children = new Map<string, ActorRef<ProbeMsg>>();
  return defineActor<ParentMsg>({
    init: () => undefined,
    async handle(msg, _state, ctx) {
      if (msg.type === 'child') return ctx.reply(msg.replyTo, children.get(msg.id) ?? null);
      try {
        const ref = await ctx.spawnChild(
          msg.id,
          probe(trace, msg.id, { failInit: () => msg.failInit === true }),
        );
        children.set(msg.id, ref);
        ctx.reply(msg.replyTo, 'started');
      } catch (error) {
        ctx.reply(msg.replyTo, error instanceof Error ? error.name : 'unknown');
      }
    },
    ...(trapExits
      ? {
          onChildExit(exit: ChildExit) {
            trace.push(`exit:${exit.id}:${exitText(exit.exit)}`);
          },
        }
      : {}),
    terminate: (_state, exit) => trace.push(`parent:terminate:${exit.kind}`),
  });
}

function exitText(exit: ExitReason): string {
  return 'reason' in exit ? `${exit.kind}:${exit.reason.name}:${exit.reason.message}` : exit.kind;
}

async function spawnUnder(tree: Tree<ParentMsg>, id: string, failInit = false): Promise<string> {
  return ask(tree.root, { type: 'spawn', id, failInit }, 10_000);
}

async function childOf(tree: Tree<ParentMsg>, id: string): Promise<ActorRef<ProbeMsg>> {
  const ref = await ask(tree.root, { type: 'child', id }, 10_000);
  if (!ref) throw new Error(`no child ${id}`);
  return ref;
}

describe('an actor defined with defineActor', () => {
  const trees: { stop(): Promise<unknown> }[] = [];
  afterEach(async () => {
    await Promise.all(trees.splice(0).map((tree) => tree.stop()));
  });
  async function start(trapExits = true): Promise<{ tree: Tree<ParentMsg>; trace: Trace }> {
    const trace = new Trace();
    const tree = await startTree(parent(trace, trapExits), { id: 'parent' });
    trees.push(tree);
    return { tree, trace };
  }

  it('handles messages one at a time, in the order they were sent, after init', async () => {
    const seen: number[] = [];
    let running = 0;
    let overlapped = false;
    type CounterMsg =
      | { readonly type: 'count'; readonly n: number }
      | { readonly type: 'report'; readonly n: number; readonly replyTo: ReplyTo<number[]> };
    const counter = defineActor<CounterMsg, number>({
      init: async () => {
        await new Promise((resolve) => setImmediate(resolve));
        return 0;
      },
      async handle(msg, count, ctx) {
        overlapped ||= running > 0;
        running += 1;
        await new Promise((resolve) => setImmediate(resolve));
        seen.push(msg.n);
        running -= 1;
        if (msg.type === 'report') ctx.reply(msg.replyTo, [...seen]);
        return count + 1;
      },
    });
    const tree = await startTree(counter);
    trees.push(tree);
    for (let n = 1; n <= 5; n += 1) send(tree.root, { type: 'count', n });
    const all = await ask(tree.root, { type: 'report', n: 6 }, 10_000);
    expect(all).toEqual([1, 2, 3, 4, 5, 6]);
    expect(overlapped).toBe(false);
  });

  it('holds messages sent during an async init until init has finished', async () => {
    const order: string[] = [];
    let releaseInit!: () => void;
    const slow = defineActor<{ readonly type: 'order'; readonly replyTo: ReplyTo<string[]> }>({
      init: () =>
        new Promise<void>((resolve) => {
          releaseInit = () => {
            order.push('init done');
            resolve();
          };
          order.push('init started');
        }),
      handle: (msg, _state, ctx) => ctx.reply(msg.replyTo, [...order, 'message']),
    });
    const starting = startTree(slow);
    await new Promise((resolve) => setImmediate(resolve));
    releaseInit();
    const tree = await starting;
    trees.push(tree);
    expect(await ask(tree.root, { type: 'order' }, 10_000)).toEqual(['init started', 'init done', 'message']);
  });

  it('answers an ask through ctx.reply', async () => {
    const { tree } = await start();
    await spawnUnder(tree, 'a');
    const a = await childOf(tree, 'a');
    await expect(ask(a, { type: 'ping' }, 10_000)).resolves.toBe('pong from a');
  });

  it('fails an ask that gets no reply in time with AskTimeoutError', async () => {
    const { tree } = await start();
    await spawnUnder(tree, 'a');
    const a = await childOf(tree, 'a');
    send(a, { type: 'hang' });
    const error = await ask(a, { type: 'ping' }, 20).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AskTimeoutError);
    expect(error).toMatchObject({ code: 'ask_timeout', path: 'parent/a', timeoutMs: 20 });
  });

  it('fails an ask whose signal fires with AskAbortedError, and one with an aborted signal at once', async () => {
    const { tree } = await start();
    await spawnUnder(tree, 'a');
    const a = await childOf(tree, 'a');
    send(a, { type: 'hang' });
    const controller = new AbortController();
    const pending = ask(a, { type: 'ping' }, 60_000, controller.signal);
    controller.abort();
    await expect(pending).rejects.toBeInstanceOf(AskAbortedError);
    await expect(ask(a, { type: 'ping' }, 60_000, controller.signal)).rejects.toBeInstanceOf(AskAbortedError);
  });

  it('fails a pending ask with ActorCrashedError carrying the reason when the actor throws', async () => {
    const { tree, trace } = await start();
    await spawnUnder(tree, 'a');
    const a = await childOf(tree, 'a');
    send(a, { type: 'crash', message: 'disk on fire' });
    const error = await ask(a, { type: 'ping' }, 60_000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ActorCrashedError);
    expect((error as ActorCrashedError).reason).toMatchObject({
      name: 'TypeError',
      message: 'disk on fire',
      path: 'parent/a',
    });
    await trace.seen('exit:a:crashed:TypeError:disk on fire');
  });

  it('reports a rejected promise in a handler to the parent as a crash with its reason', async () => {
    const { tree, trace } = await start();
    await spawnUnder(tree, 'a');
    send(await childOf(tree, 'a'), { type: 'reject', message: 'registry said no' });
    await trace.seen('exit:a:crashed:RangeError:registry said no');
    expect(trace.matching(/^exit:a:/)).toEqual(['exit:a:crashed:RangeError:registry said no']);
  });

  it('reports ctx.stop() as a normal exit and ctx.stop(error) as a failed one', async () => {
    const { tree, trace } = await start();
    await spawnUnder(tree, 'ok');
    await spawnUnder(tree, 'bad');
    send(await childOf(tree, 'ok'), { type: 'finish' });
    send(await childOf(tree, 'bad'), { type: 'finish', failure: 'image missing' });
    await trace.seen('exit:ok:normal');
    await trace.seen('exit:bad:failed:Error:image missing');
    expect(trace.events).toContain('ok:terminate:normal');
    expect(trace.events).toContain('bad:terminate:failed');
  });

  it('fails an ask with ActorStoppedError when the actor is no longer running', async () => {
    const { tree, trace } = await start();
    await spawnUnder(tree, 'a');
    const a = await childOf(tree, 'a');
    send(a, { type: 'finish' });
    await trace.seen('exit:a:normal');
    await expect(ask(a, { type: 'ping' }, 60_000)).rejects.toBeInstanceOf(ActorStoppedError);
    expect(send(a, { type: 'hang' })).toBe(false);
  });

  it('makes a parent without onChildExit crash when a child crashes, with the child failure as cause', async () => {
    let exit: ExitReason | undefined;
    const trace = new Trace();
    const onExit = (e: ExitReason): void => {
      exit = e;
      trace.push('root exited');
    };
    const tree = await startTree(parent(trace, false), { id: 'parent', onExit });
    trees.push(tree);
    await spawnUnder(tree, 'a');
    send(await childOf(tree, 'a'), { type: 'crash', message: 'boom' });
    await trace.seen('root exited');
    expect(trace.events).toContain('parent:terminate:crashed');
    expect(exit).toMatchObject({
      kind: 'crashed',
      reason: { name: ChildFailedError.name, path: 'parent', cause: { name: 'TypeError', message: 'boom' } },
    });
  });

  it('lets a parent without onChildExit carry on when a child ends normally', async () => {
    const { tree, trace } = await start(false);
    await spawnUnder(tree, 'a');
    send(await childOf(tree, 'a'), { type: 'finish' });
    await trace.seen('a:terminate:normal');
    await expect(spawnUnder(tree, 'b')).resolves.toBe('started');
    expect(tree.health().root.state).toBe('running');
  });

  it('refuses a second live child with the same id with DuplicateChildError', async () => {
    const { tree } = await start();
    await spawnUnder(tree, 'a');
    await expect(spawnUnder(tree, 'a')).resolves.toBe(DuplicateChildError.name);
  });

  it('rejects spawnChild with ChildStartError when the child init throws, without an exit message', async () => {
    const { tree, trace } = await start();
    await expect(spawnUnder(tree, 'a', true)).resolves.toBe(ChildStartError.name);
    await expect(spawnUnder(tree, 'b')).resolves.toBe('started');
    expect(trace.matching(/^exit:/)).toEqual([]);
    expect(tree.health().root.children.map((c) => c.id)).toEqual(['b']);
  });

  it('turns a thrown non-Error value into a NonErrorThrown failure', async () => {
    let exit: ExitReason | undefined;
    const thrower = defineActor<{ readonly type: 'go'; readonly replyTo: ReplyTo<string> }>({
      init: () => undefined,
      handle: () => {
        throw { status: 500 }; // eslint-disable-line @typescript-eslint/only-throw-error
      },
    });
    const tree = await startTree(thrower, { id: 'thrower', onExit: (e) => (exit = e) });
    trees.push(tree);
    const stopped = ask(tree.root, { type: 'go' }, 60_000).catch((e: unknown) => e);
    await expect(stopped).resolves.toBeInstanceOf(ActorCrashedError);
    expect(exit).toMatchObject({
      kind: 'crashed',
      reason: { name: 'NonErrorThrown', message: '{"status":500}' },
    });
  });

  it('stops a worker after a terminate that throws, logging it instead of hanging', async () => {
    const log = new RecordingLogger();
    const badTerminate = defineActor<never>({
      init: () => undefined,
      handle: () => undefined,
      terminate: () => {
        throw new Error('cleanup failed');
      },
    });
    const tree = await startTree(badTerminate, { log });
    await expect(tree.stop()).resolves.toEqual({ outcome: 'stopped', abandoned: [] });
    expect(log.messages('warn')).toContain('terminate threw');
  });
});
