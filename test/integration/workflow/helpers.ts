// What the local-mode workflow tests share: deployment and source repositories seeded from the examples on
// the test git server, a request for them, a builder configured against the test services, and a reporter
// that keeps everything a workflow tells it so the tests can read the event log and the result.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ChildReport } from '../../../actors/supervision';
import { startBuilder, type Builder } from '../../../src/app';
import { loadConfig } from '../../../src/config';
import type { Logger } from '../../../src/log';
import { parseBuildRequest } from '../../../src/messages';
import { jsonRequestTerm } from '../../../src/messages/request-file';
import type { Reporter, StepName, WorkflowEvent, WorkflowResult } from '../../../src/workflow/reporter';
import {
  createBareRepo,
  removeBareRepo,
  REPO_ROOT,
  testEnv,
  uniqueName,
  type BareRepo,
} from '../../harness/env';

const run = promisify(execFile);

export const DEPLOYMENT_EXAMPLE = path.join(REPO_ROOT, 'examples/repos/hello_docker');
export const SOURCE_EXAMPLE = path.join(REPO_ROOT, 'examples/repos/hello');
export const REQUEST_EXAMPLE = path.join(REPO_ROOT, 'examples/requests/build.json');
export const BUILDER_HOSTNAME = 'it-workflow-builder';

/** Every file below `dir` (dotfiles included), keyed by its '/'-separated path. */
export function filesOf(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (sub: string): void => {
    for (const entry of fs.readdirSync(path.join(dir, sub), { withFileTypes: true })) {
      const rel = sub === '' ? entry.name : `${sub}/${entry.name}`;
      if (entry.isDirectory()) walk(rel);
      else files[rel] = fs.readFileSync(path.join(dir, rel), 'utf8');
    }
  };
  walk('');
  return files;
}

/** The pair of repositories one workflow needs, each freshly seeded, and the image it is to produce. */
export interface SeededRepos {
  deployment: BareRepo;
  source: BareRepo;
  /** docker.json `docker_url`, unique so no two tests share an image. */
  dockerUrl: string;
}

/**
 * Seeds a deployment repository from the hello_docker example (its docker.json pointing at a unique
 * `it-wf/<name>`, `files` replacing or adding files) and a source repository from the hello example.
 */
export async function seedRepos(files: Record<string, string> = {}): Promise<SeededRepos> {
  const dockerUrl = `it-wf/${uniqueName('img')}`;
  const deploymentFiles = {
    ...filesOf(DEPLOYMENT_EXAMPLE),
    'docker.json': `${JSON.stringify({ name: 'hello', repository: dockerUrl, docker_url: dockerUrl })}\n`,
    ...files,
  };
  const deployment = await createBareRepo(uniqueName('wf-deploy'), { files: deploymentFiles });
  seeded.push(deployment);
  const source = await createBareRepo(uniqueName('wf-source'), { files: filesOf(SOURCE_EXAMPLE) });
  seeded.push(source);
  return { deployment, source, dockerUrl };
}

const seeded: BareRepo[] = [];

/** Removes every repository {@link seedRepos} made in this test file. */
export async function removeSeededRepos(): Promise<void> {
  await Promise.all(seeded.splice(0).map((repo) => removeBareRepo(repo)));
}

export type RequestJson = Record<string, unknown> & { id: string };

/** The example build request aimed at `repos`, with a fresh workflow id; `overrides` win. */
export function buildRequest(repos: SeededRepos, overrides: Record<string, unknown> = {}): RequestJson {
  const example = JSON.parse(fs.readFileSync(REQUEST_EXAMPLE, 'utf8')) as Record<string, unknown>;
  const id = randomUUID();
  return {
    ...example,
    id,
    workflow_id: id,
    event_log: [`[OpenAperture Workflow][${id}] Starting workflow...`],
    deployment_repo: `anon/${repos.deployment.name}`,
    deployment_repo_git_ref: repos.deployment.branch,
    source_repo: `anon/${repos.source.name}`,
    source_repo_git_ref: repos.source.branch,
    ...overrides,
  };
}

