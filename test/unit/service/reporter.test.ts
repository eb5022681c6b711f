import { decode, isAtom, mapGet, toJson, type ErlMap } from '../../../src/etf';
import { nopLogger } from '../../../src/log';
import type { WorkflowUpdate } from '../../../src/manager';
import { parseRequestBytes } from '../../../src/messages/request-file';
import { openApertureReporter, workflowSaveBody, type Destination } from '../../../src/service';
import type { ReplyCommit } from '../../../src/service/reporter';
import type { WorkflowResult } from '../../../src/workflow/reporter';

const ID = '2a3b4c5d-0000-4000-8000-000000000001';
const received = parseRequestBytes(
  Buffer.from(
    JSON.stringify({
      id: ID,
      deployment_repo: 'org/app_docker',
      milestones: ['build'],
      current_step: 'build',
      workflow_start_time: [1700, 0, 0],
      step_time: [1700, 60, 0],
      event_log: ['first'],
      notifications_config: { hipchat: { room_names: ['ops', 'dev'] } },
      orchestration_queue_name: 'workflow_orchestration',
      workflow_orchestration_exchange_id: '7',
      workflow_orchestration_broker_id: '8',
      notifications_exchange_id: '5',
      notifications_broker_id: '6',
    }),
  ),
);

function harness(commit?: ReplyCommit) {
  const published: { to: Destination; term: unknown }[] = [];
  const saves: WorkflowUpdate[] = [];
  const events: { workflowId: string; reason: string; message: string }[] = [];
  const reporter = openApertureReporter(
    received.request,
    {
      manager: {
        updateWorkflow: (_id, update) => {
          saves.push(update);
          return Promise.resolve();
        },
      },
      publisher: {
        // As the broker publisher does: the destination is looked up, then `beforeSend` may withdraw the message.
        publish: async (to, payload, call) => {
          if (call?.beforeSend && !(await call.beforeSend())) return;
          published.push({ to, term: decode(payload) });
        },
        close: () => Promise.resolve(),
      },
      buildLogDestinations: () => Promise.resolve([{ brokerId: '1', exchangeId: '9', queue: 'build_logs' }]),
      raiseEvent: (workflowId, reason, message) => {
        events.push({ workflowId, reason, message });
        return Promise.resolve();
      },
      log: nopLogger,
      now: () => 1_700_000_120_000,
    },
    commit,
  );
  return { reporter, published, saves, events };
}

const result = (overrides: Partial<WorkflowResult> = {}): WorkflowResult => ({
  workflowId: ID,
  status: 'succeeded',
  message: null,
  reason: null,
  received: received.term,
  update: { source_repo_git_ref: 'f'.repeat(40), event_log: ['first', `[OA][${ID}] done`] },
  image: null,
  imageFound: false,
  elapsedMs: 1,
  stepDurations: {},
  stopped: false,
  crashed: false,
  ...overrides,
});

const flushed = () => new Promise((resolve) => setImmediate(resolve));

