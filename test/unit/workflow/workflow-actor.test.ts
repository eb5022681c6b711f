import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { realSteps, type WorkflowSteps } from '../../../actors/workflow';
import { startBuilder, type Builder } from '../../../src/app';
import { loadConfig } from '../../../src/config';
import { parseRequestBytes } from '../../../src/messages/request-file';
import type { ReceivedBuildRequest } from '../../../src/messages';
import { nopReporter, type Reporter, type WorkflowResult } from '../../../src/workflow/reporter';
import type { CheckoutStepOutput, ConfigStepOutput } from '../../../src/workflow/steps';
import { ROUTE_FIELDS } from '../messages/sample-request';

const ID_A = '6f1c2f0e-3a57-4c55-9d64-0b7d1d1f0a01';
const ID_B = '6f1c2f0e-3a57-4c55-9d64-0b7d1d1f0a02';
const SHA = 'a'.repeat(40);

function request(id: string, fields: Record<string, unknown> = {}): ReceivedBuildRequest {
  const json = {
    id,
    deployment_repo: 'org/app_docker',
    source_repo: 'org/app',
    source_repo_git_ref: 'main',
    milestones: ['build', 'deploy'],
    current_step: 'build',
    event_log: ['[OpenAperture Workflow] Starting workflow...'],
    ...ROUTE_FIELDS,
    ...fields,
  };
  return parseRequestBytes(Buffer.from(JSON.stringify(json)));
}

const checkedOut = (dir: string): CheckoutStepOutput => ({
  dir,
  commit: 'b'.repeat(40),
  branch: 'main',
  docker: { dockerUrl: 'org/app', registry: null },
  etcdToken: 'etcd-123',
  source: { repo: 'org/app', ref: 'main' },
  sourceFetch: null,
});

const configured: ConfigStepOutput = {
  commit: SHA,
  deploymentCommit: 'c'.repeat(40),
  changed: ['Dockerfile'],
  notificationsConfig: { hipchat: { room_names: ['ops'] } },
  fleetConfig: null,
  awsConfig: null,
  units: [{ name: 'app@.service', options: [], desiredState: null, currentState: null, machineID: null }],
  ecsTaskDefinition: '{"family":"app"}',
};

/** Steps that succeed at once, recording the order they ran in; tests override one to make it fail. */
function fakeSteps(trace: string[], overrides: Partial<WorkflowSteps> = {}): WorkflowSteps {
  return {
    ...realSteps,
    checkout: (input) => {
      trace.push('checkout');
      return Promise.resolve(checkedOut(path.join(input.workDir, 'deployment')));
    },
    config: (_input, _deps, ctx) => {
      trace.push('config');
      ctx.report.event('success', 'Requesting configuration of repository org/app_docker...');
      return Promise.resolve(configured);
    },
    build: (input) => {
      trace.push(`build ${input.commit}`);
      return Promise.resolve({
        reference: `org/app:${input.commit}`,
        imageFound: false,
        imageId: 'sha256:1',
      });
    },
    verify: (input) => {
      trace.push(`verify ${input.commit}`);
      return Promise.resolve({ reference: `org/app:${input.commit}` });
    },
    ...overrides,
  };
}

/** A reporter that keeps every workflow's result and lets a test wait for one. */
function collectingReporter(): {
  reporterFor: () => Reporter;
  result: (id: string) => Promise<WorkflowResult>;
} {
  const results = new Map<string, WorkflowResult>();
  const waiting = new Map<string, (r: WorkflowResult) => void>();
  const reporter: Reporter = {
    ...nopReporter,
    workflowFinished: (result) => {
      results.set(result.workflowId, result);
      waiting.get(result.workflowId)?.(result);
      return Promise.resolve();
    },
  };
  return {
    reporterFor: () => reporter,
    result: (id) => {
      const done = results.get(id);
      return done ? Promise.resolve(done) : new Promise((resolve) => waiting.set(id, resolve));
    },
  };
}

let workRoot: string;
let builder: Builder | undefined;

beforeEach(async () => {
  workRoot = await mkdtemp(path.join(os.tmpdir(), 'oa-wf-unit-'));
});
afterEach(async () => {
  await builder?.app.stop();
  builder = undefined;
  await rm(workRoot, { recursive: true, force: true });
});

