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

async function lookup(query: ManifestQuery, method: 'HEAD' | 'GET', signal: AbortSignal): Promise<boolean> {
  const res = await registryRequest(
    {
      image: query.image,
      access: query.access,
      method,
      path: `/v2/${query.image.repository}/manifests/${encodeURIComponent(query.tag)}`,
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
 * Whether `image:tag` is in the registry, asked of the registry's own API by manifest (HEAD, or GET where
 * HEAD is not supported), so nothing is pulled, the token request included. Unavailability is retried with
 * backoff within the outage budget; an auth failure is not.
 */
export async function manifestExists(query: ManifestQuery, ctx: CallContext): Promise<boolean> {
  const timeoutMs = query.timeoutMs ?? 30_000;
  return retry(
    () =>
      withDeadline(
        ctx.signal,
        timeoutMs,
        () => new RegistryUnavailableError(query.image.registry, `no answer within ${timeoutMs / 1000} s`),
        (signal) => lookup(query, 'HEAD', signal),
      ),
    {
      dependency: 'registry',
      policy: { ...ctx.outage, ...query.retry },
      signal: ctx.signal,
      onRetry:
        ctx.outage?.onRetry ??
        ((notice) =>
          ctx.log?.warn('registry manifest lookup failed; retrying', {
            attempt: notice.attempt,
            delayMs: notice.delayMs,
            err: notice.error,
          })),
    },
  );
}

/** Confirms that `image:tag` is in the registry; throws {@link ImageNotFoundError} when it is not. */
export async function verifyImage(query: ManifestQuery, ctx: CallContext): Promise<void> {
  if (!(await manifestExists(query, ctx))) {
    throw new ImageNotFoundError(imageReference(query.image, query.tag), 'registry');
  }
}
