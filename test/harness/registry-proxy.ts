// A loopback HTTP proxy in front of a test registry, for tests that make the registry fail or wait.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Decides about one request before it is forwarded: answers it itself and resolves true, or resolves false
 * (at once, or once the test lets it go) to have it forwarded.
 */
export type Intercept = (req: http.IncomingMessage, res: http.ServerResponse) => Promise<boolean> | boolean;

export interface RegistryProxy {
  /** `127.0.0.1:<port>`: an image name's registry host, which dockerd treats as insecure (loopback). */
  readonly host: string;
  readonly url: string;
  close(): Promise<void>;
}

/** Starts a proxy on 127.0.0.1:0 in front of the registry at `upstreamUrl`; `intercept` sees every request. */
export async function registryProxy(upstreamUrl: string, intercept: Intercept): Promise<RegistryProxy> {
  const upstream = new URL(upstreamUrl);
  const forward = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const call = http.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        path: req.url,
        method: req.method,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    call.on('error', () => res.destroy());
    req.pipe(call);
  };
  const proxy = http.createServer((req, res) => {
    void Promise.resolve(intercept(req, res)).then(
      (answered) => answered || forward(req, res),
      () => res.destroy(),
    );
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  return {
    host,
    url: `http://${host}`,
    close: () =>
      new Promise((resolve) => {
        proxy.closeAllConnections();
        proxy.close(() => resolve());
      }),
  };
}