async function start(
  steps: WorkflowSteps,
  env: Record<string, string> = {},
  reporterFor: () => Reporter = collectingReporter().reporterFor,
): Promise<Builder> {
  const config = loadConfig({
    mode: 'local',
    env: { BUILDER_TMPDIR: workRoot, BUILDER_CONCURRENCY: '2', ...env },
  });
  builder = await startBuilder({ config, reporterFor, steps });
  return builder;
}

async function run(
  steps: WorkflowSteps,
  received: ReceivedBuildRequest,
  env: Record<string, string> = {},
): Promise<WorkflowResult> {
  const collector = collectingReporter();
  const b = await start(steps, env, collector.reporterFor);
  await b.start(received);
  return collector.result(received.request.id);
}

describe('a workflow', () => {
  it('runs checkout, config, build and verify in order and replies with what the orchestrator needs', async () => {
    const trace: string[] = [];
    const result = await run(fakeSteps(trace), request(ID_A));
    expect(trace).toEqual(['checkout', 'config', `build ${SHA}`, `verify ${SHA}`]);
    expect(result).toMatchObject({ status: 'succeeded', message: null, image: `org/app:${SHA}` });
    expect(result.update).toMatchObject({
      source_repo_git_ref: SHA,
      etcd_token: 'etcd-123',
      ecs_task_definition: '{"family":"app"}',
      notifications_config: { hipchat: { room_names: ['ops'] } },
      deployable_units: configured.units,
    });
    expect(result.update.workflow_error).toBeUndefined();
    expect(result.update.event_log).toEqual([
      '[OpenAperture Workflow] Starting workflow...',
      expect.stringMatching(
        new RegExp(`^\\[OA\\]\\[${ID_A}\\] Build/Config request is being processed by Builder `),
      ),
      `[OA][${ID_A}] Requesting configuration of repository org/app_docker...`,
    ]);
    expect(Object.keys(result.stepDurations)).toEqual(['checkout', 'config', 'build', 'verify']);
  });

  it('verifies without building when the step is config', async () => {
    const trace: string[] = [];
    const result = await run(fakeSteps(trace), request(ID_A, { current_step: 'config' }));
    expect(trace).toEqual(['checkout', 'config', `verify ${SHA}`]);
    expect(result.status).toBe('succeeded');
  });

  it('skips the verification when the build found the image already in the registry', async () => {
    const trace: string[] = [];
    const steps = fakeSteps(trace, {
      build: () => Promise.resolve({ reference: `org/app:${SHA}`, imageFound: true, imageId: null }),
    });
    const result = await run(steps, request(ID_A));
    expect(trace).toEqual(['checkout', 'config']);
    expect(result).toMatchObject({ status: 'succeeded', imageFound: true });
  });

  it('fails as "Failed to create DeploymentRepo!" when the checkout fails, and runs nothing after it', async () => {
    const trace: string[] = [];
    const steps = fakeSteps(trace, {
      checkout: () => Promise.reject(new Error('git ls-remote failed: ref nope not found')),
    });
    const result = await run(steps, request(ID_A));
    expect(trace).toEqual([]);
    expect(result).toMatchObject({
      status: 'failed',
      message: 'Failed to create DeploymentRepo!',
      reason: 'git ls-remote failed: ref nope not found',
      crashed: false,
    });
    expect(result.update).toMatchObject({ workflow_error: true, workflow_completed: true });
    expect(result.update.event_log?.slice(-2)).toEqual([
      `[OA][${ID_A}] git ls-remote failed: ref nope not found`,
      `[OA][${ID_A}] Failed to create DeploymentRepo!`,
    ]);
  });

  it('reports a step that crashes as a failed milestone while another workflow carries on', async () => {
    const trace: string[] = [];
    const steps = fakeSteps(trace, {
      build: (input) => {
        // Each workflow builds in its own work dir, named after its id.
        if (input.contextDir.includes(ID_A))
          throw new TypeError("Cannot read properties of undefined (reading 'x')");
        return Promise.resolve({ reference: 'org/app:x', imageFound: false, imageId: null });
      },
    });
    const collector = collectingReporter();
    // A third slot: a workflow's result is out before its actor has ended and freed its slot.
    const b = await start(steps, { BUILDER_CONCURRENCY: '3' }, collector.reporterFor);
    await Promise.all([b.start(request(ID_A)), b.start(request(ID_B))]);
    const [a, other] = await Promise.all([collector.result(ID_A), collector.result(ID_B)]);
    expect(a).toMatchObject({
      status: 'failed',
      message: 'Milestone has failed',
      reason: "Cannot read properties of undefined (reading 'x')",
      crashed: true,
    });
    expect(other).toMatchObject({ status: 'succeeded', crashed: false });
    const later = '6f1c2f0e-3a57-4c55-9d64-0b7d1d1f0a03';
    await b.start(request(later));
    expect((await collector.result(later)).status).toBe('succeeded');
  });

  it('fails a step that outlives the step timeout and aborts the work below it', async () => {
    let aborted: unknown;
    const steps = fakeSteps([], {
      build: (_input, _deps, ctx) =>
        new Promise((_resolve, reject) => {
          ctx.signal.addEventListener('abort', () => {
            aborted = ctx.signal.reason;
            reject(new Error('aborted'));
          });
        }),
    });
    const result = await run(steps, request(ID_A), { STEP_TIMEOUT_SECONDS: '1' });
    expect(result).toMatchObject({
      status: 'failed',
      message: 'Milestone has failed',
      reason: 'the build step did not finish within 1 s',
      crashed: false,
    });
    expect(aborted).toBeDefined();
  });

  it('fails a workflow that outlives the workflow timeout, naming the step it was in', async () => {
    const steps = fakeSteps([], {
      config: (_input, _deps, ctx) =>
        new Promise((_resolve, reject) =>
          ctx.signal.addEventListener('abort', () => reject(new Error('aborted'))),
        ),
    });
    const result = await run(steps, request(ID_A), { WORKFLOW_TIMEOUT_SECONDS: '1' });
    expect(result).toMatchObject({
      status: 'failed',
      reason: 'the workflow did not finish within 1 s (config step)',
    });
  });

  it('reports a workflow stopped with the builder as failed by shutdown', async () => {
    let started: () => void = () => undefined;
    const building = new Promise<void>((resolve) => (started = resolve));
    const steps = fakeSteps([], {
      build: (_input, _deps, ctx) =>
        new Promise((_resolve, reject) => {
          started();
          ctx.signal.addEventListener('abort', () => reject(new Error('aborted')));
        }),
    });
    const collector = collectingReporter();
    const b = await start(steps, {}, collector.reporterFor);
    await b.start(request(ID_A));
    await building;
    const stopping = b.app.stop('test');
    const result = await collector.result(ID_A);
    await stopping;
    expect(result).toMatchObject({ status: 'failed', reason: 'shutdown: the builder stopped the workflow' });
    expect(result.update.event_log?.at(-1)).toBe(`[OA][${ID_A}] Milestone has failed`);
  });

  it('removes its work directory after a success and after a failure, and never shares one', async () => {
    const dirs: string[] = [];
    const steps = fakeSteps([], {
      checkout: (input) => {
        dirs.push(input.workDir);
        return input.request.id === ID_B
          ? Promise.reject(new Error('no such repository'))
          : Promise.resolve(checkedOut(input.workDir));
      },
    });
    const collector = collectingReporter();
    const b = await start(steps, {}, collector.reporterFor);
    await b.start(request(ID_A));
    await b.start(request(ID_B));
    await Promise.all([collector.result(ID_A), collector.result(ID_B)]);
    await b.app.stop();
    expect(new Set(dirs).size).toBe(2);
    expect(await readdir(workRoot)).toEqual([]);
  });

  it('keeps building when the reporter throws on an event', async () => {
    const collector = collectingReporter();
    const throwing = (): Reporter => ({
      ...collector.reporterFor(),
      event: () => {
        throw new Error('notification service down');
      },
    });
    const b = await start(fakeSteps([]), {}, throwing);
    await b.start(request(ID_A));
    expect((await collector.result(ID_A)).status).toBe('succeeded');
  });

  it('refuses a second workflow with an id that is already running', async () => {
    const steps = fakeSteps([], { build: () => new Promise(() => undefined) });
    const b = await start(steps, { STEP_TIMEOUT_SECONDS: '5' });
    await b.start(request(ID_A));
    await expect(b.start(request(ID_A))).rejects.toThrow(/already running/);
  });
});
