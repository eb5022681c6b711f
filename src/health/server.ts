import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FarmStatus } from '../../actors/farm';
import type { HealthTree } from '../../actors/supervision';

/** What the endpoint shows; read at every request. */
export interface HealthSource {
  readonly health: () => Promise<HealthTree>;
  /** Connected to the broker, consuming, not draining, and starting workflows. */
  readonly ready: () => boolean;
  /** The build farm: its engines and which workflow builds where. Default: not shown. */
  readonly farm?: () => Promise<FarmStatus>;
  /** Prometheus text exposition. */
  readonly metrics: () => Promise<{ contentType: string; body: string }>;
}

export interface HealthServer {
  /** `host:port` actually bound (port 0 picks a free one). */
  readonly address: string;
  close(): Promise<void>;
}

/** `host:port`, `[v6]:port` or `:port` (loopback). */
export function parseListen(listen: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(listen.trim());
  const port = Number(match?.[3]);
  if (!match || !Number.isInteger(port) || port > 65535) {
    throw new RangeError(`HEALTH_LISTEN must be host:port, not ${JSON.stringify(listen)}`);
  }
  return { host: match[1] ?? (match[2] || '127.0.0.1'), port };
}

/** Why HEALTH_LISTEN cannot be bound, or undefined when it is an address: checked with the settings. */
export function listenProblem(listen: string): string | undefined {
  try {
    parseListen(listen);
    return undefined;
  } catch {
    return 'must be host:port, [IPv6]:port or :port, with a port up to 65535';
  }
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body)}\n`);
}

/**
 * `/healthz` (200 while the process and its actor tree are alive, with the tree and the build farm as JSON;
 * 503 once the root is down), `/readyz` (200 while connected and consuming; 503 otherwise, as during a drain or
 * while starting workflows is paused) and `/metrics`.
 * Only GET; nothing here changes anything.
 */
export async function startHealthServer(listen: string, source: HealthSource): Promise<HealthServer> {
  const { host, port } = parseListen(listen);
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://health').pathname;
    if (req.method !== 'GET') return json(res, 405, { error: 'GET only' });
    const answer = async (): Promise<void> => {
      switch (path) {
        case '/healthz': {
          const tree = await source.health();
          // A farm that does not answer (restarting) shows as null; the tree says why.
          const farm = source.farm && { farm: await source.farm().catch(() => null) };
          return json(res, tree.status === 'down' ? 503 : 200, { ...tree, ...farm });
        }
        case '/readyz': {
          const ready = source.ready();
          return json(res, ready ? 200 : 503, { ready });
        }
        case '/metrics': {
          const { contentType, body } = await source.metrics();
          res.writeHead(200, { 'content-type': contentType });
          res.end(body);
          return;
        }
        default:
          return json(res, 404, { error: 'not found', paths: ['/healthz', '/readyz', '/metrics'] });
      }
    };
    answer().catch((err: unknown) => json(res, 500, { error: (err as Error).message }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const bound = server.address() as AddressInfo;
  return {
    address: `${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
