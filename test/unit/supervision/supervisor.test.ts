import {
  ActorCrashedError,
  ActorStoppedError,
  ChildStartError,
  RestartIntensityError,
  ask,
  defineActor,
  send,
  startTree,
  supervisor,
  type ActorHealth,
  type ChildSpec,
  type ExitReason,
  type Strategy,
  type SupervisorMsg,
  type SupervisorOptions,
  type Tree,
} from '../../../actors/supervision';
import { Trace, probeRef, probeSpec } from './helpers';

const trees: { stop(): Promise<unknown> }[] = [];
afterEach(async () => {
  await Promise.all(trees.splice(0).map((tree) => tree.stop()));
});

async function startSupervised(
  options: SupervisorOptions,
  trace: Trace,
): Promise<{ tree: Tree<SupervisorMsg>; exits: ExitReason[] }> {
  const exits: ExitReason[] = [];
  const tree = await startTree(supervisor(options), {
    id: 'sup',
    onExit: (exit) => {
      exits.push(exit);
      trace.push(`sup:exit:${exit.kind}`);
    },
  });
  trees.push(tree);
  return { tree, exits };
}

function crash(tree: Tree<SupervisorMsg>, id: string, message = `${id} broke`): void {
  send(probeRef(tree.child(id)), { type: 'crash', message });
}

/** Crashes a child and resolves once it has ended (an ask queued behind the crash fails at that moment). */
async function crashAndWait(tree: Tree<SupervisorMsg>, id: string): Promise<void> {
  const ref = probeRef(tree.child(id));
  send(ref, { type: 'crash', message: `${id} broke` });
  await expect(ask(ref, { type: 'ping' }, 10_000)).rejects.toBeInstanceOf(ActorCrashedError);
}

/** Asks the supervisor for its health: being a message, it is answered after every earlier exit. */
function askHealth(tree: Tree<SupervisorMsg>): Promise<ActorHealth> {
  return ask(tree.root, { type: 'health' }, 10_000);
}

/** Events from the first crash on, without the abort notices (they follow each stop). */
function after(trace: Trace, marker: string): string[] {
  return trace.events.slice(trace.events.indexOf(marker) + 1).filter((e) => !e.endsWith(':aborted'));
}

function threeProbes(trace: Trace): ChildSpec[] {
  return ['a', 'b', 'c'].map((id) => probeSpec(trace, id));
}

