import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ActorStoppedError,
  ask,
  defineActor,
  send,
  startTree,
  supervisor,
  type ActorRef,
  type ChildSpec,
} from '../../../actors/supervision';
import { RecordingLogger, Trace, probeRef, probeSpec, refOf, type ProbeMsg } from './helpers';

function ping(ref: ActorRef<ProbeMsg>): Promise<string> {
  return ask(ref, { type: 'ping' }, 60_000);
}

/** An HTTP server on a free loopback port that takes every request and never answers it. */
async function silentServer(trace: Trace): Promise<{ readonly url: string; close(): Promise<void> }> {
  const server = createServer((req) => {
    trace.push('server:request');
    req.socket.on('close', () => trace.push('server:client hung up'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/never`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function withoutAborts(trace: Trace): string[] {
  return trace.events.filter((e) => !e.endsWith(':aborted') && !e.includes(':init'));
}

describe('shutdown', () => {
  it('abandons a child stuck past its shutdown timeout, reports it, and still stops the others', async () => {
    const trace = new Trace();
    const log = new RecordingLogger();
    const children = [
      probeSpec(trace, 'a'),
      probeSpec(trace, 'b', 'permanent', { stuckTerminate: true, shutdownMs: 50 }),
      probeSpec(trace, 'c'),
    ];
    const tree = await startTree(supervisor({ children }), { id: 'sup', log });
    const report = await tree.stop();
    expect(report).toEqual({ outcome: 'stopped', abandoned: ['sup/b'] });
    expect(withoutAborts(trace)).toEqual([
      'c:terminate:shutdown',
      'b:terminate:shutdown',
      'a:terminate:shutdown',
    ]);
    expect(tree.health().root.children[1]).toMatchObject({
      id: 'b',
      state: 'failed',
      lastFailure: {
        name: 'ShutdownTimeoutError',
        message: 'sup/b did not stop within 50 ms and was abandoned',
      },
    });
    expect(log.lines).toContainEqual(
      expect.objectContaining({ level: 'warn', message: 'actor abandoned after its shutdown timeout' }),
    );
  });

  it('abandons a handler that ignores its signal, and fails the asks queued behind it', async () => {
    const trace = new Trace();
    const tree = await startTree(
      supervisor({ children: [probeSpec(trace, 'h', 'permanent', { shutdownMs: 50 })] }),
    );
    const h = probeRef(tree.child('h'));
    send(h, { type: 'hang_ignoring_signal' });
    const queued = ping(h);
    await trace.seen('h:hanging');
    await expect(tree.stop()).resolves.toEqual({ outcome: 'stopped', abandoned: ['root/h'] });
    await expect(queued).rejects.toBeInstanceOf(ActorStoppedError);
  });

  it('waits for an in-flight handler that honours its signal instead of abandoning it', async () => {
    const trace = new Trace();
    const tree = await startTree(supervisor({ children: [probeSpec(trace, 'h')] }));
    send(probeRef(tree.child('h')), { type: 'hang' });
    await trace.seen('h:hanging');
    await expect(tree.stop()).resolves.toEqual({ outcome: 'stopped', abandoned: [] });
    expect(withoutAborts(trace)).toEqual(['h:hanging', 'h:terminate:shutdown']);
  });

  it('abandons a busy child at once with shutdownMs 0, like brutal_kill', async () => {
    const trace = new Trace();
    const tree = await startTree(
      supervisor({ children: [probeSpec(trace, 'k', 'permanent', { shutdownMs: 0 })] }),
    );
    send(probeRef(tree.child('k')), { type: 'hang_ignoring_signal' });
    await trace.seen('k:hanging');
    await expect(tree.stop()).resolves.toMatchObject({ abandoned: ['root/k'] });
    expect(trace.events).not.toContain('k:terminate:shutdown');
  });

  it('kills the whole subtree of an abandoned supervisor, firing every signal below it', async () => {
    const trace = new Trace();
    const inner: ChildSpec = {
      id: 'inner',
      shutdownMs: 50,
      start: () =>
        supervisor({ children: [probeSpec(trace, 'leaf', 'permanent', { shutdownMs: Infinity })] }),
    };
    const tree = await startTree(supervisor({ children: [inner] }), { id: 'sup' });
    const leaf = probeRef(tree.child('inner', 'leaf'));
    send(leaf, { type: 'hang_ignoring_signal' });
    const queued = ping(leaf);
    await trace.seen('leaf:hanging');
    await expect(tree.stop()).resolves.toEqual({ outcome: 'stopped', abandoned: ['sup/inner'] });
    await expect(queued).rejects.toBeInstanceOf(ActorStoppedError);
    expect(trace.events).toContain('leaf:aborted');
    expect(tree.health().root.children[0]).toMatchObject({
      state: 'failed',
      children: [
        { id: 'leaf', state: 'failed', lastFailure: { name: 'ShutdownTimeoutError', path: 'sup/inner' } },
      ],
    });
  });

  it('returns the same report when stop is called twice', async () => {
    const tree = await startTree(supervisor({ children: [] }));
    const [first, second] = await Promise.all([tree.stop(), tree.stop()]);
    expect(second).toBe(first);
  });
});

describe('cancellation', () => {
  it('fires the signals of a stopped subtree children first, in reverse start order, then the parent', async () => {
    const trace = new Trace();
    const watched = (id: string, children: ChildSpec[] = []): ChildSpec => ({
      id,
      start: () => {
        const inner = supervisor({ children });
        const watching: typeof inner = {
          ...inner,
          init: (ctx) => {
            ctx.signal.addEventListener('abort', () => trace.push(`${id}:aborted`));
            return inner.init(ctx);
          },
        };
        return watching;
      },
    });
    const tree = await startTree(
      supervisor({
        children: [watched('x', [probeSpec(trace, 'x1'), probeSpec(trace, 'x2')]), probeSpec(trace, 'y')],
      }),
    );
    await tree.stop();
    expect(trace.matching(/aborted/)).toEqual(['y:aborted', 'x2:aborted', 'x1:aborted', 'x:aborted']);
  });

  it('fires the signal of an actor that crashes, so work it started stops too', async () => {
    const trace = new Trace();
    const tree = await startTree(supervisor({ children: [probeSpec(trace, 'c')] }));
    send(probeRef(tree.child('c')), { type: 'crash', message: 'bad' });
    await trace.seen('c:aborted');
    await trace.seen('c:init#2');
    await tree.stop();
    expect(trace.matching(/^c:(aborted|terminate)/)).toEqual([
      'c:aborted',
      'c:terminate:crashed',
      'c:aborted',
      'c:terminate:shutdown',
    ]);
  });

  it('rejects a pending fetch given the signal when its actor is stopped, and hangs up on the server', async () => {
    const trace = new Trace();
    const server = await silentServer(trace);
    let pending: Promise<Response> | undefined;
    const client: ChildSpec = {
      id: 'client',
      start: () =>
        defineActor<string>({
          init: () => undefined,
          async handle(url, _state, ctx) {
            pending = fetch(url, { signal: ctx.signal });
            await pending;
          },
        }),
    };
    try {
      const tree = await startTree(supervisor({ children: [client] }), { id: 'sup' });
      send(refOf<string>(tree.child('client')), server.url);
      await trace.seen('server:request');
      // Without the abort the handler would hang until the 5 s timeout and be reported as abandoned.
      await expect(tree.stop()).resolves.toEqual({ outcome: 'stopped', abandoned: [] });
      const error = await pending?.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ActorStoppedError);
      expect(error).toMatchObject({ path: 'sup/client' });
      await trace.seen('server:client hung up');
    } finally {
      await server.close();
    }
  });

  it('gives the signal a typed reason that names the stopped actor', async () => {
    let reason: unknown;
    const tree = await startTree(
      defineActor<never>({
        init: (ctx) => {
          ctx.signal.addEventListener('abort', () => {
            reason = ctx.signal.reason as unknown;
          });
        },
        handle: () => undefined,
      }),
      { id: 'lonely' },
    );
    await tree.stop();
    expect(reason).toBeInstanceOf(ActorStoppedError);
    expect(reason).toMatchObject({ path: 'lonely' });
  });
});
