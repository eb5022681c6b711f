/**
 * Typed registry failures. Messages name the registry and what went wrong, never a credential: the workflow
 * actor copies them into the event log that users read.
 */

/** The registry refused the credentials, or wants credentials and none were given. Retrying cannot help. */
export class RegistryAuthError extends Error {
  override readonly name = 'RegistryAuthError';
  constructor(
    readonly registry: string,
    readonly detail: string,
  ) {
    super(`registry ${registry} refused access: ${detail}`);
  }
}

/** The registry could not be reached, timed out or answered 5xx/429: worth retrying later. */
export class RegistryUnavailableError extends Error {
  override readonly name = 'RegistryUnavailableError';
  constructor(
    readonly registry: string,
    readonly detail: string,
  ) {
    super(`registry ${registry} is unavailable: ${detail}`);
  }
}

/** The registry answered with a status that fits no step of the protocol (e.g. 400 for a bad name). */
export class RegistryResponseError extends Error {
  override readonly name = 'RegistryResponseError';
  constructor(
    readonly registry: string,
    readonly status: number,
    readonly detail: string,
  ) {
    super(`registry ${registry} answered HTTP ${status}: ${detail}`);
  }
}

/** Where an image was looked for and not found. */
export type ImageLocation = 'registry' | 'build host';

/** The image reference is missing from the registry (verify) or from the build host (push). */
export class ImageNotFoundError extends Error {
  override readonly name = 'ImageNotFoundError';
  constructor(
    readonly reference: string,
    readonly location: ImageLocation,
  ) {
    super(`image ${reference} does not exist on the ${location}`);
  }
}

/** A docker.json `docker_url` or registry URL that cannot name an image. */
export class InvalidImageNameError extends Error {
  override readonly name = 'InvalidImageNameError';
  constructor(
    readonly value: string,
    readonly reason: string,
  ) {
    super(`invalid image name ${JSON.stringify(value)}: ${reason}`);
  }
}
