import {
  startWorkflow,
  workflowsSupervisor,
  type WorkflowsMsg,
  type WorkflowsOptions,
} from '../../../actors/workflows';
import {
  ChildStartError,
  DuplicateChildError,
  MaxChildrenError,
  defineActor,
  send,
  startTree,
  terminateChild,
  type ChildReport,
  type Tree,
} from '../../../actors/supervision';
import { RecordingLogger, Trace } from './helpers';

/** What a test workflow does once started. */
type Plan = 'idle' | 'finish' | 'fail' | 'crash' | 'fail_init' | 'ignore_signal' | 'wait_for_siblings';

const trees: { stop(): Promise<unknown> }[] = [];
afterEach(async () => {
  await Promise.all(trees.splice(0).map((tree) => tree.stop()));
});

function workflow(trace: Trace, barrier?: { aborted: number; release: Promise<void> }) {
  return (id: string, plan: Plan) =>
    defineActor<'go'>({
      init(ctx) {
        if (plan === 'fail_init') throw new Error('bad request');
        ctx.signal.addEventListener('abort', () => {
          if (barrier) barrier.aborted += 1;
          trace.push(`${id}:aborted`);
        });
        send(ctx.self, 'go');
      },
      async handle(_msg, _state, ctx) {
        switch (plan) {
          case 'finish':
            return ctx.stop();
          case 'fail':
            return ctx.stop(new Error('image missing'));
          case 'crash':
            throw new Error('docker died');
          case 'ignore_signal':
            trace.push(`${id}:stuck`);
            return new Promise<void>(() => undefined);
          case 'fail_init':
          case 'idle':
          case 'wait_for_siblings':
            return;
        }
      },
      async terminate() {
        // Only a parallel shutdown lets every sibling's signal fire before any of them finishes stopping.
        if (plan === 'wait_for_siblings' && barrier) await barrier.release;
      },
    });
}

async function startWorkflows(
  trace: Trace,
  options: Partial<WorkflowsOptions<Plan, 'go'>> = {},
): Promise<{ tree: Tree<WorkflowsMsg<Plan, 'go'>>; reports: ChildReport[] }> {
  const reports: ChildReport[] = [];
  const tree = await startTree(
    workflowsSupervisor<Plan, 'go'>({
      workflow: workflow(trace),
      maxWorkflows: 2,
      onWorkflowExit: (report) => {
        reports.push(report);
        trace.push(`report:${report.id}:${report.exit.kind}`);
      },
      ...options,
    }),
    { id: 'workflows' },
  );
  trees.push(tree);
  return { tree, reports };
}