describe('the OpenAperture reporter', () => {
  it('sends success and failure events as HipChat notifications with atom keys and the rooms of the request', async () => {
    const { reporter, published } = harness();
    const snapshot = { workflowId: ID, currentStep: 'build', step: null, eventLog: [], stepDurations: {} };
    reporter.event(
      { kind: 'success', message: 'Requesting...', text: `[OA][${ID}] Requesting...` },
      snapshot,
    );
    reporter.event({ kind: 'log', message: 'only logged', text: `[OA][${ID}] only logged` }, snapshot);
    reporter.event(
      { kind: 'failure', message: 'Milestone has failed', text: `[OA][${ID}] Milestone has failed` },
      snapshot,
    );
    await flushed();
    expect(published.map((p) => p.to)).toEqual([
      { brokerId: '6', exchangeId: '5', queue: 'notifications_hipchat' },
      { brokerId: '6', exchangeId: '5', queue: 'notifications_hipchat' },
    ]);
    const first = published[0]?.term as ErlMap;
    expect(first.entries.every(([key]) => isAtom(key))).toBe(true);
    expect(toJson(first)).toEqual({
      is_success: true,
      prefix: `[OA][${ID}]`,
      message: 'Requesting...',
      room_names: ['ops', 'dev'],
    });
    expect(toJson(published[1]?.term as ErlMap)).toMatchObject({
      is_success: false,
      message: 'Milestone has failed',
    });
  });

  it('saves the workflow with elapsed times computed from the request timestamps', async () => {
    const { reporter, saves } = harness();
    reporter.save({
      workflowId: ID,
      currentStep: 'build',
      step: 'build',
      eventLog: ['first', 'second'],
      stepDurations: {},
    });
    await flushed();
    expect(saves).toEqual([
      expect.objectContaining({
        id: ID,
        current_step: 'build',
        elapsed_workflow_time: '2 minute(s)',
        elapsed_step_time: '1 minute(s)',
        workflow_completed: false,
        workflow_error: false,
        event_log: ['first', 'second'],
      }),
    ]);
  });

  it('sends saves of one workflow one at a time, the newest of those that queued up meanwhile and no older one after it', async () => {
    const landed: string[][] = [];
    const pending: (() => void)[] = [];
    const reporter = openApertureReporter(received.request, {
      manager: {
        updateWorkflow: (_id, update) =>
          new Promise<void>((resolve) =>
            pending.push(() => {
              landed.push([...(update.event_log ?? [])]);
              resolve();
            }),
          ),
      },
      publisher: { publish: () => Promise.resolve(), close: () => Promise.resolve() },
      buildLogDestinations: () => Promise.resolve([]),
      raiseEvent: () => Promise.resolve(),
      log: nopLogger,
    });
    const save = (eventLog: string[]) =>
      reporter.save({ workflowId: ID, currentStep: 'build', step: 'build', eventLog, stepDurations: {} });
    save(['1']);
    save(['1', '2']);
    save(['1', '2', '3']);
    await flushed();
    expect(pending).toHaveLength(1);
    pending.shift()?.();
    await flushed();
    expect(pending).toHaveLength(1);
    pending.shift()?.();
    await flushed();
    expect(pending).toHaveLength(0);
    expect(landed).toEqual([['1'], ['1', '2', '3']]);
  });

  it('sends the reply to the orchestration queue of the request, with the received atoms kept', async () => {
    const { reporter, published } = harness();
    await reporter.workflowFinished(result());
    expect(published).toHaveLength(1);
    expect(published[0]?.to).toEqual({ brokerId: '8', exchangeId: '7', queue: 'workflow_orchestration' });
    const reply = published[0]?.term as ErlMap;
    expect(isAtom(mapGet(reply, 'current_step') ?? null)).toBe(true);
    expect(toJson(reply)).toMatchObject({
      source_repo_git_ref: 'f'.repeat(40),
      event_log: ['first', `[OA][${ID}] done`],
    });
  });

  it('raises a system event for a workflow a crash ended, after its failure reply, and none for a failure', async () => {
    const { reporter, published, events } = harness();
    const reason = "Cannot read properties of undefined (reading 'x')";
    await reporter.workflowFinished(result({ status: 'failed', reason: 'registry refused', crashed: false }));
    expect(events).toEqual([]);
    await reporter.workflowFinished(result({ status: 'failed', reason, crashed: true }));
    expect(published.map((p) => p.to.queue)).toEqual(['workflow_orchestration', 'workflow_orchestration']);
    expect(events).toEqual([
      { workflowId: ID, reason, message: `A crash ended the processing of workflow ${ID}: ${reason}` },
    ]);
  });

  it('sends no reply for a workflow this builder stopped, which another attempt will finish', async () => {
    const { reporter, published } = harness();
    await reporter.workflowFinished(result({ status: 'failed', stopped: true }));
    expect(published).toEqual([]);
  });

  it('withdraws a claimed reply whose delivery went back to the broker before it was published, and settles it as not sent', async () => {
    const asked: string[] = [];
    const settled: boolean[] = [];
    const commit: ReplyCommit = {
      claim: (status) => {
        asked.push(`claim ${status}`);
        return Promise.resolve(true);
      },
      confirm: () => {
        asked.push('confirm');
        return Promise.resolve(false);
      },
      settle: (sent) => void settled.push(sent),
    };
    const { reporter, published } = harness(commit);
    await reporter.workflowFinished(result());
    expect(asked).toEqual(['claim succeeded', 'confirm']);
    expect(published).toEqual([]);
    expect(settled).toEqual([false]);
  });

  it('publishes a claimed reply whose delivery is still held, and settles it as sent', async () => {
    const settled: boolean[] = [];
    const commit: ReplyCommit = {
      claim: () => Promise.resolve(true),
      confirm: () => Promise.resolve(true),
      settle: (sent) => void settled.push(sent),
    };
    const { reporter, published } = harness(commit);
    await reporter.workflowFinished(result());
    expect(published.map((p) => p.to.queue)).toEqual(['workflow_orchestration']);
    expect(settled).toEqual([true]);
  });

  it('flushes the build output before the reply', async () => {
    const { reporter, published } = harness();
    reporter.logLine('Step 1/1 : FROM busybox');
    await reporter.workflowFinished(result());
    expect(published.map((p) => p.to.queue)).toEqual(['build_logs', 'workflow_orchestration']);
  });
});

describe('the workflow save body', () => {
  it('sends workflow_completed always, and "<unknown>" without timestamps', () => {
    const bare = { ...received.request, workflow_start_time: null, step_time: null };
    const body = workflowSaveBody(bare, { eventLog: [] }, 0, { error: true, completed: true });
    expect(body).toMatchObject({
      elapsed_step_time: '<unknown>',
      elapsed_workflow_time: '<unknown>',
      workflow_error: true,
      workflow_completed: true,
    });
  });
});
