export { authConfig, DOCKER_HUB_SERVER, serverAddress } from './auth-config';
export { buildImage, type BuildInput, type BuildOptions, type BuiltImage } from './build';
export { buildContext } from './build-context';
export { BUILDER_LABEL } from './builder-label';
export { IMAGE_RECORD, recordImage, recordedImages, type RecordedImage } from './image-record';
export type { DockerCallContext } from './call-context';
export {
  LEFTOVER_GRACE_MS,
  pruneLeftovers,
  removeBuildImages,
  removeRecordedImages,
  type PrunedLeftovers,
  type RemoveImagesInput,
} from './cleanup';
export {
  createImage,
  type CreateImageContext,
  type CreateImageInput,
  type CreateImageResult,
} from './create-image';
export { parseEndpoint, type Endpoint } from './endpoint';
export {
  connectEngine,
  engineJson,
  engineStatus,
  MIN_API_VERSION,
  TESTED_API_VERSION,
  type Engine,
  type EngineFlavour,
  type EngineOptions,
} from './engine';
export type { EngineCall } from './engine-call';
export {
  DockerApiVersionError,
  DockerBuildError,
  DockerEngineError,
  DockerPushError,
  DockerTimeoutError,
  DockerUnreachableError,
} from './errors';
export { pushImage, type PushedTag, type PushInput, type PushOptions } from './push';
export { shortImageId, statusMessages } from './status';
