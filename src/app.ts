// The composition root: the one place that turns a configuration into adapters, options and the running
// actor tree. Local mode (`oa-builder run`) and service mode build the same tree; they differ only in where
// requests come from and which Reporter each workflow gets.
import { startApp, type AppHandle, type AppOptions } from '../actors/app';
import { farmActor, farmSource, farmStatus, type FarmMsg, type FarmStatus } from '../actors/farm';
import { ActorStoppedError, type ActorRef } from '../actors/supervision';
import {
  workflowActor,
  type WorkflowInput,
  type WorkflowOptions,
  type WorkflowSteps,
} from '../actors/workflow';
import { secretValues, settingWarnings, type BuilderConfig } from './config';
import type { EngineOptions } from './docker';
import { parseEngineSpecs, type EngineSpec } from './docker/farm/hosts';
import type { RecordedImage } from './docker/image-record';
import type { EngineSource } from './docker/farm/source';
import { Redactor, urlPassword } from './redact';
import { redactingReporter } from './workflow/redacting-reporter';
import { gitAccessFromConfig } from './git';
import { createLogger, logFormatFor, nopLogger, type LogFormat, type Logger } from './log';
import { registryCredentials } from './registry';
import type { BuildRequest, ReceivedBuildRequest } from './messages';
import type { Reporter } from './workflow/reporter';
import type { StepDeps } from './workflow/steps';

/** The credentials BUILD_SECRETS lets a build mount, by secret id; those that are not configured are left out. */
function buildSecrets(config: BuilderConfig): Record<string, string> {
  const values: Record<string, string | undefined> = {
    git_token: config.githubOauthToken,
    registry_password: config.dockerRegistryPassword,
  };
  return Object.fromEntries(
    (config.buildSecrets ?? []).flatMap((id) => {
      const value = values[id];
      return value === undefined ? [] : [[id, value]];
    }),
  );
}

/** The adapters' settings from the configuration, shared by every workflow; `engines` is the build farm. */
export function stepDeps(config: BuilderConfig, engines: EngineSource): StepDeps {
  return {
    git: gitAccessFromConfig(config),
    author: { name: config.gitAuthorName, email: config.gitAuthorEmail },
    registry: {
      url: config.dockerRegistryUrl,
      credentials: registryCredentials(
        config.dockerRegistryUsername,
        config.dockerRegistryPassword,
        config.dockerRegistryEmail,
      ),
    },
    engines,
    build: {
      timeoutMs: config.buildTimeoutSeconds * 1000,
      backend: config.buildBackend,
      noCache: !config.buildCache,
      ...(config.buildNetwork === undefined ? {} : { networkMode: config.buildNetwork }),
      ...(config.buildMemoryMb === undefined ? {} : { memoryBytes: config.buildMemoryMb * 1024 * 1024 }),
      ...(config.buildCpuPercent === undefined ? {} : { cpuQuota: config.buildCpuPercent * 1000 }),
      secrets: buildSecrets(config),
    },
    push: { timeoutMs: config.pushTimeoutSeconds * 1000 },
    registryTimeoutMs: config.httpTimeoutSeconds * 1000,
    outageBudgetMs: config.outageBudgetSeconds * 1000,
  };
}

/** The build farm's engines and probe settings from the configuration. */
function farmSettings(config: BuilderConfig): { engines: EngineSpec[]; engine: EngineOptions } {
  return {
    engines: parseEngineSpecs(config.buildHosts, config.concurrency),
    engine: { requestTimeoutMs: config.httpTimeoutSeconds * 1000 },
  };
}

export interface BuilderOptions {
  readonly config: BuilderConfig;
  /** Default `nopLogger`. */
  readonly log?: Logger;
  /** The reporter of each workflow: console in local mode, OpenAperture in service mode. */
  readonly reporterFor: (request: BuildRequest) => Reporter;
  /** Replaces step functions; for tests that inject failures. Default: the real steps. */
  readonly steps?: WorkflowSteps;
  /**
   * Masks secrets on every reporter output. Default: one knowing the configuration's secrets (registry password,
   * OAuth client secret, git token, AMQP URL password).
   */
  readonly redactor?: Redactor;
  /** See `WorkflowOptions.killSwitch`. Default none. */
  readonly killSwitch?: WorkflowOptions['killSwitch'];
  /** Replaces FINISH_TIMEOUT_SECONDS with a budget in ms, for tests that need one under a second. */
  readonly finishTimeoutMs?: number;
  /** See `WorkflowOptions.onRetry`. Default none. */
  readonly onRetry?: WorkflowOptions['onRetry'];
  /** The images a killed predecessor's builds left, read from its work directories: the farm removes them. */
  readonly leftoverImages?: readonly RecordedImage[];
  /** Infrastructure actors and exit handling, as `startApp` takes them. */
  readonly app?: Pick<AppOptions<WorkflowInput, never>, 'infrastructure' | 'onExit' | 'onWorkflowExit'>;
}

