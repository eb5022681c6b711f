import { startApp, type AppOptions } from '../../../actors/app';
import {
  ActorStoppedError,
  MaxChildrenError,
  defineActor,
  send,
  type ActorRef,
  type ChildReport,
  type ExitReason,
} from '../../../actors/supervision';
import { RecordingLogger, Trace, probe, probeRef, type ProbeMsg } from './helpers';

type Plan = 'finish' | 'idle';

function options(trace: Trace, extra: Partial<AppOptions<Plan, 'go'>> = {}): AppOptions<Plan, 'go'> {
  return {
    maxWorkflows: 2,
    workflow: (id, plan) =>
      defineActor<'go'>({
        init: (ctx) => {
          send(ctx.self, 'go');
        },
        handle: (_msg, _state, ctx) => (plan === 'finish' ? ctx.stop() : undefined),
      }),
    onWorkflowExit: (report: ChildReport) => trace.push(`workflow:${report.id}:${report.exit.kind}`),
    infrastructure: {
      http: () => probe(trace, 'http'),
      heartbeat: () => probe(trace, 'heartbeat'),
      intake: () => probe(trace, 'intake'),
    },
    ...extra,
  };
}

describe('startApp', () => {
  it('starts the infrastructure, then workflows, then intake, and stops them in the reverse order', async () => {
    const trace = new Trace();
    const app = await startApp(options(trace));
    expect(trace.matching(/:init#/)).toEqual(['http:init#1', 'heartbeat:init#1', 'intake:init#1']);
    const health = await app.health();
    expect(health.status).toBe('ok');
    expect(health.root.children.map((c) => `${c.path}:${c.kind}`)).toEqual([
      'app/http:worker',
      'app/heartbeat:worker',
      'app/workflows:supervisor',
      'app/intake:worker',
    ]);
    await expect(app.stop('test over')).resolves.toEqual({ outcome: 'stopped', abandoned: [] });
    expect(trace.matching(/:terminate:/)).toEqual([
      'intake:terminate:shutdown',
      'heartbeat:terminate:shutdown',
      'http:terminate:shutdown',
    ]);
  });

  it('runs placeholder children by default, each a real running actor', async () => {
    const log = new RecordingLogger();
    const app = await startApp<Plan, 'go'>({ ...options(new Trace()), infrastructure: {}, log });
    const health = await app.health();
    expect(health.actors).toBe(5);
    expect(health.root.children.every((c) => c.state === 'running')).toBe(true);
    expect(log.lines.filter((l) => l.message === 'placeholder started').map((l) => l.fields.actor)).toEqual([
      'app/http',
      'app/heartbeat',
      'app/intake',
    ]);
    await app.stop();
    expect(log.lines).toContainEqual({
      level: 'info',
      message: 'stopping',
      fields: { reason: 'stop requested' },
    });
  });

  it('runs workflows in its slots, reports their end, and refuses one beyond the slots', async () => {
    const trace = new Trace();
    const app = await startApp(options(trace));
    await app.startWorkflow('done', 'finish');
    await trace.seen('workflow:done:normal');
    await app.startWorkflow('a', 'idle');
    const b = await app.startWorkflow('b', 'idle');
    expect(b.path).toBe('app/workflows/b');
    await expect(app.startWorkflow('c', 'idle')).rejects.toBeInstanceOf(MaxChildrenError);
    expect((await app.health()).root.children[2]?.children.map((c) => c.id)).toEqual(['a', 'b']);
    await app.stop();
    expect(trace.matching(/^workflow:[ab]:/).sort()).toEqual(['workflow:a:shutdown', 'workflow:b:shutdown']);
    await expect(app.startWorkflow('late', 'idle')).rejects.toBeInstanceOf(ActorStoppedError);
  });

  it('restarts a crashed infrastructure child and ends through onExit once it crashes too often', async () => {
    const trace = new Trace();
    const exits: ExitReason[] = [];
    let heartbeat: ActorRef<ProbeMsg> | undefined;
    const app = await startApp(
      options(trace, {
        intensity: 1,
        periodMs: 60_000,
        onExit: (exit) => {
          exits.push(exit);
          trace.push('app exited');
        },
        infrastructure: {
          heartbeat: () => probe(trace, 'heartbeat', { onStart: (self) => (heartbeat = self) }),
        },
      }),
    );
    send(probeRef(heartbeat), { type: 'crash', message: 'overseer unreachable' });
    await trace.seen('heartbeat:init#2');
    expect((await app.health()).root.children[1]).toMatchObject({ id: 'heartbeat', restartCount: 1 });
    send(probeRef(heartbeat), { type: 'crash', message: 'overseer still unreachable' });
    await trace.seen('app exited');
    expect(exits[0]).toMatchObject({
      kind: 'crashed',
      reason: {
        name: 'RestartIntensityError',
        path: 'app',
        cause: { message: 'overseer still unreachable' },
      },
    });
    expect((await app.health()).status).toBe('down');
    await app.stop();
  });
});
