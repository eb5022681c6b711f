import { randomUUID } from 'node:crypto';
import http from 'node:http';
import http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import type { RegistryCredentials } from '../../registry/access';
import { parseEndpoint } from '../endpoint';
import type { Engine } from '../engine';
import { errorMessage } from '../engine-call';
import { DockerUnreachableError } from '../errors';
import { GrpcError, GrpcStatus, serveCall, type UnaryHandler } from './grpc';
import { decodeMessage, encodeMessage } from './proto';

/** What a build's session offers the engine. */
export interface SessionServices {
  /** The registry (`host[:port]` as in image names) whose credentials the auth service gives out. */
  readonly registry?: string | undefined;
  readonly credentials?: RegistryCredentials | undefined;
  /** `RUN --mount=type=secret,id=<key>` values. */
  readonly secrets?: Readonly<Record<string, string>> | undefined;
}

/** An open session: its id goes into the build's `session` parameter; `close` ends it. */
export interface BuildSession {
  readonly id: string;
  close(): void;
}

const CREDENTIALS = '/moby.filesync.v1.Auth/Credentials';
const SECRETS = '/moby.buildkit.secrets.v1.Secrets/GetSecret';
const HEALTH = '/grpc.health.v1.Health/Check';
const SERVING = 1;

/** Docker Hub's registry is asked for under these names; image names say `docker.io`. */
const HUB_HOSTS = new Set(['docker.io', 'registry-1.docker.io', 'index.docker.io']);

function sameRegistry(asked: string, configured: string): boolean {
  return asked === configured || (HUB_HOSTS.has(asked) && HUB_HOSTS.has(configured));
}

/**
 * The gRPC methods of the session. The engine's health checks keep the session alive (it drops a session
 * whose health check fails); the auth service gives the configured credentials for the configured registry
 * only, and nothing (anonymous) for any other; the token-authority methods stay unimplemented, which makes
 * BuildKit ask for plain credentials and fetch registry tokens itself.
 */
function methods(services: SessionServices): Map<string, UnaryHandler> {
  return new Map<string, UnaryHandler>([
    [HEALTH, () => encodeMessage('grpc.health.v1.HealthCheckResponse', { status: SERVING })],
    [
      CREDENTIALS,
      (bytes) => {
        const { Host } = decodeMessage('moby.filesync.v1.CredentialsRequest', bytes);
        const given =
          services.credentials && services.registry !== undefined && sameRegistry(Host, services.registry)
            ? services.credentials
            : undefined;
        return encodeMessage('moby.filesync.v1.CredentialsResponse', {
          Username: given?.username ?? '',
          Secret: given?.password ?? '',
        });
      },
    ],
    [
      SECRETS,
      (bytes) => {
        const { ID } = decodeMessage('moby.buildkit.secrets.v1.GetSecretRequest', bytes);
        const value = Object.hasOwn(services.secrets ?? {}, ID) ? services.secrets?.[ID] : undefined;
        if (value === undefined) throw new GrpcError(GrpcStatus.NOT_FOUND, `secret ${ID} not found`);
        return encodeMessage('moby.buildkit.secrets.v1.GetSecretResponse', { data: Buffer.from(value) });
      },
    ],
  ]);
}

/** The session's request; it announces the methods it serves, the only ones newer engines call. */
function upgradeRequest(engine: Engine, id: string, methods: readonly string[]): http.ClientRequest {
  const endpoint = parseEndpoint(engine.endpoint);
  if (endpoint.kind === 'tcp' && endpoint.protocol === 'https')
    throw new DockerUnreachableError(engine.endpoint, 'BuildKit sessions are not offered over https');
  return http.request({
    ...(endpoint.kind === 'unix'
      ? { socketPath: endpoint.socketPath }
      : { host: endpoint.host, port: endpoint.port }),
    method: 'POST',
    path: `/v${engine.apiVersion}/session`,
    headers: {
      Connection: 'Upgrade',
      Upgrade: 'h2c',
      'X-Docker-Expose-Session-Uuid': id,
      'X-Docker-Expose-Session-Name': 'oa-builder',
      'X-Docker-Expose-Session-Sharedkey': '',
      'X-Docker-Expose-Session-Grpc-Method': [...methods],
    },
  });
}

/**
 * Opens a BuildKit session on the engine: `POST /session` upgraded to `h2c`, after which the roles turn
 * round: the engine is the HTTP/2 client and this process serves gRPC on the upgraded connection. Resolves
 * once the engine has switched protocols; a build that names the session's id may then start. Aborting
 * `signal` before that, or the engine refusing, rejects with {@link DockerUnreachableError}.
 */
export function openSession(
  engine: Engine,
  services: SessionServices,
  signal: AbortSignal,
): Promise<BuildSession> {
  const id = randomUUID();
  const handlers = methods(services);
  return new Promise((resolve, reject) => {
    const req = upgradeRequest(engine, id, [...handlers.keys()]);
    const fail = (detail: string) => {
      req.destroy();
      reject(new DockerUnreachableError(engine.endpoint, `no BuildKit session: ${detail}`));
    };
    const onAbort = () => fail('cancelled');
    signal.addEventListener('abort', onAbort, { once: true });
    req.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => fail(`HTTP ${res.statusCode}: ${errorMessage(Buffer.concat(chunks).toString())}`));
    });
    req.on('upgrade', (_res, socket: Duplex, head: Buffer) => {
      signal.removeEventListener('abort', onAbort);
      if (head.length > 0) socket.unshift(head);
      const server = http2.createServer();
      server.on('stream', (stream, headers) => serveCall(stream, String(headers[':path']), handlers));
      // The engine ends the connection when the build is over; an error then is no news.
      server.on('sessionError', () => undefined);
      socket.on('error', () => undefined);
      server.emit('connection', socket);
      resolve({
        id,
        close: () => {
          socket.destroy();
          server.close();
        },
      });
    });
    req.end();
  });
}
