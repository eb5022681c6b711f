import { InvalidImageNameError } from './errors';

/** The registry host Docker Hub images belong to; their names carry no host. */
export const DOCKER_HUB = 'docker.io';

const HUB_ALIASES = new Set([
  DOCKER_HUB,
  'index.docker.io',
  'registry-1.docker.io',
  'registry.hub.docker.com',
]);
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*(?::[0-9]{1,5})?$/;
const MAX_NAME_LENGTH = 255;

/** An image repository, without a tag, split the way both Docker and the registry API need it. */
export interface ImageName {
  /** `host[:port]` of the registry that holds it; {@link DOCKER_HUB} for Docker Hub. */
  readonly registry: string;
  /** The repository path inside the registry, as its HTTP API wants it (`library/` added for Hub's short names). */
  readonly repository: string;
  /** The name Docker uses for it: `host[:port]/path`, or just the path on Docker Hub. */
  readonly name: string;
}

/**
 * `host[:port]` of a registry URL (`https://host:port/v1/`, `host:port` or `host`), lower-cased, any user
 * info dropped; every Docker Hub alias becomes {@link DOCKER_HUB}.
 */
export function registryHost(url: string): string {
  const withoutScheme = url.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const host = (withoutScheme.split('/')[0] ?? '').replace(/^.*@/, '').toLowerCase();
  if (!DOMAIN.test(host)) throw new InvalidImageNameError(url, 'the registry URL has no valid host');
  return HUB_ALIASES.has(host) ? DOCKER_HUB : host;
}

/** Why DOCKER_REGISTRY_URL names no registry, or undefined when it does: checked with the settings. */
export function registryUrlProblem(url: string): string | undefined {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url.trim())?.[1]?.toLowerCase();
  const wrong = 'must be an http(s) URL or host[:port] of a registry';
  if (scheme !== undefined && scheme !== 'http' && scheme !== 'https') return wrong;
  try {
    registryHost(url);
    return undefined;
  } catch {
    return wrong;
  }
}

// Docker's own rule: a first component with a dot or a port, or `localhost`, is a registry host.
function splitHost(dockerUrl: string): [string | undefined, string] {
  const slash = dockerUrl.indexOf('/');
  if (slash < 0) return [undefined, dockerUrl];
  const first = dockerUrl.slice(0, slash);
  const isHost = first.includes('.') || first.includes(':') || first === 'localhost';
  return isHost ? [first, dockerUrl.slice(slash + 1)] : [undefined, dockerUrl];
}

/**
 * The image a deployment repo builds, from its docker.json `docker_url` and the configured registry URL.
 *
 * - A `docker_url` that starts with a registry host (`quay.io/org/app`, `127.0.0.1:5000/app`,
 *   `localhost/app`) is used as written: it already says where the image lives.
 * - Otherwise the image goes to the configured registry: prefixed with its `host[:port]`
 *   (`127.0.0.1:5000/org/app`), except on Docker Hub, whose names carry no host (`org/app`).
 *
 * Tags and digests are refused: the builder tags every image with the source commit and `latest` itself.
 */
export function imageName(dockerUrl: string, registryUrl: string): ImageName {
  const trimmed = dockerUrl.trim();
  if (trimmed.includes('@')) throw new InvalidImageNameError(dockerUrl, 'a digest is not allowed here');
  const [explicitHost, path] = splitHost(trimmed);
  if (path.includes(':')) throw new InvalidImageNameError(dockerUrl, 'a tag is not allowed here');
  const components = path.split('/');
  if (!components.every((c) => PATH_COMPONENT.test(c))) {
    throw new InvalidImageNameError(
      dockerUrl,
      'path components must be lower-case letters, digits and . _ -',
    );
  }
  const registry = explicitHost === undefined ? registryHost(registryUrl) : registryHost(explicitHost);
  const name = registry === DOCKER_HUB ? path : `${registry}/${path}`;
  if (name.length > MAX_NAME_LENGTH) throw new InvalidImageNameError(dockerUrl, 'longer than 255 characters');
  const repository = registry === DOCKER_HUB && components.length === 1 ? `library/${path}` : path;
  return { registry, repository, name };
}

/** `name:tag`, the reference Docker builds, pushes and pulls. */
export function imageReference(image: ImageName, tag: string): string {
  return `${image.name}:${tag}`;
}
