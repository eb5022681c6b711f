import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { connectEngine, type Engine } from '../../../src/docker';

/**
 * A fake engine that takes the session upgrade as dockerd does and then, like dockerd, becomes the HTTP/2
 * client of the connection: tests call the session's gRPC methods through `client`. Other calls than
 * `/version` go to `handler`; without `sessions` an upgrade request goes there too, as a refusal would.
 */
export interface SessionEngine {
  readonly engine: Engine;
  readonly upgrades: http.IncomingHttpHeaders[];
  /** Every call `handler` saw, by method and path without the API version. */
  readonly calls: string[];
  readonly client: Promise<http2.ClientHttp2Session>;
  close(): Promise<void>;
}

const notFound: http.RequestListener = (_req, res) => {
  res.writeHead(404, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ message: 'page not found' }));
};

export async function sessionEngine(handler = notFound, sessions = true): Promise<SessionEngine> {
  const upgrades: http.IncomingHttpHeaders[] = [];
  const calls: string[] = [];
  let gotClient: (client: http2.ClientHttp2Session) => void = () => undefined;
  const client = new Promise<http2.ClientHttp2Session>((resolve) => (gotClient = resolve));
  const server = http.createServer((req, res) => {
    if (req.url?.startsWith('/version')) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ ApiVersion: '1.41', MinAPIVersion: '1.12' }));
      return;
    }
    calls.push(`${req.method} ${(req.url ?? '').replace(/^\/v\d+\.\d+/, '')}`);
    void handler(req, res);
  });
  if (sessions) {
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex) => {
      upgrades.push(req.headers);
      socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n');
      gotClient(http2.connect('http://engine', { createConnection: () => socket }));
    });
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const engine = await connectEngine(`tcp://127.0.0.1:${port}`, {}, { signal: new AbortController().signal });
  return {
    engine,
    upgrades,
    calls,
    client,
    close: async () => {
      if (upgrades.length > 0) (await client).destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
