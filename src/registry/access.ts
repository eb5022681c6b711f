import { DOCKER_HUB, registryHost, type ImageName } from './image-name';

/** User name and password (or token) for one registry. */
export interface RegistryCredentials {
  readonly username: string;
  readonly password: string;
  /** Sent in Docker's auth config for registries that still want it. */
  readonly email?: string | undefined;
}

/**
 * The configured registry and its credentials, passed with every request rather than stored anywhere, so
 * rotating them needs no restart and two workflows can use different ones.
 */
export interface RegistryAccess {
  /** DOCKER_REGISTRY_URL: `host[:port]` or a URL; a URL's scheme is the one used to talk to that registry. */
  readonly url: string;
  /** Anonymous access when unset. */
  readonly credentials?: RegistryCredentials | undefined;
}

/** Credentials when both a user name and a password are given; anonymous access otherwise. */
export function registryCredentials(
  username: string | undefined,
  password: string | undefined,
  email?: string,
): RegistryCredentials | undefined {
  return username !== undefined && password !== undefined ? { username, password, email } : undefined;
}

const DOCKER_HUB_API = 'https://registry-1.docker.io';
const LOOPBACK = /^(?:localhost|127(?:\.[0-9]{1,3}){3}|\[::1\])(?::[0-9]+)?$/;

/**
 * The credentials that apply to `image`: the configured ones when the image lives in the configured registry,
 * none otherwise, so a password is never sent to a registry it was not meant for.
 */
export function credentialsFor(image: ImageName, access: RegistryAccess): RegistryCredentials | undefined {
  return image.registry === registryHost(access.url) ? access.credentials : undefined;
}

/**
 * Base URL of the registry HTTP API (`/v2/` lives under it) for `image`. Docker Hub's API host is
 * registry-1.docker.io. The configured registry is spoken to with its URL's scheme. Any other registry uses
 * https, except loopback ones, which dockerd treats as insecure (plain http) by default, and so does this.
 */
export function registryApiBase(image: ImageName, access: RegistryAccess): string {
  if (image.registry === DOCKER_HUB) return DOCKER_HUB_API;
  const scheme = /^(https?):\/\//i.exec(access.url.trim())?.[1];
  if (scheme && image.registry === registryHost(access.url))
    return `${scheme.toLowerCase()}://${image.registry}`;
  return `${LOOPBACK.test(image.registry) ? 'http' : 'https'}://${image.registry}`;
}
