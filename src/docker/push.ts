import { retry, type RetryPolicy } from '../outage/retry';
import { transientText } from '../outage/transient';
import { credentialsFor, type RegistryAccess } from '../registry/access';
import { withDeadline } from '../registry/deadline';
import { ImageNotFoundError, RegistryAuthError, RegistryUnavailableError } from '../registry/errors';
import { imageReference, type ImageName } from '../registry/image-name';
import { authConfig } from './auth-config';
import type { DockerCallContext } from './call-context';
import type { Engine } from './engine';
import { dial, errorMessage, readText } from './engine-call';
import { DockerEngineError, DockerPushError, DockerTimeoutError, DockerUnreachableError } from './errors';
import { followStream } from './progress';

/** How patiently images are pushed. */
export interface PushOptions {
  /** Deadline of one attempt to push one tag, in milliseconds. Default 600000 (PUSH_TIMEOUT_SECONDS). */
  readonly timeoutMs?: number;
  /** Retries of a tag whose push met an unavailable registry or engine, over the caller's outage policy. */
  readonly retry?: RetryPolicy;
}

/** Which local tags of an image to push where. */
export interface PushInput extends PushOptions {
  readonly engine: Engine;
  readonly image: ImageName;
  /** Tags (not references) to push, each explicitly, in order: e.g. the commit. */
  readonly tags: readonly string[];
  readonly access: RegistryAccess;
}

/** One pushed tag and the manifest digest the registry stored for it. */
export interface PushedTag {
  readonly tag: string;
  readonly digest: string | undefined;
}

const AUTH_FAILURE = /unauthorized|authentication required|no basic auth credentials|denied|\b401\b/i;
const NOT_LOCAL = /does not exist locally|no such image/i;

/** Sorts a push failure the daemon reported by its message (the daemon gives no code for these). */
export function pushFailure(image: ImageName, tag: string, message: string): Error {
  if (AUTH_FAILURE.test(message)) return new RegistryAuthError(image.registry, message);
  if (NOT_LOCAL.test(message)) return new ImageNotFoundError(imageReference(image, tag), 'build host');
  if (transientText(message)) return new RegistryUnavailableError(image.registry, message);
  return new DockerPushError(message);
}

async function pushTag(
  input: PushInput,
  tag: string,
  ctx: DockerCallContext,
  signal: AbortSignal,
): Promise<PushedTag> {
  const { engine, image } = input;
  const onLine = ctx.onLine ?? (() => undefined);
  const call = {
    method: 'POST' as const,
    path: `/images/${image.name}/push`,
    query: { tag },
    registryAuth: authConfig(image.registry, credentialsFor(image, input.access)),
  };
  const res = await dial(engine.modem, engine.endpoint, call, signal);
  if (res.statusCode !== 200) {
    const message = errorMessage(await readText(res, engine.endpoint, signal));
    if (res.statusCode === 404) throw new ImageNotFoundError(imageReference(image, tag), 'build host');
    if (AUTH_FAILURE.test(message)) throw new RegistryAuthError(image.registry, message);
    throw new DockerEngineError(engine.endpoint, res.statusCode ?? 0, message);
  }
  let digest: string | undefined;
  const outcome = await followStream(
    res,
    engine.endpoint,
    signal,
    (message) => (digest = message.aux?.Digest ?? digest),
    onLine,
  );
  if (outcome.error !== undefined) throw pushFailure(image, tag, outcome.error);
  return { tag, digest };
}

/**
 * Pushes each tag of `image` explicitly (modern daemons push only the tag they are given). `X-Registry-Auth`
 * goes with every request: the configured credentials when the image lives in the configured registry, `{}`
 * otherwise. A push that meets an unavailable registry (5xx, refused or reset connections, in the stream or
 * as an HTTP status, or a blob the registry lost) or engine is retried with backoff within the outage budget;
 * pushing a tag again is harmless, as the registry keeps the layers it already has. An auth failure is not retried
 * and throws {@link RegistryAuthError}.
 */
export async function pushImage(input: PushInput, ctx: DockerCallContext): Promise<PushedTag[]> {
  const timeoutMs = input.timeoutMs ?? 600_000;
  const pushed: PushedTag[] = [];
  for (const tag of input.tags) {
    const reference = imageReference(input.image, tag);
    const attempt = () =>
      withDeadline(
        ctx.signal,
        timeoutMs,
        () => new DockerTimeoutError(`push of ${reference}`, timeoutMs / 1000),
        (signal) => pushTag(input, tag, ctx, signal),
      );
    pushed.push(
      await retry(attempt, {
        // The engine's own failures (its connection, its HTTP status) name it; what it relays is the registry's.
        dependency: (err) =>
          err instanceof DockerUnreachableError || err instanceof DockerEngineError
            ? 'docker engine'
            : 'registry',
        policy: { ...ctx.outage, ...input.retry },
        signal: ctx.signal,
        onRetry:
          ctx.outage?.onRetry ??
          ((notice) =>
            ctx.log?.warn('docker push failed; retrying', {
              reference,
              attempt: notice.attempt,
              delayMs: notice.delayMs,
              err: notice.error,
            })),
      }),
    );
  }
  return pushed;
}