/** The running builder. */
export interface Builder {
  /**
   * Starts the workflow of one validated request, stopped like a killed one when `stop` aborts (with the
   * reason it carries); rejects when no slot is free or it already runs.
   */
  start(received: ReceivedBuildRequest, stop?: AbortSignal): Promise<ActorRef<never>>;
  readonly app: AppHandle<WorkflowInput, never>;
  /** The build farm's engines, slots and leases; rejects while the farm is not running. */
  farm(): Promise<FarmStatus>;
}

/** The workflow options a configuration gives. */
function workflowOptions(
  config: BuilderConfig,
  engines: EngineSource,
  reporterFor: (request: BuildRequest) => Reporter,
  redactor: Redactor,
  options: Pick<BuilderOptions, 'steps' | 'killSwitch' | 'finishTimeoutMs' | 'onRetry'>,
): WorkflowOptions {
  return {
    deps: { ...stepDeps(config, engines), learnSecret: (secret) => redactor.add(secret) },
    workRoot: config.workDir,
    workflowTimeoutMs: config.workflowTimeoutSeconds * 1000,
    stepTimeoutMs: config.stepTimeoutSeconds * 1000,
    hostname: config.hostname,
    reporterFor,
    ...(options.steps ? { steps: options.steps } : {}),
    ...(options.killSwitch ? { killSwitch: options.killSwitch } : {}),
    finishTimeoutMs: options.finishTimeoutMs ?? config.finishTimeoutSeconds * 1000,
    ...(options.onRetry ? { onRetry: options.onRetry } : {}),
  };
}

/** A redactor for the secrets of the configuration; add the ones learnt at run time to it. */
export function configRedactor(config: BuilderConfig): Redactor {
  return new Redactor([...secretValues(config), urlPassword(config.amqpUrl)]);
}

/**
 * A command's logger: the configured level and format on `stream`, every line scrubbed of the secrets. `auto`
 * is what LOG_FORMAT=auto means for the command (default: readable on a terminal, JSON elsewhere). The
 * settings' warnings are its first records.
 */
export function commandLogger(
  config: BuilderConfig,
  stream: NodeJS.WritableStream,
  auto?: LogFormat,
): { readonly log: Logger; readonly redactor: Redactor } {
  const redactor = configRedactor(config);
  const log = createLogger({
    level: config.logLevel,
    format: config.logFormat === 'auto' && auto ? auto : logFormatFor(config.logFormat, stream),
    stream,
    scrub: (line) => redactor.redact(line),
  });
  for (const warning of settingWarnings(config)) log.warn(warning);
  return { log, redactor };
}

/** Starts the actor tree with one workflow slot per `BUILDER_CONCURRENCY`. */
export async function startBuilder(options: BuilderOptions): Promise<Builder> {
  const { config } = options;
  const log = options.log ?? nopLogger;
  const redactor = options.redactor ?? configRedactor(config);
  // The reporter saves the request's fields to the Manager: they are masked like everything else it sends.
  const reporterFor = (request: BuildRequest): Reporter =>
    redactingReporter(options.reporterFor(redactor.redactValue(request)), redactor);
  const farm = farmSettings(config);
  // Looked up at each use: a restarted farm is a new incarnation with a new ref.
  const started: { app?: AppHandle<WorkflowInput, never> } = {};
  const farmRef = (): ActorRef<FarmMsg> | undefined =>
    started.app?.child('farm') as ActorRef<FarmMsg> | undefined;
  const engines = farmSource(farmRef, farm.engines, farm.engine);
  const workflow = workflowOptions(config, engines, reporterFor, redactor, options);
  const app = await startApp<WorkflowInput, never>({
    ...options.app,
    infrastructure: {
      ...options.app?.infrastructure,
      farm: () =>
        farmActor({
          ...farm,
          probeIntervalMs: config.buildHostProbeSeconds * 1000,
          ...(options.leftoverImages ? { leftoverImages: options.leftoverImages } : {}),
        }),
    },
    log,
    maxWorkflows: config.concurrency,
    shutdownMs: config.shutdownGraceSeconds * 1000,
    workflow: (id, input) => workflowActor(id, input, workflow),
  });
  started.app = app;
  return {
    app,
    farm: () => {
      const ref = farmRef();
      return ref ? farmStatus(ref) : Promise.reject(new ActorStoppedError('app/farm'));
    },
    start: (received, stop) =>
      app.startWorkflow(received.request.id, {
        request: received.request,
        received: received.term,
        ...(stop ? { stop } : {}),
      }),
  };
}
