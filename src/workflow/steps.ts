import path from 'node:path';
import {
  createImage,
  DockerUnreachableError,
  LEFTOVER_GRACE_MS,
  pruneLeftovers,
  recordImage,
  removeBuildImages,
  statusMessages,
  type BuildOptions,
  type BuiltImage,
  type Engine,
  type PushOptions,
} from '../docker';
import type { EngineLease, EngineSource, LeaseOutcome } from '../docker/farm/source';
import {
  checkoutRepo,
  readSourceFile,
  renderCommitPush,
  resolveSourceCommit,
  resolveRemote,
  type GitAccess,
  type GitAuthor,
  type KeyedMutex,
} from '../git';
import type { Logger } from '../log';
import type { OutageWatch } from '../outage';
import type { BuildRequest, DeployableUnit } from '../messages';
import {
  imageName,
  imageReference,
  registryCredentials,
  verifyImage,
  type ImageName,
  type RegistryAccess,
} from '../registry';
import {
  notificationsConfig,
  OPENAPERTURE_FILE,
  readAwsConfig,
  readDockerSettings,
  readEcsTaskDefinition,
  readEtcdToken,
  readFleetConfig,
  readUnits,
  selectSourceRepo,
  type DockerSettings,
  type JsonValue,
  type SourceRepoSpec,
} from '../repo';
import { renderTemplates } from '../templates';
import type { EventKind } from './reporter';

/**
 * The steps of a workflow as plain functions ("actors decide, adapters do"): each takes plain data, the
 * shared {@link StepDeps} and a {@link StepContext}, and returns plain data or throws a {@link StepError}
 * (or any adapter error) whose message is fit for the event log. The workflow actor runs each in its own
 * child actor.
 */

/** What the builder's configuration gives every workflow; built once by the composition root. */
export interface StepDeps {
  readonly git: GitAccess;
  readonly author: GitAuthor;
  /** DOCKER_REGISTRY_URL and its credentials; docker.json may name another registry. */
  readonly registry: RegistryAccess;
  /** The build farm (BUILD_HOSTS): a slot on a healthy engine for each build. */
  readonly engines: EngineSource;
  readonly build: BuildOptions;
  readonly push: PushOptions;
  /** Deadline of one registry lookup, in milliseconds. */
  readonly registryTimeoutMs: number;
  /** How long an unavailable git server, registry or engine is waited for (OUTAGE_BUDGET_SECONDS), in ms. */
  readonly outageBudgetMs: number;
  /** Serialises pushes per deployment repository. Default: the process-wide table. */
  readonly locks?: KeyedMutex;
  /** How old the builder's dangling images must be before a build that did not finish removes them. */
  readonly leftoverGraceMs?: number;
  /**
   * Told of each secret a deployment repository brings (docker.json's registry password), before anything
   * could print it: the redactor learns it. Default: none.
   */
  readonly learnSecret?: (secret: string) => void;
}

/** What a step can tell its workflow while it runs. */
export interface StepReport {
  event(kind: EventKind, message: string): void;
  /** The workflow record is worth saving now. */
  save(): void;
  /** One line of build or push output. */
  line(text: string): void;
}

export interface StepContext {
  readonly signal: AbortSignal;
  readonly log: Logger;
  readonly report: StepReport;
  /** The outage budget, the step's deadline, and who hears each retry. Default: no retries. */
  readonly outage?: OutageWatch | undefined;
}

