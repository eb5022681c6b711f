import type { ErlMap } from '../src/etf';
import type { BuildRequest, ReplyUpdate } from '../src/messages';
import type { RetryNotice } from '../src/outage';
import { createWorkDir, type WorkDir } from '../src/repo';
import type { Reporter, StepName, WorkflowResult } from '../src/workflow/reporter';
import {
  buildStep,
  checkoutStep,
  configStep,
  verifyStep,
  type BuildStepOutput,
  type CheckoutStepInput,
  type CheckoutStepOutput,
  type ConfigStepInput,
  type ConfigStepOutput,
  type ImageStepInput,
  type StepContext,
  type StepDeps,
  type StepReport,
} from '../src/workflow/steps';
import { reporterActor, SHUTDOWN_REASON, type ReporterMsg } from './reporter';
import {
  ActorCrashedError,
  ActorStoppedError,
  AskTimeoutError,
  ask,
  defineActor,
  defineStep,
  runStep,
  send,
  type ActorBehaviour,
  type ActorContext,
  type ActorRef,
  toFailure,
  type FailureInfo,
  type StepMsg,
} from './supervision';

/** One build request, as the workflows supervisor starts a workflow with it: plain data, and its stop. */
export interface WorkflowInput {
  readonly request: BuildRequest;
  /** The request map as received: the reply echoes it. */
  readonly received: ErlMap;
  /**
   * Stops the workflow as the kill switch does, with the reason it aborts with (the intake's, when the
   * request's delivery went back to the broker). Default: none.
   */
  readonly stop?: AbortSignal;
}

/** The step functions a workflow runs; tests replace some to inject failures. */
export interface WorkflowSteps {
  readonly checkout: (
    input: CheckoutStepInput,
    deps: StepDeps,
    ctx: StepContext,
  ) => Promise<CheckoutStepOutput>;
  readonly config: (input: ConfigStepInput, deps: StepDeps, ctx: StepContext) => Promise<ConfigStepOutput>;
  readonly build: (input: ImageStepInput, deps: StepDeps, ctx: StepContext) => Promise<BuildStepOutput>;
  readonly verify: (
    input: Pick<ImageStepInput, 'docker' | 'commit'>,
    deps: StepDeps,
    ctx: StepContext,
  ) => Promise<unknown>;
}

export const realSteps: WorkflowSteps = {
  checkout: checkoutStep,
  config: configStep,
  build: buildStep,
  verify: verifyStep,
};

/** What every workflow actor is built with; made once by the composition root. */
export interface WorkflowOptions {
  readonly deps: StepDeps;
  /** BUILDER_TMPDIR: each workflow gets a fresh directory below it, removed when the workflow ends. */
  readonly workRoot: string;
  /** WORKFLOW_TIMEOUT_SECONDS, in milliseconds. */
  readonly workflowTimeoutMs: number;
  /** STEP_TIMEOUT_SECONDS, in milliseconds: one step (checkout, config, build, verify). */
  readonly stepTimeoutMs: number;
  /** The reporter of one workflow. */
  readonly reporterFor: (request: BuildRequest) => Reporter;
  /**
   * Resolves with a reason when the workflow must stop before it is done (the Manager marked it errored);
   * watches until `signal` fires, then rejects. Default: nothing stops a workflow but its timeouts and the builder's stop.
   */
  readonly killSwitch?: (request: BuildRequest, signal: AbortSignal) => Promise<string>;
  /** HOSTNAME: named in the first event of every workflow. */
  readonly hostname: string;
  /** Default {@link realSteps}. */
  readonly steps?: WorkflowSteps;
  /**
   * FINISH_TIMEOUT_SECONDS, in milliseconds: how long the reporter may take to finish (flush the build log,
   * reply) before the workflow ends without it.
   */
  readonly finishTimeoutMs: number;
  /** Hears every retry of a dependency a step waits out (for `/metrics`); the step logs it itself. */
  readonly onRetry?: (notice: RetryNotice) => void;
}

type DockerMsg =
  | { readonly op: 'build'; readonly input: ImageStepInput }
  | { readonly op: 'verify'; readonly input: Pick<ImageStepInput, 'docker' | 'commit'> };

