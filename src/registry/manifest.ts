import { retry, type RetryPolicy } from '../outage/retry';
import type { RegistryAccess } from './access';
import type { CallContext } from './call-context';
import { withDeadline } from './deadline';
import { ImageNotFoundError, RegistryResponseError, RegistryUnavailableError } from './errors';
import { imageReference, type ImageName } from './image-name';
import { registryRequest } from './request';

/** Every manifest kind a pushed image may have; a registry answers 404 for a tag whose kind is not accepted. */
export const MANIFEST_MEDIA_TYPES = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
] as const;

/** Which tag of which image to look up, where, and how patiently. */
export interface ManifestQuery {
  readonly image: ImageName;
  readonly tag: string;
  readonly access: RegistryAccess;
  /** Deadline of one attempt (authentication included), in milliseconds. Default 30000 (HTTP_TIMEOUT_SECONDS). */
  readonly timeoutMs?: number;
  /** Retries when the registry is unavailable, over the caller's {@link CallContext.outage}. */
  readonly retry?: RetryPolicy;
}

const manifestPath = (repository: string, reference: string) =>
  `/v2/${repository}/manifests/${encodeURIComponent(reference)}`;

async function lookup(query: ManifestQuery, method: 'HEAD' | 'GET', signal: AbortSignal): Promise<boolean> {
  const res = await registryRequest(
    {
      image: query.image,
      access: query.access,
      method,
      path: manifestPath(query.image.repository, query.tag),
      headers: { Accept: MANIFEST_MEDIA_TYPES.join(', ') },
    },
    signal,
  );
  await res.body?.cancel();
  if (res.status === 200) return true;
  if (res.status === 404) return false;
  // Some registry front ends do not implement HEAD on manifests; GET answers the same question.
  if (method === 'HEAD' && (res.status === 405 || res.status === 501)) return lookup(query, 'GET', signal);
  throw new RegistryResponseError(
    query.image.registry,
    res.status,
    `unexpected answer to the manifest ${method}`,
  );
}

/**
 * Runs `work` against `query`'s registry with its deadline per attempt, retrying unavailability with backoff
 * within the outage budget; `what` names the call in the retry warnings.
 */
function patiently<T>(
  query: Pick<ManifestQuery, 'image' | 'timeoutMs' | 'retry'>,
  ctx: CallContext,
  what: string,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const timeoutMs = query.timeoutMs ?? 30_000;
  return retry(
    () =>
      withDeadline(
        ctx.signal,
        timeoutMs,
        () => new RegistryUnavailableError(query.image.registry, `no answer within ${timeoutMs / 1000} s`),
        work,
      ),
    {
      dependency: 'registry',
      policy: { ...ctx.outage, ...query.retry },
      signal: ctx.signal,
      onRetry:
        ctx.outage?.onRetry ??
        ((notice) =>
          ctx.log?.warn(`${what} failed; retrying`, {
            attempt: notice.attempt,
            delayMs: notice.delayMs,
            err: notice.error,
          })),
    },
  );
}

/**
 * Whether `image:tag` is in the registry, asked of the registry's own API by manifest (HEAD, or GET where
 * HEAD is not supported), so nothing is pulled, the token request included. Unavailability is retried with
 * backoff within the outage budget; an auth failure is not.
 */
export async function manifestExists(query: ManifestQuery, ctx: CallContext): Promise<boolean> {
  return patiently(query, ctx, 'registry manifest lookup', (signal) => lookup(query, 'HEAD', signal));
}

/** Confirms that `image:tag` is in the registry; throws {@link ImageNotFoundError} when it is not. */
export async function verifyImage(query: ManifestQuery, ctx: CallContext): Promise<void> {
  if (!(await manifestExists(query, ctx))) {
    throw new ImageNotFoundError(imageReference(query.image, query.tag), 'registry');
  }
}

/** Which manifest of which image gets which tag, where, and how patiently. */
export interface TagQuery {
  readonly image: ImageName;
  /** The manifest to tag: a digest (`sha256:…`) or a tag that names it. */
  readonly source: string;
  /** The tag that is to name it, e.g. `latest`. */
  readonly tag: string;
  readonly access: RegistryAccess;
  /** Deadline of one attempt (both requests), in milliseconds. Default 30000 (HTTP_TIMEOUT_SECONDS). */
  readonly timeoutMs?: number;
  /** Retries when the registry is unavailable, over the caller's {@link CallContext.outage}. */
  readonly retry?: RetryPolicy;
}

async function copyManifest(query: TagQuery, signal: AbortSignal): Promise<void> {
  const { image, access } = query;
  const got = await registryRequest(
    {
      image,
      access,
      method: 'GET',
      path: manifestPath(image.repository, query.source),
      headers: { Accept: MANIFEST_MEDIA_TYPES.join(', ') },
    },
    signal,
  );
  if (got.status === 404) {
    await got.body?.cancel();
    throw new ImageNotFoundError(imageReference(image, query.source), 'registry');
  }
  if (got.status !== 200) {
    await got.body?.cancel();
    throw new RegistryResponseError(image.registry, got.status, 'unexpected answer to the manifest GET');
  }
  const mediaType = got.headers.get('content-type') ?? MANIFEST_MEDIA_TYPES[0];
  const body = new Uint8Array(await got.arrayBuffer());
  const put = await registryRequest(
    {
      image,
      access,
      method: 'PUT',
      path: manifestPath(image.repository, query.tag),
      headers: { 'Content-Type': mediaType },
      body,
    },
    signal,
  );
  if (put.status !== 201 && put.status !== 200) {
    const detail = await put.text().catch(() => '');
    throw new RegistryResponseError(image.registry, put.status, `the manifest PUT was refused: ${detail}`);
  }
  await put.body?.cancel();
}

/**
 * Makes `tag` name the manifest `source` names, in the registry itself: the manifest is read and stored again
 * under `tag`, byte for byte, so its digest stays the same and no layer moves. The registry applies each PUT
 * whole, so of several builds moving one tag at once, the one whose PUT lands last wins, and no engine's
 * local tag is involved. Unavailability is retried with backoff within the outage budget; an auth failure is
 * not.
 */
export async function tagManifest(query: TagQuery, ctx: CallContext): Promise<void> {
  await patiently(query, ctx, 'registry tag', (signal) => copyManifest(query, signal));
}
