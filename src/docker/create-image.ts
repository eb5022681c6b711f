import type { RegistryAccess } from '../registry/access';
import { imageReference, type ImageName } from '../registry/image-name';
import { manifestExists, tagManifest } from '../registry/manifest';
import type { RetryPolicy } from '../outage/retry';
import { buildImage, type BuildOptions, type BuiltImage } from './build';
import type { DockerCallContext } from './call-context';
import type { Engine } from './engine';
import { DockerTimeoutError, DockerUnreachableError } from './errors';
import { pushImage, type PushedTag, type PushOptions } from './push';
import { shortImageId, statusMessages } from './status';

/** The build milestone's image step for one workflow. */
export interface CreateImageInput {
  /**
   * Connects to the build host (e.g. {@link connectEngine}); called only once a build is needed, so the path
   * where the registry already has the image makes no Engine call at all.
   */
  readonly connect: () => Promise<Engine>;
  /**
   * Another engine for a build that `failed` failed before any of its steps began to execute: the build then
   * runs there instead of failing. Default: none, the error stands.
   */
  readonly reconnect?: (failed: Engine, error: DockerUnreachableError) => Promise<Engine>;
  /**
   * Whether an error of a build or push on `engine` that is no connection error is the engine's failure,
   * named so (e.g. the farm lease's `fault`). Default: only connection errors are.
   */
  readonly engineFault?: (engine: Engine, err: unknown) => Promise<DockerUnreachableError | undefined>;
  /** From docker.json `docker_url` and the registry URL, by `imageName`. */
  readonly image: ImageName;
  /** The resolved source commit: the tag that says which source the image holds. */
  readonly commit: string;
  /** The rendered deployment repo. */
  readonly contextDir: string;
  /** Build even when the registry already has `<image>:<commit>`. */
  readonly forceBuild: boolean;
  readonly access: RegistryAccess;
  readonly build?: BuildOptions;
  readonly push?: PushOptions;
  /** Deadline of one registry lookup, in milliseconds. Default 30000 (HTTP_TIMEOUT_SECONDS). */
  readonly registryTimeoutMs?: number;
  /** Retries of registry lookups, over the caller's outage policy. */
  readonly registryRetry?: RetryPolicy;
}

/** What the image step did. */
export interface CreateImageResult {
  /** True when the image already existed and nothing was built (the verify milestone then has nothing to do). */
  readonly imageFound: boolean;
  /** `<image>:<commit>`. */
  readonly reference: string;
  /** The built image's id; undefined when nothing was built. */
  readonly imageId: string | undefined;
  /** Every status message, in order, in the original's words (also given to `onStatus` as they happen). */
  readonly messages: readonly string[];
}

/** A {@link DockerCallContext} that also hears each status message as soon as it is true. */
export interface CreateImageContext extends DockerCallContext {
  readonly onStatus?: (message: string) => void;
  /** Hears the built image as soon as it exists, before the push: what the workflow's cleanup removes. */
  readonly onBuilt?: (image: BuiltImage) => void;
}

/**
 * A build line that says a step other than `FROM` begins: from then on the build has run something on its
 * engine, and running it again elsewhere could repeat what it did. Classic: `Step 2/3 : RUN ...`; BuildKit:
 * `#5 [2/3] RUN ...` (`[stage 2/3]` in a multi-stage build).
 */
export const STEP_BEGINS = /^(?:Step \d+\/\d+ : |#\d+ \[[^\]]*\b\d+\/\d+\] )(?!FROM\b)/i;

/**
 * The original `create_docker_image`, without a shell: unless `forceBuild`, ask the registry whether
 * `<image>:<commit>` exists (by manifest, never by pulling) and stop there if it does; otherwise connect to
 * the engine, build the context tagged `<image>:<commit>`, push that tag, then point the registry's
 * `<image>:latest` at the manifest just pushed ({@link tagManifest}). `latest` is never a local tag: builds of
 * one image on one engine would move it under each other's push and cleanup, and the registry's own tag moves
 * to whichever build finishes last. Errors are the typed errors of the registry lookup, `connect`,
 * {@link buildImage}, {@link pushImage} and {@link tagManifest}; the status messages sent before the failure
 * have reached `onStatus` by then. Local images are left for the workflow's cleanup (`removeBuildImages`),
 * which `onBuilt` tells what they are.
 */
export async function createImage(
  input: CreateImageInput,
  ctx: CreateImageContext,
): Promise<CreateImageResult> {
  const reference = imageReference(input.image, input.commit);
  const messages: string[] = [];
  const say = (message: string) => {
    messages.push(message);
    ctx.onStatus?.(message);
  };
  if (input.forceBuild) {
    say(statusMessages.forceBuild());
  } else {
    const query = {
      image: input.image,
      tag: input.commit,
      access: input.access,
      ...(input.registryTimeoutMs === undefined ? {} : { timeoutMs: input.registryTimeoutMs }),
      ...(input.registryRetry === undefined ? {} : { retry: input.registryRetry }),
    };
    if (await manifestExists(query, ctx)) {
      say(statusMessages.imageExists(reference));
      return { imageFound: true, reference, imageId: undefined, messages };
    }
    say(statusMessages.imageMissing(reference));
  }
  let engine = await input.connect();
  // The engine's failure behind an error of `engine`, naming it; undefined for the build's own errors. A
  // stopped workflow or a build past its deadline says nothing about the engine.
  const faultOf = async (err: unknown): Promise<DockerUnreachableError | undefined> => {
    if (ctx.signal.aborted || err instanceof DockerTimeoutError) return undefined;
    if (err instanceof DockerUnreachableError) return err;
    return input.engineFault?.(engine, err);
  };
  say(statusMessages.building(reference));
  let built: BuiltImage | undefined;
  while (!built) {
    let started = false;
    try {
      built = await buildImage(
        {
          ...input.build,
          engine,
          contextDir: input.contextDir,
          tags: [reference],
          access: input.access,
        },
        {
          ...ctx,
          onLine: (line) => {
            started ||= STEP_BEGINS.test(line);
            ctx.onLine?.(line);
          },
        },
      );
    } catch (err) {
      const fault = await faultOf(err);
      if (!fault) throw err;
      if (started || !input.reconnect) throw fault;
      engine = await input.reconnect(engine, fault);
    }
  }
  ctx.onBuilt?.(built);
  const id = shortImageId(built.id);
  say(statusMessages.built(id));
  say(statusMessages.tagged(id, input.access.url));
  let pushed: PushedTag | undefined;
  try {
    [pushed] = await pushImage(
      { ...input.push, engine, image: input.image, tags: [input.commit], access: input.access },
      ctx,
    );
  } catch (err) {
    throw (await faultOf(err)) ?? err;
  }
  // Outside the engine's judgement: moving latest is a registry call only.
  await tagManifest(
    {
      image: input.image,
      // The digest names exactly what this build pushed, even if another build pushes the same commit now.
      source: pushed?.digest ?? input.commit,
      tag: 'latest',
      access: input.access,
      ...(input.registryTimeoutMs === undefined ? {} : { timeoutMs: input.registryTimeoutMs }),
      ...(input.registryRetry === undefined ? {} : { retry: input.registryRetry }),
    },
    ctx,
  );
  say(statusMessages.pushed(id));
  return { imageFound: false, reference, imageId: built.id, messages };
}