interface Children {
  readonly reporter: ActorRef<ReporterMsg>;
  readonly checkout: ActorRef<StepMsg<CheckoutStepInput, StepReply<CheckoutStepOutput>>>;
  readonly render: ActorRef<StepMsg<ConfigStepInput, StepReply<ConfigStepOutput>>>;
  readonly docker: ActorRef<StepMsg<DockerMsg, StepReply<unknown>>>;
}

interface WorkflowState {
  readonly workDir: WorkDir;
  readonly children: Children;
}

type WorkflowMsg = { readonly type: 'run' };

/** A failed workflow: the failure notification's text and the reason logged before it. */
class WorkflowFailure extends Error {
  override readonly name = 'WorkflowFailure';
  constructor(
    readonly headline: string,
    readonly reason: string,
    /** A bug crashed the processing (a step actor, or the workflow's own code), rather than the work failing. */
    readonly crashed = false,
  ) {
    super(`${headline}: ${reason}`);
  }
}

/** A step answered with the failure it met. */
class StepFailedError extends Error {
  override readonly name = 'StepFailedError';
  constructor(readonly failure: FailureInfo) {
    super(failure.message);
  }
}

/** A step's answer: its output, or the failure it ran into. Plain data. */
type StepReply<O> =
  { readonly ok: true; readonly output: O } | { readonly ok: false; readonly failure: FailureInfo };

// JavaScript's own error classes mean a bug, not a failure the step met (a missing ref, a failing
// Dockerfile): those crash the step actor, so they show as crashes in logs and health.
const PROGRAMMING_ERRORS = [TypeError, RangeError, ReferenceError, SyntaxError, EvalError, URIError];

function stepActor<I, O>(
  run: (input: I, deps: StepDeps, ctx: StepContext) => Promise<O>,
  options: Pick<WorkflowOptions, 'deps' | 'stepTimeoutMs' | 'onRetry'>,
  reporter: ActorRef<ReporterMsg>,
): ActorBehaviour<StepMsg<I, StepReply<O>>, void> {
  const { deps } = options;
  return defineStep<I, StepReply<O>>(async (input, ctx) => {
    try {
      const report: StepReport = {
        event: (kind, message) => send(reporter, { type: 'event', kind, message }),
        save: () => send(reporter, { type: 'save' }),
        line: (text) => send(reporter, { type: 'line', text }),
      };
      const output = await run(input, deps, {
        signal: ctx.signal,
        log: ctx.log,
        report,
        // Waiting out an outage must leave the step time to fail with the outage's own reason.
        outage: {
          budgetMs: deps.outageBudgetMs,
          deadline: Date.now() + options.stepTimeoutMs,
          onRetry: (notice) => {
            ctx.log.warn(notice.text, { dependency: notice.dependency, err: notice.error });
            report.event('log', notice.text);
            options.onRetry?.(notice);
          },
        },
      });
      return { ok: true, output };
    } catch (err) {
      if (!(err instanceof Error) || PROGRAMMING_ERRORS.some((kind) => err instanceof kind)) throw err;
      ctx.log.info('step failed', { err: { name: err.name, message: err.message } });
      return { ok: false, failure: toFailure(err, ctx.path) };
    }
  });
}

/**
 * The per-workflow actor: it owns the workflow's directory and runs the milestones of one request in order
 * (checkout, then `config`, then for `build` the image build, then verify), each step in a child actor of its
 * own (checkout, render, docker) with the step timeout, the whole under the workflow timeout. Every way a step
 * can end badly (a typed error, a crash, a timeout, the workflow being stopped) ends the workflow as failed
 * with a reason, reported through the reporter child; the directory is removed whatever happened. A failed
 * workflow ends as `failed` (its supervisor sees the reason), a successful one as `normal`.
 */
