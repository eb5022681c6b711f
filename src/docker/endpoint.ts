import { DockerUnreachableError } from './errors';

/** Where a Docker Engine API listens. */
export type Endpoint =
  | { readonly kind: 'unix'; readonly socketPath: string }
  | {
      readonly kind: 'tcp';
      readonly protocol: 'http' | 'https';
      readonly host: string;
      readonly port: number;
    };

const SCHEMES: Record<string, { protocol: 'http' | 'https'; port: number }> = {
  'tcp:': { protocol: 'http', port: 2375 },
  'http:': { protocol: 'http', port: 2375 },
  'https:': { protocol: 'https', port: 2376 },
};

/**
 * Reads one BUILD_HOSTS entry: `unix:///path/docker.sock`, `tcp://host[:port]`, `http(s)://host[:port]`, or a
 * bare `host[:port]` / IP, which means `tcp://` as the original BUILD_SLAVE_IPS did. The default port is 2375
 * (2376 for https), Docker's own.
 */
export function parseEndpoint(value: string): Endpoint {
  const trimmed = value.trim();
  if (trimmed.startsWith('unix://')) {
    const socketPath = trimmed.slice('unix://'.length);
    if (!socketPath.startsWith('/'))
      throw new DockerUnreachableError(value, 'a unix socket path must be absolute');
    return { kind: 'unix', socketPath };
  }
  let url: URL;
  try {
    url = new URL(trimmed.includes('://') ? trimmed : `tcp://${trimmed}`);
  } catch {
    throw new DockerUnreachableError(value, 'not an address (unix:///path, tcp://host:port or an IP)');
  }
  const scheme = SCHEMES[url.protocol];
  if (!scheme || !url.hostname) {
    throw new DockerUnreachableError(value, 'not an address (unix:///path, tcp://host:port or an IP)');
  }
  return {
    kind: 'tcp',
    protocol: scheme.protocol,
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port ? Number(url.port) : scheme.port,
  };
}