/** A step failure with the event-log reason already worded. */
export class StepError extends Error {
  override readonly name = 'StepError';
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

// --- checkout --------------------------------------------------------------------------------------------

export interface CheckoutStepInput {
  readonly request: BuildRequest;
  /** The workflow's private directory; the checkout goes below it. */
  readonly workDir: string;
}

export interface CheckoutStepOutput {
  readonly dir: string;
  /** The deployment commit checked out. */
  readonly commit: string;
  readonly branch: string | null;
  readonly docker: DockerSettings;
  readonly etcdToken: string | null;
  readonly source: SourceRepoSpec | null;
  /**
   * What became of fetching `source` while the deployment repo was cloned: its commit (fetched below the work
   * dir) or why it failed, for the config step to report; null when that was not tried.
   */
  readonly sourceFetch: SourceFetch | null;
}

/** The source commit fetched ahead, or the message of the error that fetching it met. Plain data. */
export type SourceFetch = { readonly commit: string } | { readonly error: string };

const sourceDir = (workDir: string): string => path.join(workDir, 'source');

/**
 * Resolves and fetches the source commit while the deployment repo is cloned, when the request alone names
 * the source (as the orchestrator's requests do): the two repositories are on the network at once instead of
 * one after the other. A failure is the config step's to report, as if it had met it itself: trying again
 * there would double the wait on a server that hangs.
 */
async function prefetchSource(
  input: CheckoutStepInput,
  deps: StepDeps,
  ctx: StepContext,
  signal: AbortSignal,
): Promise<{ readonly spec: SourceRepoSpec; readonly fetch: SourceFetch } | null> {
  const { source_repo: repo, source_repo_git_ref: ref } = input.request;
  if (!repo || !ref) return null;
  try {
    const dir = sourceDir(input.workDir);
    const remote = resolveRemote(repo, deps.git);
    const { commit } = await resolveSourceCommit(
      { remote, ref, dir },
      { signal, log: ctx.log, outage: ctx.outage },
    );
    return { spec: { repo, ref }, fetch: { commit } };
  } catch (err) {
    return { spec: { repo, ref }, fetch: { error: messageOf(err) } };
  }
}

/** The original's `DeploymentRepo.init_from_request`: clone the deployment repo and read its settings. */
export async function checkoutStep(
  input: CheckoutStepInput,
  deps: StepDeps,
  ctx: StepContext,
): Promise<CheckoutStepOutput> {
  const { request } = input;
  if (!request.deployment_repo) throw new StepError('Missing deployment_repo');
  const done = new AbortController();
  const prefetch = prefetchSource(input, deps, ctx, AbortSignal.any([ctx.signal, done.signal]));
  try {
    const checkout = await checkoutRepo(
      {
        remote: resolveRemote(request.deployment_repo, deps.git),
        ref: request.deployment_repo_git_ref ?? undefined,
        dir: path.join(input.workDir, 'deployment'),
      },
      ctx,
    );
    const docker = await readDockerSettings(checkout.dir);
    if (docker.registry?.password !== undefined) deps.learnSecret?.(docker.registry.password);
    const etcdToken = await readEtcdToken(checkout.dir, request.milestones);
    const source = await selectSourceRepo(checkout.dir, request);
    const ahead = await prefetch;
    const sameSource = ahead !== null && ahead.spec.repo === source?.repo && ahead.spec.ref === source.ref;
    return {
      dir: checkout.dir,
      commit: checkout.commit,
      branch: checkout.branch,
      docker,
      etcdToken,
      source,
      sourceFetch: sameSource ? ahead.fetch : null,
    };
  } finally {
    // The fetch writes below the work dir: it must be over before this step answers.
    done.abort();
    await prefetch;
  }
}

// --- config (render, commit, push) -----------------------------------------------------------------------

export interface ConfigStepInput {
  readonly request: BuildRequest;
  readonly workDir: string;
  readonly checkout: CheckoutStepOutput;
}

export interface ConfigStepOutput {
  /** The source commit: the resolved source ref, the tag of the image. */
  readonly commit: string;
  /** The deployment commit pushed, or null when nothing changed (or the checkout is detached). */
  readonly deploymentCommit: string | null;
  readonly changed: readonly string[];
  readonly notificationsConfig: JsonValue | null;
  readonly fleetConfig: JsonValue | null;
  readonly awsConfig: JsonValue | null;
  readonly units: readonly DeployableUnit[];
  readonly ecsTaskDefinition: string | null;
}

async function sourceCommit(input: ConfigStepInput, deps: StepDeps, ctx: StepContext) {
  const { request, checkout } = input;
  const requested = request.source_repo_git_ref ?? '';
  if (checkout.source === null) {
    if (requested === '') throw new StepError('Missing source_repo_git_ref');
    return { commit: requested, notifications: null };
  }
  const remote = resolveRemote(checkout.source.repo, deps.git);
  const dir = sourceDir(input.workDir);
  const fetched = checkout.sourceFetch;
  if (fetched !== null && 'error' in fetched) throw new StepError(fetched.error);
  const commit =
    fetched?.commit ?? (await resolveSourceCommit({ remote, ref: checkout.source.ref, dir }, ctx)).commit;
  if (commit !== requested) {
    ctx.report.event('log', `Git commit hash resolved from checkout: ${requested} -> ${commit}`);
  }
  const text = await readSourceFile({ remote, commit, dir, path: OPENAPERTURE_FILE }, ctx);
  return { commit, notifications: notificationsConfig(text, ctx.log) };
}

/** The config milestone: resolve the source commit, render the templates with it, commit and push them. */
export async function configStep(
  input: ConfigStepInput,
  deps: StepDeps,
  ctx: StepContext,
): Promise<ConfigStepOutput> {
  const { request, checkout } = input;
  const { commit, notifications } = await sourceCommit(input, deps, ctx);
  const fleetConfig = await readFleetConfig(checkout.dir);
  const awsConfig = await readAwsConfig(checkout.dir);
  ctx.report.event('success', `Requesting configuration of repository ${request.deployment_repo ?? ''}...`);
  ctx.report.save();
  let published;
  try {
    published = await renderCommitPush(
      {
        remote: resolveRemote(request.deployment_repo ?? '', deps.git),
        checkout,
        sourceCommit: commit,
        author: deps.author,
        render: async (dir) => (await renderTemplates({ dir, commitHash: commit }, ctx)).changed,
        ...(deps.locks ? { locks: deps.locks } : {}),
      },
      ctx,
    );
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    throw new StepError(`Failed to commit changes:  ${messageOf(err)}`, { cause: err });
  }
  if (published.skipped === 'unchanged') ctx.log.info('There are no files to commit...');
  const units = (await readUnits(checkout.dir)).map((unit) => ({
    name: unit.name,
    options: unit.options.map((o) => ({ section: o.section, name: o.name, value: o.value })),
    desiredState: null,
    currentState: null,
    machineID: null,
  }));
  return {
    commit,
    deploymentCommit: published.commit,
    changed: published.changed,
    notificationsConfig: notifications,
    fleetConfig,
    awsConfig,
    units,
    ecsTaskDefinition: await readEcsTaskDefinition(checkout.dir),
  };
}

// --- image (build, verify) -------------------------------------------------------------------------------

/** The registry an image goes to: docker.json's own when it names one, the configured one otherwise. */
export function registryAccess(docker: DockerSettings, configured: RegistryAccess): RegistryAccess {
  const custom = docker.registry;
  if (custom === null) return configured;
  return {
    url: custom.url,
    credentials: registryCredentials(custom.username, custom.password, custom.email),
  };
}

export interface ImageStepInput {
  readonly forceBuild: boolean;
  readonly docker: DockerSettings;
  /** The source commit: the image's tag. */
  readonly commit: string;
  /** The rendered deployment checkout: the build context. */
  readonly contextDir: string;
  /** The deployment repo: builds of one repo prefer one engine, for its layer cache. Default: the image. */
  readonly deploymentRepo?: string | null;
  /** Names the build in `/healthz`. Default: the image reference. */
  readonly workflowId?: string;
  /**
   * The workflow's work directory, where the images a classic build commits are written down as they appear,
   * for a successor to remove should this replica be killed mid-build. Default: not written down.
   */
  readonly workDir?: string;
}

export interface BuildStepOutput {
  /** `<image>:<commit>`. */
  readonly reference: string;
  readonly imageFound: boolean;
  readonly imageId: string | null;
}

function image(input: Pick<ImageStepInput, 'docker'>, deps: StepDeps): [ImageName, RegistryAccess] {
  const access = registryAccess(input.docker, deps.registry);
  return [imageName(input.docker.dockerUrl, access.url), access];
}

/**
 * The build milestone: unless forced, skip when the registry has `<image>:<commit>`, without touching the
 * farm; otherwise lease a slot on an engine, build, tag and push. A failure that is the engine's (it cannot be
 * reached, or it stopped under the build: see the lease's `fault`) names the engine and takes it out of
 * rotation; a build it met before any step began moves to another engine. The local tags this build made are
 * removed afterwards (the registry holds the image), never others; a build that did not finish also removes the
 * dangling images builds of this builder left on its engine (`pruneLeftovers`: what BuildKit builds of killed
 * replicas left untagged). The images a classic build commits are written down in `input.workDir` as they
 * appear, for the farm of a successor to remove. The slot is given back last.
 */
export async function buildStep(
  input: ImageStepInput,
  deps: StepDeps,
  ctx: StepContext,
): Promise<BuildStepOutput> {
  const [name, access] = image(input, deps);
  const reference = imageReference(name, input.commit);
  const request = {
    key: input.deploymentRepo ?? input.docker.dockerUrl,
    workflowId: input.workflowId ?? reference,
    exclude: [] as string[],
  };
  // Set once a build starts: when the registry has the image, no Engine call is made at all.
  const local: { lease?: EngineLease; built?: BuiltImage } = {};
  const acquire = async (): Promise<Engine> => {
    // A copy: messages are plain data, and this build's list of engines to avoid still grows.
    const lease = await deps.engines.acquire(
      { ...request, exclude: [...request.exclude] },
      {
        signal: ctx.signal,
        log: ctx.log,
        onWait: (why) => ctx.report.event('log', `Waiting for a free docker build slot: ${why}`),
      },
    );
    local.lease = lease;
    const { endpoint } = lease.engine;
    ctx.log.debug('docker host chosen', { endpoint, reason: lease.reason, waited_ms: lease.waitedMs });
    if (lease.waitedMs > 0)
      ctx.report.event('log', `Waited ${(lease.waitedMs / 1000).toFixed(1)} s for a docker build slot`);
    ctx.report.event(
      'success',
      `Beginning docker image build of ${input.docker.dockerUrl}:${input.commit} on docker host ${endpoint}...`,
    );
    ctx.report.save();
    return lease.engine;
  };
  const reconnect = (failed: Engine, err: DockerUnreachableError): Promise<Engine> => {
    local.lease?.release('unreachable', err.message);
    request.exclude.push(failed.endpoint);
    ctx.report.event(
      'log',
      `Docker host ${failed.endpoint} failed before the build started (${err.detail}); ` +
        'moving the build to another docker host',
    );
    return acquire();
  };
  let outcome: LeaseOutcome = 'ok';
  try {
    const result = await createImage(
      {
        connect: acquire,
        reconnect,
        engineFault: async (_engine, err) => local.lease?.fault(err),
        image: name,
        commit: input.commit,
        contextDir: input.contextDir,
        forceBuild: input.forceBuild,
        access,
        build: deps.build,
        push: deps.push,
        registryTimeoutMs: deps.registryTimeoutMs,
      },
      {
        signal: ctx.signal,
        log: ctx.log,
        outage: ctx.outage,
        onLine: (line) => ctx.report.line(line),
        onStatus: (message) => ctx.report.event('success', message),
        onBuilt: (built) => (local.built = built),
        onImage: (committed) => {
          if (input.workDir === undefined) return;
          try {
            recordImage(input.workDir, committed);
          } catch (err) {
            ctx.log.warn('could not write down an image the build committed', { ...committed, err });
          }
        },
      },
    );
    return { reference, imageFound: result.imageFound, imageId: result.imageId ?? null };
  } catch (err) {
    outcome = ctx.signal.aborted
      ? 'stopped'
      : err instanceof DockerUnreachableError
        ? 'unreachable'
        : 'failed';
    if (ctx.signal.aborted) throw err;
    throw new StepError(
      `Failed to build docker image ${input.docker.dockerUrl}:${input.commit}:  ${messageOf(err)}`,
      { cause: err },
    );
  } finally {
    const { lease, built } = local;
    if (lease && built) {
      await removeBuildImages(
        { engine: lease.engine, image: built },
        { signal: AbortSignal.timeout(30_000), log: ctx.log, outage: ctx.outage },
      )
        .then(
          (removed) =>
            removed.length > 0 &&
            ctx.log.debug('removed local images', { endpoint: lease.engine.endpoint, removed }),
        )
        .catch((err: unknown) =>
          ctx.log.warn('could not remove the local images of this build', {
            endpoint: lease.engine.endpoint,
            err,
          }),
        );
    }
    // An engine that could not be reached would only make the prune fail too.
    if (lease && outcome !== 'ok' && outcome !== 'unreachable') {
      await pruneLeftovers(lease.engine, deps.leftoverGraceMs ?? LEFTOVER_GRACE_MS, {
        signal: AbortSignal.timeout(30_000),
        log: ctx.log,
      });
    }
    lease?.release(outcome);
    ctx.report.save();
  }
}

/** The verify milestone: the registry must have `<image>:<commit>`. */
export async function verifyStep(
  input: Pick<ImageStepInput, 'docker' | 'commit'>,
  deps: StepDeps,
  ctx: StepContext,
): Promise<{ readonly reference: string }> {
  const [name, access] = image(input, deps);
  const reference = imageReference(name, input.commit);
  try {
    await verifyImage(
      { image: name, tag: input.commit, access, timeoutMs: deps.registryTimeoutMs },
      { signal: ctx.signal, log: ctx.log, outage: ctx.outage },
    );
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    throw new StepError(`Docker image (${reference}) not found in docker repo: ${messageOf(err)}`, {
      cause: err,
    });
  }
  ctx.report.event('log', statusMessages.verified(reference));
  return { reference };
}