export function workflowActor(
  id: string,
  input: WorkflowInput,
  options: WorkflowOptions,
): ActorBehaviour<WorkflowMsg, WorkflowState> {
  const steps = options.steps ?? realSteps;
  return defineActor<WorkflowMsg, WorkflowState>({
    async init(ctx) {
      const workDir = await createWorkDir(options.workRoot, id);
      try {
        const reporter = await ctx.spawnChild(
          'reporter',
          reporterActor(
            {
              workflowId: input.request.id,
              received: input.received,
              currentStep: input.request.current_step,
              eventLog: input.request.event_log,
            },
            options.reporterFor(input.request),
          ),
        );
        const children: Children = {
          reporter,
          checkout: await ctx.spawnChild('checkout', stepActor(steps.checkout, options, reporter)),
          render: await ctx.spawnChild('render', stepActor(steps.config, options, reporter)),
          docker: await ctx.spawnChild(
            'docker',
            stepActor<DockerMsg, unknown>(
              (msg, d, c) =>
                msg.op === 'build' ? steps.build(msg.input, d, c) : steps.verify(msg.input, d, c),
              options,
              reporter,
            ),
          ),
        };
        send(ctx.self, { type: 'run' });
        return { workDir, children };
      } catch (err) {
        await workDir.dispose();
        throw err;
      }
    },
    async handle(_msg, state, ctx) {
      const failure = await runWorkflow(id, input, options, state, ctx);
      ctx.stop(failure ?? undefined);
      return state;
    },
    // Step failures reach the workflow through the step's answer; the exit that follows is no news.
    onChildExit: (exit, state, ctx) => {
      if (exit.exit.kind === 'crashed') ctx.log.debug('a step actor crashed', { step: exit.id });
      return state;
    },
    async terminate(state) {
      await state.workDir.dispose();
    },
  });
}

async function runWorkflow(
  id: string,
  input: WorkflowInput,
  options: WorkflowOptions,
  state: WorkflowState,
  ctx: ActorContext<WorkflowMsg>,
): Promise<WorkflowFailure | null> {
  const { request } = input;
  const { children } = state;
  const started = Date.now();
  const deadline = AbortSignal.timeout(options.workflowTimeoutMs);
  const killed = new AbortController();
  const finished = new AbortController();
  options.killSwitch?.(request, AbortSignal.any([ctx.signal, finished.signal])).then(
    (reason) => killed.abort(reason),
    (err: unknown) => {
      if (!finished.signal.aborted && !ctx.signal.aborted)
        ctx.log.warn('the kill switch stopped watching', { err });
    },
  );
  // The intake's stop counts as a kill: the step is stopped and its work unwound before the workflow ends.
  const kills = input.stop ? AbortSignal.any([killed.signal, input.stop]) : killed.signal;
  const signal = AbortSignal.any([ctx.signal, deadline, kills]);
  const report = (msg: Exclude<ReporterMsg, { type: 'finish' }>) => send(children.reporter, msg);

  const step = async <I, O>(
    name: StepName,
    ref: ActorRef<StepMsg<I, StepReply<O>>>,
    stepInput: I,
    headline: string,
  ): Promise<O> => {
    report({ type: 'step-started', step: name });
    const t0 = Date.now();
    try {
      const answer = await runStep(ref, stepInput, options.stepTimeoutMs, signal);
      if (!answer.ok) throw new StepFailedError(answer.failure);
      report({ type: 'step-finished', step: name, outcome: 'ok', durationMs: Date.now() - t0 });
      return answer.output;
    } catch (err) {
      report({ type: 'step-finished', step: name, outcome: 'failed', durationMs: Date.now() - t0 });
      if (err instanceof AskTimeoutError || signal.aborted) {
        // The step may still be busy: stopping its actor fires its signal, which ends the work below it, and
        // waits for that work to unwind, so the reply of a stopped workflow never overtakes its build.
        await ctx.stopChild(ref);
      }
      const why = { stopped: ctx.signal, deadline, killed: kills };
      const crashed = err instanceof ActorCrashedError && !stoppedUnder(err) && !aborted(why);
      throw new WorkflowFailure(headline, reasonOf(err, name, why, options), crashed);
    }
  };

  const update: { -readonly [K in keyof ReplyUpdate]: ReplyUpdate[K] } = {};
  let image: string | null = null;
  let imageFound = false;
  let failure: WorkflowFailure | null = null;
  try {
    report({
      type: 'event',
      kind: 'success',
      message: `Build/Config request is being processed by Builder ${options.hostname}`,
    });
    report({ type: 'save' });
    const checkout = await step(
      'checkout',
      children.checkout,
      { request, workDir: state.workDir.path },
      'Failed to create DeploymentRepo!',
    );
    const config = await step(
      'config',
      children.render,
      { request, workDir: state.workDir.path, checkout },
      'Milestone has failed',
    );
    Object.assign(update, {
      source_repo_git_ref: config.commit,
      notifications_config: config.notificationsConfig,
      fleet_config: config.fleetConfig,
      aws_config: config.awsConfig,
    });
    if (request.current_step === 'build') {
      const built = (await step(
        'build',
        children.docker,
        {
          op: 'build',
          input: {
            forceBuild: request.force_build,
            docker: checkout.docker,
            commit: config.commit,
            contextDir: checkout.dir,
            deploymentRepo: request.deployment_repo,
            workflowId: request.id,
            workDir: state.workDir.path,
          },
        },
        'Milestone has failed',
      )) as BuildStepOutput;
      image = built.reference;
      imageFound = built.imageFound;
    }
    if (!imageFound) {
      const verified = (await step(
        'verify',
        children.docker,
        { op: 'verify', input: { docker: checkout.docker, commit: config.commit } },
        'Milestone has failed',
      )) as { reference: string };
      image = verified.reference;
    }
    Object.assign(update, {
      etcd_token: checkout.etcdToken,
      deployable_units: config.units,
      ecs_task_definition: config.ecsTaskDefinition,
    });
  } catch (err) {
    failure =
      err instanceof WorkflowFailure
        ? err
        : new WorkflowFailure('An unexpected error occurred executing build request', String(err), true);
    report({ type: 'event', kind: 'log', message: failure.reason });
    report({ type: 'event', kind: 'failure', message: failure.headline });
    Object.assign(update, { workflow_error: true, workflow_completed: true });
    ctx.log.warn('workflow failed', { reason: failure.reason });
  }
  finished.abort();
  const result: WorkflowResult = {
    workflowId: request.id,
    status: failure ? 'failed' : 'succeeded',
    message: failure?.headline ?? null,
    reason: failure?.reason ?? null,
    received: input.received,
    update,
    image,
    imageFound,
    elapsedMs: Date.now() - started,
    stepDurations: {},
    stopped: failure?.reason === SHUTDOWN_REASON,
    crashed: failure?.crashed ?? false,
  };
  await ask(children.reporter, { type: 'finish', result }, options.finishTimeoutMs).catch((err: unknown) =>
    // The workflow stops, which gives the reporter its stop time (DEFAULT_WORKER_SHUTDOWN_MS) and then leaves it:
    // a reply it claimed by then still decides the delivery (the intake waits for it), any later one is refused.
    ctx.log.error('finishing outlasted its budget; the workflow stops', {
      workflow_id: request.id,
      finish_timeout_ms: options.finishTimeoutMs,
      err,
    }),
  );
  return failure;
}

