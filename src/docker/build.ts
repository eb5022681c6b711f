import { nopLogger } from '../log';
import type { RegistryAccess } from '../registry/access';
import { registryHost } from '../registry/image-name';
import { authConfig, serverAddress } from './auth-config';
import { buildContext } from './build-context';
import { withBuildDeadline } from './build-deadline';
import { chooseBackend, type BuilderBackend } from './buildkit/backend';
import type { DockerCallContext } from './call-context';
import { removeLeftovers } from './cleanup';
import type { Engine } from './engine';
import { dial, errorMessage, readText } from './engine-call';
import { DockerBuildError } from './errors';
import { followStream } from './progress';
import { BuildTranscript } from './transcript';

/** How an image is built. */
export interface BuildOptions {
  /** Dockerfile path inside the context. Default `Dockerfile`. */
  readonly dockerfile?: string;
  /** Values for the Dockerfile's `ARG`s. Default none. */
  readonly buildArgs?: Readonly<Record<string, string>>;
  /**
   * Network mode of `RUN` steps (`none`, `host`, a network name). Default unset: the daemon's default
   * network, since `RUN` steps may need it in production (the classic builder also works on a dockerd started
   * with `--bridge=none`). podman's compatible API runs `RUN` steps in the host's network namespace when this
   * is unset; set `none` there unless the steps need the network.
   */
  readonly networkMode?: string;
  /**
   * Build without the layer cache, as the original did (`--no-cache=true`). Default true. With the cache on,
   * cache hits are shared with other builds and are never removed by this build's cleanup.
   */
  readonly noCache?: boolean;
  /** Memory limit of the build containers, in bytes. Default none. */
  readonly memoryBytes?: number;
  /** CPU limit of the build containers, in microseconds per 100 ms period (100000 = one CPU). Default none. */
  readonly cpuQuota?: number;
  /** Deadline of the whole build, in milliseconds. Default 1800000 (BUILD_TIMEOUT_SECONDS). */
  readonly timeoutMs?: number;
  /**
   * BuildKit, the classic builder, or `auto`: BuildKit where the engine offers it. Default `classic`, what a
   * caller that does not choose has always had; BUILD_BACKEND chooses for the builder (default `auto`).
   */
  readonly backend?: BuilderBackend;
  /**
   * Values a BuildKit build may mount with `RUN --mount=type=secret,id=<key>`, served through its session
   * and never written into a layer, the history or the log. The classic builder has no secrets. Default none.
   */
  readonly secrets?: Readonly<Record<string, string>>;
}

/** One image build. */
export interface BuildInput extends BuildOptions {
  readonly engine: Engine;
  /** The rendered deployment repo: the build context. */
  readonly contextDir: string;
  /** Full references the image gets, e.g. `<image>:<commit>`. */
  readonly tags: readonly string[];
  /** The configured registry; its credentials, if any, let FROM pull private base images. Default: none. */
  readonly access?: RegistryAccess;
}

/** The image a build produced. */
export interface BuiltImage {
  /** `sha256:<hex>` from the daemon's `aux.ID`, or the short id of "Successfully built <id>" without one. */
  readonly id: string;
  readonly tags: readonly string[];
}

function registryConfig(access: RegistryAccess | undefined): object | undefined {
  if (!access?.credentials) return undefined;
  const registry = registryHost(access.url);
  return { [serverAddress(registry)]: authConfig(registry, access.credentials) };
}

// The BuildKit backend brings protobufjs and its parsed definitions (some 100 ms of loading): it is loaded by
// the first BuildKit build, so a process that builds with the classic builder, or not at all, never pays.
function loadBuildKit(): typeof import('./buildkit/build') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('./buildkit/build') as typeof import('./buildkit/build');
}

/**
 * Builds `contextDir` with the backend that `input.backend` names or, for `auto`, the engine offers:
 * BuildKit (`buildWithBuildKit`) or {@link classicBuild}. Both take the same input and give the same result.
 */
export async function buildImage(input: BuildInput, ctx: DockerCallContext): Promise<BuiltImage> {
  const backend = await chooseBackend(input.engine, input.backend ?? 'classic', ctx.signal, ctx.log);
  return backend === 'buildkit' ? loadBuildKit().buildWithBuildKit(input, ctx) : classicBuild(input, ctx);
}

/**
 * Builds `contextDir` with the classic builder (`POST /build`, `rm` and `forcerm` always on, so intermediate
 * containers go even when a step fails) and tags the result with every entry of `tags`. No `labels` are
 * passed and no `LABEL` is added: the classic builder would commit one more image for it, a step every build
 * would pay for. What a build commits is known from its output instead: each step image goes to
 * `ctx.onImage` as it is committed (for a successor to remove, should this process be killed mid-build), and
 * {@link removeBuildImages} finds the result by its tags and id. Output goes to `ctx.onLine` line by line. A
 * step that fails in the stream (HTTP 200 with `errorDetail`) or an HTTP error throws {@link DockerBuildError}
 * with the daemon's message; the deadline {@link DockerTimeoutError}. Aborting `ctx.signal` closes the request,
 * which makes the daemon cancel the build. On every failure the containers and images this build created are
 * removed before the error is thrown.
 */
async function classicBuild(input: BuildInput, ctx: DockerCallContext): Promise<BuiltImage> {
  const { engine } = input;
  const onLine = ctx.onLine ?? (() => undefined);
  const context = await buildContext(input.contextDir, input.dockerfile ?? 'Dockerfile');
  let contextError: Error | undefined;
  context.on('error', (err: Error) => (contextError = err));
  const transcript = new BuildTranscript(onLine, (id) => ctx.onImage?.({ endpoint: engine.endpoint, id }));
  const query = {
    t: input.tags,
    dockerfile: input.dockerfile ?? 'Dockerfile',
    buildargs: input.buildArgs,
    rm: true,
    forcerm: true,
    nocache: input.noCache ?? true,
    networkmode: input.networkMode,
    memory: input.memoryBytes,
    cpuperiod: input.cpuQuota === undefined ? undefined : 100_000,
    cpuquota: input.cpuQuota,
  };
  const registry = registryConfig(input.access);
  try {
    return await withBuildDeadline(ctx.signal, input.timeoutMs, async (signal) => {
      const call = {
        method: 'POST' as const,
        path: '/build',
        query,
        body: context,
        registryConfig: registry,
      };
      const res = await dial(engine.modem, engine.endpoint, call, signal);
      if (res.statusCode !== 200)
        throw new DockerBuildError(errorMessage(await readText(res, engine.endpoint, signal)));
      let auxId: string | undefined;
      const outcome = await followStream(
        res,
        engine.endpoint,
        signal,
        (message) => {
          if (message.stream !== undefined) transcript.write(message.stream);
          auxId = message.aux?.ID ?? auxId;
        },
        onLine,
      );
      transcript.end();
      if (outcome.error !== undefined) throw new DockerBuildError(outcome.error);
      const id = auxId ?? transcript.builtId;
      // The original's own words for a build that ends without naming an image.
      if (!id) throw new DockerBuildError('Docker build failed to produce a valid image!');
      return { id, tags: [...input.tags] };
    });
  } catch (err) {
    await removeLeftovers(
      engine,
      { containers: transcript.containers, image: transcript.createdImage },
      ctx.log ?? nopLogger,
    );
    if (contextError)
      throw new DockerBuildError(`the build context could not be sent: ${contextError.message}`);
    throw err;
  }
}
