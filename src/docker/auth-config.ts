import type { RegistryCredentials } from '../registry/access';
import { DOCKER_HUB } from '../registry/image-name';

/** The server address Docker keys Docker Hub credentials by. */
export const DOCKER_HUB_SERVER = 'https://index.docker.io/v1/';

/** How the daemon names a registry in auth configs: the Docker Hub URL, or `host[:port]`. */
export function serverAddress(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_SERVER : registry;
}

/**
 * The auth config the daemon expects in `X-Registry-Auth` (push) or, keyed by server, in `X-Registry-Config`
 * (build). Anonymous access is `{}`: the header must still be sent, since API 1.41 rejects a push without it.
 */
export function authConfig(
  registry: string,
  credentials: RegistryCredentials | undefined,
): Record<string, string> {
  if (!credentials) return {};
  return {
    username: credentials.username,
    password: credentials.password,
    ...(credentials.email === undefined ? {} : { email: credentials.email }),
    serveraddress: serverAddress(registry),
  };
}