describe('a supervisor', () => {
  it('starts its children in order, each once the previous init has finished', async () => {
    const trace = new Trace();
    const slow = (id: string): ChildSpec => ({
      id,
      start: () =>
        defineActor<never>({
          init: async () => {
            trace.push(`${id}:init started`);
            await new Promise((resolve) => setImmediate(resolve));
            trace.push(`${id}:init done`);
          },
          handle: () => undefined,
        }),
    });
    await startSupervised({ children: [slow('a'), slow('b'), slow('c')] }, trace);
    expect(trace.events).toEqual([
      'a:init started',
      'a:init done',
      'b:init started',
      'b:init done',
      'c:init started',
      'c:init done',
    ]);
  });

  it('stops the children already started in reverse order and fails to start when one init fails', async () => {
    const trace = new Trace();
    const children = [
      probeSpec(trace, 'a'),
      probeSpec(trace, 'b'),
      probeSpec(trace, 'c', 'permanent', { failInit: () => true }),
      probeSpec(trace, 'd'),
    ];
    const error = await startTree(supervisor({ children }), { id: 'sup' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChildStartError);
    expect((error as ChildStartError).reason).toMatchObject({
      name: 'ChildStartError',
      cause: { name: 'Error', message: 'c init failed', path: 'sup/c' },
    });
    expect(trace.events.filter((e) => !e.endsWith(':aborted'))).toEqual([
      'a:init#1',
      'b:init#1',
      'c:init-failed#1',
      'b:terminate:shutdown',
      'a:terminate:shutdown',
    ]);
  });

  it('fails to start when a start function throws, as if its init had failed', async () => {
    const throwing: ChildSpec = {
      id: 'broken',
      start: () => {
        throw new Error('missing configuration');
      },
    };
    const error = await startTree(supervisor({ children: [throwing] })).catch((e: unknown) => e);
    expect((error as ChildStartError).reason?.cause).toMatchObject({ message: 'missing configuration' });
  });

  it.each<[Strategy, string[]]>([
    ['one_for_one', ['b:init#2']],
    ['rest_for_one', ['c:terminate:shutdown', 'b:init#2', 'c:init#2']],
    ['one_for_all', ['c:terminate:shutdown', 'a:terminate:shutdown', 'a:init#2', 'b:init#2', 'c:init#2']],
  ])('with %s restarts exactly the children the strategy names, in order', async (strategy, expected) => {
    const trace = new Trace();
    const { tree } = await startSupervised({ strategy, children: threeProbes(trace) }, trace);
    trace.push('crash');
    crash(tree, 'b');
    await trace.seen(expected[expected.length - 1] ?? '');
    await ask(probeRef(tree.child('b')), { type: 'ping' }, 10_000);
    expect(after(trace, 'crash')).toEqual(['b:terminate:crashed', ...expected]);
    expect(tree.health().status).toBe('ok');
  });

  it('restarts a permanent child even after a normal exit', async () => {
    const trace = new Trace();
    const { tree } = await startSupervised({ children: [probeSpec(trace, 'p', 'permanent')] }, trace);
    send(probeRef(tree.child('p')), { type: 'finish' });
    await trace.seen('p:init#2');
    expect(trace.matching(/^p:init#/)).toEqual(['p:init#1', 'p:init#2']);
  });

  it('restarts a transient child after a crash but not after a normal exit', async () => {
    const trace = new Trace();
    const { tree } = await startSupervised({ children: [probeSpec(trace, 't', 'transient')] }, trace);
    crash(tree, 't');
    await trace.seen('t:init#2');
    const t = probeRef(tree.child('t'));
    send(t, { type: 'finish' });
    // A ping queued behind `finish` is failed when `t` has ended, which is also when its exit is queued.
    await expect(ask(t, { type: 'ping' }, 10_000)).rejects.toBeInstanceOf(ActorStoppedError);
    expect((await askHealth(tree)).children).toMatchObject([{ id: 't', state: 'stopped', restartCount: 1 }]);
    expect(trace.matching(/^t:init/)).toEqual(['t:init#1', 't:init#2']);
  });

  it('never restarts a temporary child and forgets it once it has ended', async () => {
    const trace = new Trace();
    const children = [probeSpec(trace, 'tmp', 'temporary'), probeSpec(trace, 'keep')];
    const { tree } = await startSupervised({ strategy: 'one_for_all', children }, trace);
    await crashAndWait(tree, 'tmp');
    expect((await askHealth(tree)).children.map((c) => c.id)).toEqual(['keep']);
    expect(trace.matching(/:init#2/)).toEqual([]);
  });

  it('drops a temporary sibling instead of restarting it when one_for_all restarts the group', async () => {
    const trace = new Trace();
    const children = [probeSpec(trace, 'tmp', 'temporary'), probeSpec(trace, 'p')];
    const { tree } = await startSupervised({ strategy: 'one_for_all', children }, trace);
    crash(tree, 'p');
    await trace.seen('p:init#2');
    expect(trace.events).toContain('tmp:terminate:shutdown');
    expect(tree.health().root.children.map((c) => c.id)).toEqual(['p']);
  });

  it('gives up after more restarts than its intensity allows, stopping its children and failing upwards', async () => {
    const trace = new Trace();
    const options = { intensity: 2, periodMs: 60_000, children: threeProbes(trace) };
    const { tree, exits } = await startSupervised(options, trace);
    for (let n = 2; n <= 3; n += 1) {
      crash(tree, 'b', `crash ${n - 1}`);
      await trace.seen(`b:init#${n}`);
    }
    trace.push('last crash');
    crash(tree, 'b', 'crash 3');
    await trace.seen('sup:exit:crashed');
    expect(after(trace, 'last crash')).toEqual([
      'b:terminate:crashed',
      'c:terminate:shutdown',
      'a:terminate:shutdown',
      'sup:exit:crashed',
    ]);
    expect(exits[0]).toMatchObject({
      kind: 'crashed',
      reason: { name: RestartIntensityError.name, path: 'sup', cause: { message: 'crash 3', path: 'sup/b' } },
    });
  });

  it('fails at the first crash with intensity 0, the per-workflow setting', async () => {
    const trace = new Trace();
    const { tree, exits } = await startSupervised(
      { strategy: 'one_for_all', intensity: 0, children: threeProbes(trace) },
      trace,
    );
    crash(tree, 'a', 'checkout failed');
    await trace.seen('sup:exit:crashed');
    expect(trace.matching(/:init#2/)).toEqual([]);
    expect(exits[0]).toMatchObject({
      reason: { name: 'RestartIntensityError', cause: { message: 'checkout failed' } },
    });
  });

  it('escalates to its parent supervisor, which restarts it with fresh children', async () => {
    const trace = new Trace();
    const inner: ChildSpec = {
      id: 'inner',
      start: () => supervisor({ intensity: 0, children: [probeSpec(trace, 'leaf')] }),
    };
    const { tree } = await startSupervised({ children: [inner] }, trace);
    send(probeRef(tree.child('inner', 'leaf')), { type: 'crash', message: 'leaf broke' });
    await trace.seen('leaf:init#2');
    expect(await askHealth(tree)).toMatchObject({ children: [{ id: 'inner', state: 'running' }] });
    expect(tree.health().root.children[0]).toMatchObject({
      id: 'inner',
      state: 'running',
      restartCount: 1,
      lastFailure: { name: 'RestartIntensityError', cause: { message: 'leaf broke' } },
      children: [{ id: 'leaf', state: 'running', restartCount: 0 }],
    });
  });

  it('retries a restart whose init fails through its mailbox, counting each attempt', async () => {
    const trace = new Trace();
    const flaky = probeSpec(trace, 'f', 'permanent', { failInit: (n) => n === 2 || n === 3 });
    const { tree } = await startSupervised({ intensity: 3, periodMs: 60_000, children: [flaky] }, trace);
    crash(tree, 'f');
    await trace.seen('f:init#4');
    expect(trace.matching(/^f:init/)).toEqual(['f:init#1', 'f:init-failed#2', 'f:init-failed#3', 'f:init#4']);
    expect((await askHealth(tree)).children[0]).toMatchObject({ state: 'running', restartCount: 3 });
  });

  it('gives up when restarts keep failing past the intensity', async () => {
    const trace = new Trace();
    const broken = probeSpec(trace, 'f', 'permanent', { failInit: (n) => n > 1 });
    const { tree, exits } = await startSupervised(
      { intensity: 2, periodMs: 60_000, children: [broken] },
      trace,
    );
    crash(tree, 'f');
    await trace.seen('sup:exit:crashed');
    expect(trace.matching(/^f:init/)).toEqual(['f:init#1', 'f:init-failed#2', 'f:init-failed#3']);
    expect(exits[0]).toMatchObject({
      reason: { name: 'RestartIntensityError', cause: { message: 'f init failed' } },
    });
  });

  it('stops its children in reverse start order', async () => {
    const trace = new Trace();
    const { tree } = await startSupervised({ children: threeProbes(trace) }, trace);
    trace.push('stop');
    await tree.stop();
    expect(after(trace, 'stop')).toEqual([
      'c:terminate:shutdown',
      'b:terminate:shutdown',
      'a:terminate:shutdown',
    ]);
  });

  it('answers a health query with its subtree as plain data', async () => {
    const trace = new Trace();
    const { tree } = await startSupervised({ children: threeProbes(trace) }, trace);
    const health = await askHealth(tree);
    expect(JSON.parse(JSON.stringify(health))).toEqual(health);
    expect(health.children.map((c) => `${c.path}:${c.state}`)).toEqual([
      'sup/a:running',
      'sup/b:running',
      'sup/c:running',
    ]);
  });
});
