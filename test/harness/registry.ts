// Looks at what a test registry holds through the registry HTTP API, independently of dockerd.
import { basicAuth } from './probes';

const MANIFEST_TYPES = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
].join(', ');

export interface ManifestLookup {
  status: number;
  /** The `Docker-Content-Digest` header when found. */
  digest: string | undefined;
  mediaType: string | undefined;
}

/** `GET /v2/<repo>/manifests/<tag>`, with Basic auth when credentials are given. */
export async function lookupManifest(
  registryUrl: string,
  repo: string,
  tag: string,
  credentials?: { username: string; password: string },
): Promise<ManifestLookup> {
  const headers: Record<string, string> = { Accept: MANIFEST_TYPES };
  if (credentials) headers.Authorization = basicAuth(credentials.username, credentials.password);
  const res = await fetch(`${registryUrl}/v2/${repo}/manifests/${tag}`, {
    headers,
    signal: AbortSignal.timeout(10_000),
  });
  await res.arrayBuffer();
  return {
    status: res.status,
    digest: res.headers.get('docker-content-digest') ?? undefined,
    mediaType: res.headers.get('content-type') ?? undefined,
  };
}
