import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type Modem from 'docker-modem';
import type { Endpoint } from './endpoint';
import { DockerEngineError, DockerUnreachableError } from './errors';
import type { EngineTls } from './farm/hosts';

/** One Engine API request. */
export interface EngineCall {
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** API path without the version prefix, e.g. `/images/json`. */
  readonly path: string;
  /** Query parameters; arrays repeat the key, objects are sent as JSON, undefined values are left out. */
  readonly query?: Readonly<Record<string, unknown>>;
  /** Request body (the build context tar). */
  readonly body?: NodeJS.ReadableStream | undefined;
  /** Sent as `X-Registry-Auth` (push). */
  readonly registryAuth?: object | undefined;
  /** Sent as `X-Registry-Config` (build). */
  readonly registryConfig?: object | undefined;
}

// Statuses are judged here, not by docker-modem, which would drop the body of a non-2xx stream response.
const ANY_STATUS = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [i + 100, true]));

// docker-modem is loaded when the first engine is dialled, so a process or workflow that needs no engine never
// pays for it. (It also requires ssh2, 45 modules, for SSH engines the builder never dials: the bundle that
// bin/oa-builder.js runs has a stand-in instead, scripts/bundle.js.)
let modemClass: typeof Modem | undefined;
function loadModem(): typeof Modem {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  modemClass ??= require('docker-modem') as typeof Modem;
  return modemClass;
}

/**
 * A docker-modem instance for `endpoint`. Every connection option is given explicitly, because docker-modem
 * otherwise fills gaps from DOCKER_HOST, DOCKER_CERT_PATH and DOCKER_CLIENT_TIMEOUT of this process.
 * No idle timeout: a build can be silent for long; deadlines come from the caller's signal instead.
 * `newConnections`: every call opens a connection of its own instead of reusing one kept alive (Node's
 * default agent keeps them): a stopping dockerd still answers on the connections it has while it refuses new
 * ones, so only a new connection tells whether it takes work.
 */
export function modemFor(
  endpoint: Endpoint,
  apiVersion?: string,
  tls?: EngineTls,
  newConnections = false,
): Modem {
  const secure = endpoint.kind === 'tcp' && endpoint.protocol === 'https';
  const options: Modem.ConstructorOptions & { pathPrefix?: string } = {
    socketPath: endpoint.kind === 'unix' ? endpoint.socketPath : undefined,
    host: endpoint.kind === 'tcp' ? endpoint.host : undefined,
    port: endpoint.kind === 'tcp' ? endpoint.port : undefined,
    protocol: endpoint.kind === 'tcp' ? endpoint.protocol : 'http',
    pathPrefix: '/',
    version: apiVersion === undefined ? undefined : `v${apiVersion}`,
    timeout: undefined,
    ca: tls?.ca,
    cert: tls?.cert,
    key: tls?.key,
    agent: newConnections
      ? new (secure ? https.Agent : http.Agent)({ keepAlive: false, maxFreeSockets: 0 })
      : undefined,
  };
  const DockerModem = loadModem();
  return new DockerModem(options);
}

function describe(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string') return err instanceof Error ? err.message : String(err);
  // OpenSSL's codes alone (UNABLE_TO_VERIFY_LEAF_SIGNATURE, ERR_SSL_...) do not say which side is wrong.
  if (/CERT|SSL|TLS|SIGNATURE|ISSUER/.test(code))
    return `the TLS handshake failed (${code}): check the engine's CA, client certificate and key`;
  return code;
}

/**
 * Sends `call` and resolves with the response as soon as its headers arrive, whatever its status. A failure
 * to connect or send is a {@link DockerUnreachableError}, an abort included: callers run under
 * `withDeadline`, which replaces it with the abort's reason.
 */
export function dial(
  modem: Modem,
  label: string,
  call: EngineCall,
  signal: AbortSignal,
): Promise<IncomingMessage> {
  const query = Object.fromEntries(Object.entries(call.query ?? {}).filter(([, v]) => v !== undefined));
  return new Promise((resolve, reject) => {
    modem.dial(
      {
        path: `${call.path}?`,
        method: call.method,
        // `_body: {}` keeps docker-modem from echoing the query as a JSON body of bodiless POSTs.
        options: { _query: query, _body: {} },
        file: call.body,
        authconfig: call.registryAuth,
        registryconfig: call.registryConfig,
        isStream: true,
        statusCodes: ANY_STATUS,
        abortSignal: signal,
      },
      (err, res) => {
        if (err) reject(new DockerUnreachableError(label, describe(err)));
        else resolve(res as IncomingMessage);
      },
    );
  });
}

/** The whole response body as text; a connection lost meanwhile is a {@link DockerUnreachableError}. */
export async function readText(res: IncomingMessage, label: string, signal: AbortSignal): Promise<string> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of res) chunks.push(chunk as Buffer);
  } catch (err) {
    signal.throwIfAborted();
    throw new DockerUnreachableError(label, describe(err));
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The daemon's own words for an error response: its JSON `message`, else the raw body. */
export function errorMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    if (typeof parsed.message === 'string') return parsed.message;
  } catch {
    // Not JSON (a proxy's error page, podman's plain text): the body itself says it.
  }
  return body.trim() || '(empty response)';
}

/** Reads a JSON answer, throwing {@link DockerEngineError} unless the status is 2xx. */
export async function readJson(res: IncomingMessage, label: string, signal: AbortSignal): Promise<unknown> {
  const body = await readText(res, label, signal);
  const status = res.statusCode ?? 0;
  if (status < 200 || status > 299) throw new DockerEngineError(label, status, errorMessage(body));
  if (!body) return undefined;
  try {
    return JSON.parse(body) as unknown;
  } catch {
    throw new DockerEngineError(label, status, `the answer is not JSON: ${body.slice(0, 200)}`);
  }
}
