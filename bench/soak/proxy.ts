// A loopback HTTP proxy in front of one test service (the registry, the git server) that the replicas are
// pointed at instead of the service itself, so an outage can be switched on and off without touching the
// shared service: a 5xx for every request, or connections cut as soon as they open.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type ProxyFault =
  | { readonly kind: 'none' }
  /** Every request is answered with `status` (the request body is read and dropped). */
  | { readonly kind: 'status'; readonly status: number }
  /** Every new connection and every request on a kept-alive one is cut at once. */
  | { readonly kind: 'refuse' }
  /** The request reaches the service, but the connection is cut as its answer arrives: work done, answer lost. */
  | { readonly kind: 'cut-answer' };

export interface FaultyProxy {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** `127.0.0.1:<port>`. */
  readonly host: string;
  setFault(fault: ProxyFault): void;
  readonly counts: { passed: number; faulted: number; upstreamErrors: number };
  close(): Promise<void>;
}

// Hop-by-hop, or (expect) a handshake the proxy would otherwise have to play both sides of.
const DROPPED_REQUEST_HEADERS = new Set(['expect', 'proxy-connection', 'keep-alive', 'upgrade']);

/**
 * `target` is the service's URL. `faultFor`, when given, may decide one request's fault (a test making an outage
 * start at one particular request); when it returns nothing, the fault set with `setFault` applies.
 */
export async function startFaultyProxy(
  target: string,
  faultFor?: (request: http.IncomingMessage) => ProxyFault | undefined,
): Promise<FaultyProxy> {
  const upstream = new URL(target);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  let current: ProxyFault = { kind: 'none' };
  const counts = { passed: 0, faulted: 0, upstreamErrors: 0 };
  const sockets = new Set<Socket>();

  const server = http.createServer((req, res) => {
    const fault = faultFor?.(req) ?? current;
    if (fault.kind === 'refuse') {
      counts.faulted++;
      req.socket.destroy();
      return;
    }
    if (fault.kind === 'status') {
      counts.faulted++;
      req.resume();
      res.writeHead(fault.status, { 'content-type': 'text/plain', connection: 'close' });
      res.end(`injected ${fault.status}\n`);
      return;
    }
    counts.passed++;
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (!DROPPED_REQUEST_HEADERS.has(name) && value !== undefined) headers[name] = value;
    }
    // The Host header is kept: the registry builds its Location URLs from it, and they must lead back here.
    const forward = http.request(
      {
        protocol: upstream.protocol,
        hostname: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers,
        agent,
      },
      (answer) => {
        if (fault.kind === 'cut-answer') {
          // The whole answer is read first, so the service finishes its work before the client is cut off.
          counts.faulted++;
          answer.on('end', () => res.destroy());
          answer.resume();
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        answer.on('error', () => res.destroy());
      },
    );
    forward.on('error', () => {
      counts.upstreamErrors++;
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain', connection: 'close' });
        res.end('upstream error\n');
      } else res.destroy();
    });
    req.pipe(forward);
    res.on('close', () => {
      if (!res.writableFinished) forward.destroy();
    });
  });
  server.on('connection', (socket: Socket) => {
    if (current.kind === 'refuse') {
      counts.faulted++;
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    counts,
    setFault(next) {
      current = next;
      if (next.kind === 'refuse') for (const socket of sockets) socket.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        agent.destroy();
        server.close(() => resolve());
      }),
  };
}