describe('the workflows supervisor', () => {
  it('runs one child per workflow and reports a normal end, freeing its slot', async () => {
    const trace = new Trace();
    const { tree, reports } = await startWorkflows(trace);
    await startWorkflow(tree.root, 'wf-1', 'finish');
    await trace.seen('report:wf-1:normal');
    expect(reports).toEqual([{ id: 'wf-1', exit: { kind: 'normal' } }]);
    await startWorkflow(tree.root, 'wf-2', 'idle');
    await startWorkflow(tree.root, 'wf-3', 'idle');
    expect(tree.health().root.children.map((c) => c.id)).toEqual(['wf-2', 'wf-3']);
  });

  it('refuses a workflow beyond the slot limit with MaxChildrenError until a slot is free', async () => {
    const trace = new Trace();
    const { tree } = await startWorkflows(trace);
    await startWorkflow(tree.root, 'a', 'idle');
    const b = await startWorkflow(tree.root, 'b', 'idle');
    const refused = await startWorkflow(tree.root, 'c', 'idle').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(MaxChildrenError);
    expect(refused).toMatchObject({ code: 'max_children', limit: 2 });
    await expect(terminateChild(tree.root, 'b', 10_000)).resolves.toBe('stopped');
    expect(b.path).toBe('workflows/b');
    await expect(startWorkflow(tree.root, 'c', 'idle')).resolves.toMatchObject({ path: 'workflows/c' });
  });

  it('refuses a workflow id that is already running with DuplicateChildError', async () => {
    const trace = new Trace();
    const { tree } = await startWorkflows(trace);
    await startWorkflow(tree.root, 'same', 'idle');
    await expect(startWorkflow(tree.root, 'same', 'idle')).rejects.toBeInstanceOf(DuplicateChildError);
  });

  it('reports a workflow that ends with a failure as failed, with its reason', async () => {
    const trace = new Trace();
    const { tree, reports } = await startWorkflows(trace);
    await startWorkflow(tree.root, 'wf', 'fail');
    await trace.seen('report:wf:failed');
    expect(reports[0]).toMatchObject({
      id: 'wf',
      exit: { kind: 'failed', reason: { message: 'image missing' } },
    });
  });

  it('reports a crashed workflow with its reason and never restarts it', async () => {
    const trace = new Trace();
    const { tree, reports } = await startWorkflows(trace);
    await startWorkflow(tree.root, 'wf', 'crash');
    await trace.seen('report:wf:crashed');
    expect(reports[0]).toMatchObject({
      id: 'wf',
      exit: { kind: 'crashed', reason: { name: 'Error', message: 'docker died', path: 'workflows/wf' } },
    });
    await startWorkflow(tree.root, 'next', 'idle');
    expect(tree.health().root.children.map((c) => c.id)).toEqual(['next']);
  });

  it('rejects a workflow whose init fails with ChildStartError, reports it, and keeps no slot for it', async () => {
    const trace = new Trace();
    const { tree, reports } = await startWorkflows(trace);
    const error = await startWorkflow(tree.root, 'bad', 'fail_init').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChildStartError);
    expect(error).toMatchObject({ reason: { message: 'bad request' } });
    expect(reports).toMatchObject([{ id: 'bad', exit: { kind: 'crashed' } }]);
    await startWorkflow(tree.root, 'a', 'idle');
    await expect(startWorkflow(tree.root, 'b', 'idle')).resolves.toMatchObject({ path: 'workflows/b' });
  });

  it('answers terminate_child for an unknown workflow with not_found', async () => {
    const { tree } = await startWorkflows(new Trace());
    await expect(terminateChild(tree.root, 'ghost', 10_000)).resolves.toBe('not_found');
  });

  it('stops every workflow at once when it stops, reporting each as shutdown', async () => {
    const trace = new Trace();
    let release!: () => void;
    const barrier = { aborted: 0, release: new Promise<void>((resolve) => (release = resolve)) };
    const { tree, reports } = await startWorkflows(trace, {
      workflow: workflow(trace, barrier),
      maxWorkflows: 3,
    });
    for (const id of ['x', 'y', 'z']) await startWorkflow(tree.root, id, 'wait_for_siblings');
    // Released once all three signals fired: a one-by-one shutdown would wait on the first for ever.
    void trace.count(/:aborted$/, 3).then(release);
    await expect(tree.stop()).resolves.toEqual({ outcome: 'stopped', abandoned: [] });
    expect(barrier.aborted).toBe(3);
    expect(reports.map((r) => `${r.id}:${r.exit.kind}`).sort()).toEqual([
      'x:shutdown',
      'y:shutdown',
      'z:shutdown',
    ]);
  });

  it('reports a workflow abandoned after its shutdown timeout as killed', async () => {
    const trace = new Trace();
    const { tree, reports } = await startWorkflows(trace, { shutdownMs: 50 });
    await startWorkflow(tree.root, 'stuck', 'ignore_signal');
    await trace.seen('stuck:stuck');
    await expect(tree.stop()).resolves.toEqual({ outcome: 'stopped', abandoned: ['workflows/stuck'] });
    expect(reports).toMatchObject([
      { id: 'stuck', exit: { kind: 'killed', reason: { name: 'ShutdownTimeoutError' } } },
    ]);
  });

  it('logs a report callback that throws and goes on supervising', async () => {
    const trace = new Trace();
    const log = new RecordingLogger();
    const tree = await startTree(
      workflowsSupervisor<Plan, 'go'>({
        workflow: workflow(trace),
        onWorkflowExit: (report) => {
          trace.push(`report:${report.id}`);
          throw new Error('reporter broke');
        },
      }),
      { id: 'workflows', log },
    );
    trees.push(tree);
    await startWorkflow(tree.root, 'wf', 'finish');
    await trace.seen('report:wf');
    await expect(terminateChild(tree.root, 'wf', 10_000)).resolves.toBe('not_found');
    expect(log.messages('error')).toContain('onEnd callback threw');
    await expect(startWorkflow(tree.root, 'wf2', 'idle')).resolves.toMatchObject({ path: 'workflows/wf2' });
  });
});