// A step whose actor was stopped answers with that, or crashes on the abort reason its signal carried.
function stoppedUnder(err: unknown): boolean {
  return (
    err instanceof ActorStoppedError ||
    (err instanceof ActorCrashedError && err.reason?.name === 'ActorStoppedError') ||
    (err instanceof StepFailedError && err.failure.name === 'ActorStoppedError')
  );
}

/** Whether the workflow was stopped, ran out of time or was killed: a step's end is then no crash of its own. */
function aborted(why: { readonly [signal: string]: AbortSignal }): boolean {
  return Object.values(why).some((signal) => signal.aborted);
}

/** The event-log reason of a failed step, whatever way it failed. */
function reasonOf(
  err: unknown,
  step: StepName,
  why: { readonly stopped: AbortSignal; readonly deadline: AbortSignal; readonly killed: AbortSignal },
  options: WorkflowOptions,
): string {
  const { stopped, deadline, killed } = why;
  if (killed.aborted) return String(killed.reason);
  if (stopped.aborted || stoppedUnder(err)) return SHUTDOWN_REASON;
  if (deadline.aborted) {
    return `the workflow did not finish within ${options.workflowTimeoutMs / 1000} s (${step} step)`;
  }
  if (err instanceof AskTimeoutError)
    return `the ${step} step did not finish within ${options.stepTimeoutMs / 1000} s`;
  if (err instanceof ActorCrashedError && err.reason) return err.reason.message;
  if (err instanceof StepFailedError) return err.failure.message;
  return err instanceof Error ? err.message : String(err);
}
