export {
  credentialsFor,
  registryApiBase,
  registryCredentials,
  type RegistryAccess,
  type RegistryCredentials,
} from './access';
export type { CallContext } from './call-context';
export { parseChallenge, type Challenge } from './challenge';
export { Deadline, withDeadline } from './deadline';
export {
  ImageNotFoundError,
  InvalidImageNameError,
  RegistryAuthError,
  RegistryResponseError,
  RegistryUnavailableError,
  type ImageLocation,
} from './errors';
export { DOCKER_HUB, imageName, imageReference, registryHost, type ImageName } from './image-name';
export {
  MANIFEST_MEDIA_TYPES,
  manifestExists,
  tagManifest,
  verifyImage,
  type ManifestQuery,
  type TagQuery,
} from './manifest';
export { registryRequest, type RegistryRequest } from './request';
