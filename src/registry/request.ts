import { registryApiBase, credentialsFor, type RegistryAccess, type RegistryCredentials } from './access';
import { parseChallenge, type Challenge } from './challenge';
import { RegistryAuthError, RegistryResponseError, RegistryUnavailableError } from './errors';
import type { ImageName } from './image-name';

/** One call of the registry HTTP API (v2) for one image. */
export interface RegistryRequest {
  readonly image: ImageName;
  readonly access: RegistryAccess;
  readonly method: 'GET' | 'HEAD' | 'PUT';
  /** Path under the API base, starting with `/v2/`. */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** What a PUT sends; sent again as it is when the registry first asks for credentials. */
  readonly body?: Uint8Array<ArrayBuffer>;
}

function transportDetail(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
  return `request failed (${code ?? (err instanceof Error ? err.message : String(err))})`;
}

// Statuses that say "later" rather than "no" become RegistryUnavailableError, which callers retry.
async function send(
  url: string,
  init: RequestInit,
  registry: string,
  signal: AbortSignal,
): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal });
  } catch (err) {
    signal.throwIfAborted();
    throw new RegistryUnavailableError(registry, transportDetail(err));
  }
  if (res.status >= 500 || res.status === 429) {
    await res.body?.cancel();
    throw new RegistryUnavailableError(registry, `HTTP ${res.status}`);
  }
  return res;
}

function basic(credentials: RegistryCredentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
}

// The Docker token flow (Docker Hub, GitLab, Harbor, …): ask the realm for a token scoped to this repository,
// with Basic credentials when there are some, anonymously otherwise.
async function bearerToken(
  challenge: Challenge,
  request: RegistryRequest,
  credentials: RegistryCredentials | undefined,
  signal: AbortSignal,
): Promise<string> {
  const registry = request.image.registry;
  const realm = challenge.params.realm;
  if (!realm || !/^https?:\/\//i.test(realm)) {
    throw new RegistryResponseError(registry, 401, 'the Bearer challenge names no http(s) token realm');
  }
  const url = new URL(realm);
  if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
  const actions = request.method === 'PUT' ? 'pull,push' : 'pull';
  url.searchParams.set(
    'scope',
    challenge.params.scope ?? `repository:${request.image.repository}:${actions}`,
  );
  const headers: Record<string, string> = credentials ? { Authorization: basic(credentials) } : {};
  const res = await send(url.toString(), { headers }, registry, signal);
  if (res.status === 401 || res.status === 403) {
    await res.body?.cancel();
    throw new RegistryAuthError(
      registry,
      `the token service refused ${credentials ? 'the credentials' : 'anonymous access'}`,
    );
  }
  const body = (await res.json().catch(() => ({}))) as { token?: unknown; access_token?: unknown };
  const token = body.token ?? body.access_token;
  if (!res.ok || typeof token !== 'string') {
    throw new RegistryResponseError(registry, res.status, 'the token service gave no token');
  }
  return `Bearer ${token}`;
}

async function authorization(
  challenge: Challenge | undefined,
  request: RegistryRequest,
  credentials: RegistryCredentials | undefined,
  signal: AbortSignal,
): Promise<string> {
  const registry = request.image.registry;
  if (challenge?.scheme === 'bearer') return bearerToken(challenge, request, credentials, signal);
  if (challenge?.scheme !== 'basic') {
    throw new RegistryAuthError(
      registry,
      `unsupported authentication scheme ${challenge?.scheme ?? '(none)'}`,
    );
  }
  if (!credentials) throw new RegistryAuthError(registry, 'credentials are required');
  return basic(credentials);
}

/**
 * Sends a registry API request. A 401 is answered the way the registry's `WWW-Authenticate` challenge asks
 * (Basic, or a Bearer token from the realm it names) and the request is sent once more. Throws
 * {@link RegistryAuthError} when access is still refused, {@link RegistryUnavailableError} on transport
 * failures, 5xx and 429; any other response is returned for the caller to read.
 */
export async function registryRequest(request: RegistryRequest, signal: AbortSignal): Promise<Response> {
  const registry = request.image.registry;
  const url = `${registryApiBase(request.image, request.access)}${request.path}`;
  const init = {
    method: request.method,
    headers: { ...request.headers },
    ...(request.body === undefined ? {} : { body: request.body }),
  };
  const first = await send(url, init, registry, signal);
  if (first.status !== 401 && first.status !== 403) return first;
  await first.body?.cancel();
  if (first.status === 403) throw new RegistryAuthError(registry, 'access denied');
  const credentials = credentialsFor(request.image, request.access);
  const auth = await authorization(
    parseChallenge(first.headers.get('www-authenticate')),
    request,
    credentials,
    signal,
  );
  const second = await send(
    url,
    { ...init, headers: { ...init.headers, Authorization: auth } },
    registry,
    signal,
  );
  if (second.status === 401 || second.status === 403) {
    await second.body?.cancel();
    throw new RegistryAuthError(
      registry,
      credentials ? 'the credentials were rejected' : 'credentials are required',
    );
  }
  return second;
}