/** A fresh, empty BUILDER_TMPDIR. */
export function scratchDir(prefix = 'oa-wf-it-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** The environment of a local-mode builder against the test services; `extra` adds or replaces variables. */
export function localEnv(workRoot: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = testEnv();
  return {
    // The anonymous area is `<base>anon/<name>.git`, which is what `anon/<name>` in a request expands to.
    GIT_BASE_URL: `${env.git.url}/`,
    BUILD_HOSTS: env.dockerHost,
    BUILD_NETWORK: env.buildNetwork,
    DOCKER_REGISTRY_URL: env.registry.url,
    BUILDER_TMPDIR: workRoot,
    BUILDER_CONCURRENCY: '2',
    // In agreement, as `oa-builder run` and `serve` require: a build and two pushes fit a step, the step and
    // two git operations the workflow.
    WORKFLOW_TIMEOUT_SECONDS: '120',
    STEP_TIMEOUT_SECONDS: '90',
    BUILD_TIMEOUT_SECONDS: '60',
    PUSH_TIMEOUT_SECONDS: '15',
    GIT_TIMEOUT_SECONDS: '15',
    HTTP_TIMEOUT_SECONDS: '10',
    HOSTNAME: BUILDER_HOSTNAME,
    GIT_AUTHOR_NAME: 'Workflow Test Builder',
    GIT_AUTHOR_EMAIL: 'builder@workflow-test.invalid',
    ...extra,
  };
}

/** What one workflow told its reporter. */
export interface Collected {
  readonly events: WorkflowEvent[];
  readonly steps: Array<{ step: StepName; outcome: 'ok' | 'failed' }>;
  readonly lines: string[];
  readonly finished: Promise<WorkflowResult>;
}

function collectingReporter(): Reporter & { collected: Collected } {
  let resolve: (result: WorkflowResult) => void = () => undefined;
  const collected: Collected = {
    events: [],
    steps: [],
    lines: [],
    finished: new Promise((r) => (resolve = r)),
  };
  return {
    collected,
    stepStarted: () => undefined,
    event: (event) => void collected.events.push(event),
    save: () => undefined,
    logLine: (line) => void collected.lines.push(line),
    stepFinished: (step, outcome) => void collected.steps.push({ step, outcome }),
    workflowFinished: (result) => {
      resolve(result);
      return Promise.resolve();
    },
  };
}

/** How one workflow ended: its result, what it reported, and how its actor exited. */
export interface Outcome {
  readonly result: WorkflowResult;
  readonly collected: Collected;
  readonly exit: ChildReport;
  /** Milliseconds from start to the actor's exit. */
  readonly elapsedMs: number;
}

/** A running builder whose workflows can be awaited to their very end (work directory removed). */
export interface TestBuilder {
  readonly builder: Builder;
  /** Starts the workflow of `request` and resolves once its actor has exited. */
  run(request: RequestJson): Promise<Outcome>;
  stop(): Promise<void>;
}

export async function startTestBuilder(env: NodeJS.ProcessEnv, log?: Logger): Promise<TestBuilder> {
  const config = loadConfig({ mode: 'local', env });
  const reporters = new Map<string, Reporter & { collected: Collected }>();
  const exits = new Map<string, (report: ChildReport) => void>();
  const builder = await startBuilder({
    config,
    ...(log ? { log } : {}),
    reporterFor: ({ id }) => {
      const reporter = reporters.get(id);
      if (!reporter) throw new Error(`no reporter registered for workflow ${id}`);
      return reporter;
    },
    app: { onWorkflowExit: (report) => exits.get(report.id)?.(report) },
  });
  return {
    builder,
    async run(request) {
      const received = parseBuildRequest(jsonRequestTerm(request));
      const reporter = collectingReporter();
      reporters.set(request.id, reporter);
      // The result arrives before the actor removes its work directory; the exit report comes after.
      const exited = new Promise<ChildReport>((resolve) => exits.set(request.id, resolve));
      const started = Date.now();
      await builder.start(received);
      const result = await reporter.collected.finished;
      const exit = await exited;
      exits.delete(request.id);
      return { result, collected: reporter.collected, exit, elapsedMs: Date.now() - started };
    },
    async stop() {
      await builder.app.stop('test finished');
    },
  };
}

/** The event log entries the builder added, without the `[OA][<id>] ` prefix. */
export function builderMessages(result: WorkflowResult): string[] {
  const prefix = `[OA][${result.workflowId}] `;
  return (result.update.event_log ?? [])
    .filter((entry) => entry.startsWith(prefix))
    .map((entry) => entry.slice(prefix.length));
}

/** Runs the git CLI against a bare repository; resolves with trimmed stdout. */
export async function gitIn(dir: string, args: readonly string[]): Promise<string> {
  const { stdout } = await run('git', ['-C', dir, ...args], { maxBuffer: 16 * 1024 * 1024 });
  return stdout.trim();
}

/** The commit a branch of a bare repository points at. */
export function headOf(repo: BareRepo): Promise<string> {
  return gitIn(repo.dir, ['rev-parse', repo.branch]);
}
