import {
  ask,
  defineActor,
  send,
  startTree,
  supervisor,
  type ActorHealth,
  type ChildSpec,
  type SupervisorMsg,
  type Tree,
} from '../../../actors/supervision';
import { Trace, probeRef, probeSpec, refOf } from './helpers';

/** A promise the test opens when it has looked at the tree. */
function gate(): { readonly wait: Promise<void>; open(): void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

/** A child whose second init and whose terminate wait for the test, so the in-between states can be seen. */
function gated(trace: Trace, id: string, restartInit: Promise<void>, terminate: Promise<void>): ChildSpec {
  let incarnation = 0;
  return {
    id,
    start: () =>
      defineActor<'crash'>({
        async init() {
          incarnation += 1;
          trace.push(`${id}:init#${incarnation}`);
          if (incarnation === 2) await restartInit;
        },
        handle: () => {
          throw new Error(`${id} lost its connection`);
        },
        async terminate(_state, exit) {
          trace.push(`${id}:terminate:${exit.kind}`);
          if (exit.kind === 'shutdown') await terminate;
        },
      }),
  };
}

function askHealth(tree: Tree<SupervisorMsg>): Promise<ActorHealth> {
  return ask(tree.root, { type: 'health' }, 10_000);
}

describe('health', () => {
  it('shows every actor with its state, restart count, last failure and mailbox depth, as plain data', async () => {
    const trace = new Trace();
    const tree = await startTree(supervisor({ children: [probeSpec(trace, 'a'), probeSpec(trace, 'b')] }), {
      id: 'app',
    });
    const beforeCrash = new Date().toISOString();
    send(probeRef(tree.child('b')), { type: 'crash', message: 'socket closed' });
    await trace.seen('b:init#2');
    await askHealth(tree);
    const health = tree.health();
    const failedAt = health.root.children[1]?.lastFailure?.at ?? '';
    // ISO-8601 in UTC sorts as time does.
    expect(failedAt >= beforeCrash && failedAt <= new Date().toISOString()).toBe(true);
    expect(JSON.parse(JSON.stringify(health))).toEqual(health);
    expect(health).toMatchObject({ status: 'ok', actors: 3, abandoned: [] });
    expect(health.root).toEqual({
      id: 'app',
      path: 'app',
      kind: 'supervisor',
      state: 'running',
      restartCount: 0,
      lastFailure: null,
      mailboxDepth: 0,
      children: [
        {
          id: 'a',
          path: 'app/a',
          kind: 'worker',
          state: 'running',
          restartCount: 0,
          lastFailure: null,
          mailboxDepth: 0,
          children: [],
        },
        {
          id: 'b',
          path: 'app/b',
          kind: 'worker',
          state: 'running',
          restartCount: 1,
          lastFailure: {
            name: 'TypeError',
            message: 'socket closed',
            path: 'app/b',
            at: failedAt,
          },
          mailboxDepth: 0,
          children: [],
        },
      ],
    });
    await tree.stop();
  });

  it('counts the messages waiting behind a busy actor as its mailbox depth', async () => {
    const trace = new Trace();
    const tree = await startTree(supervisor({ children: [probeSpec(trace, 'busy')] }));
    const busy = probeRef(tree.child('busy'));
    send(busy, { type: 'hang' });
    await trace.seen('busy:hanging');
    for (let n = 0; n < 3; n += 1) send(busy, { type: 'finish' });
    expect(tree.health().root.children[0]).toMatchObject({ state: 'running', mailboxDepth: 3 });
    await tree.stop();
    expect(tree.health().root.children[0]).toMatchObject({ state: 'stopped', mailboxDepth: 0 });
  });

  it('shows restarting while a restarted child initialises, and the tree as degraded', async () => {
    const trace = new Trace();
    const restartInit = gate();
    const tree = await startTree(
      supervisor({ children: [gated(trace, 'conn', restartInit.wait, Promise.resolve())] }),
      { id: 'app' },
    );
    send(refOf<'crash'>(tree.child('conn')), 'crash');
    await trace.seen('conn:init#2');
    expect(tree.health()).toMatchObject({
      status: 'degraded',
      root: {
        children: [
          { state: 'restarting', restartCount: 1, lastFailure: { message: 'conn lost its connection' } },
        ],
      },
    });
    restartInit.open();
    await askHealth(tree);
    expect(tree.health().status).toBe('ok');
    await tree.stop();
  });

  it('shows stopping while an actor finishes its terminate, then stopped, and the stopped tree as down', async () => {
    const trace = new Trace();
    const terminate = gate();
    const tree = await startTree(
      supervisor({ children: [gated(trace, 'pub', Promise.resolve(), terminate.wait)] }),
    );
    const stopping = tree.stop();
    await trace.seen('pub:terminate:shutdown');
    expect(tree.health()).toMatchObject({
      status: 'down',
      root: { state: 'stopping', children: [{ state: 'stopping' }] },
    });
    terminate.open();
    await stopping;
    expect(tree.health()).toMatchObject({
      status: 'down',
      root: { state: 'stopped', children: [{ state: 'stopped' }] },
    });
  });

  it('shows starting while a child spawned by a worker runs its init', async () => {
    const init = gate();
    const trace = new Trace();
    const parent = defineActor<'spawn'>({
      init: () => undefined,
      async handle(_msg, _state, ctx) {
        await ctx.spawnChild(
          'slow',
          defineActor<never>({
            init: async () => {
              trace.push('slow:init');
              await init.wait;
            },
            handle: () => undefined,
          }),
        );
        trace.push('spawned');
      },
    });
    const tree = await startTree(parent, { id: 'wf' });
    send(tree.root, 'spawn');
    await trace.seen('slow:init');
    expect(tree.health().root).toMatchObject({
      kind: 'worker',
      children: [{ path: 'wf/slow', state: 'starting' }],
    });
    init.open();
    await trace.seen('spawned');
    expect(tree.health().root.children[0]?.state).toBe('running');
    await tree.stop();
  });

  it('shows a root that crashed as failed, with its reason, and the tree as down', async () => {
    const trace = new Trace();
    const tree = await startTree(
      defineActor<'crash'>({
        init: () => undefined,
        handle: () => {
          throw new Error('out of memory');
        },
      }),
      { id: 'root', onExit: (exit) => trace.push(`exit:${exit.kind}`) },
    );
    send(tree.root, 'crash');
    await trace.seen('exit:crashed');
    expect(tree.health()).toMatchObject({
      status: 'down',
      root: { state: 'failed', lastFailure: { message: 'out of memory' } },
    });
  });

  it('counts messages sent to ended actors as dead letters', async () => {
    const tree = await startTree(supervisor({ children: [] }));
    const before = tree.health().deadLetters;
    await tree.stop();
    expect(send(tree.root, { type: 'health', replyTo: { askId: -1 } })).toBe(false);
    expect(tree.health().deadLetters).toBe(before + 1);
  });
});
