import type { RecordedImage } from './image-record';
import type { CallContext } from '../registry/call-context';

/** A {@link CallContext} for calls that stream output: builds and pushes. */
export interface DockerCallContext extends CallContext {
  /** Receives the build or push output line by line as it arrives (for the build log). Default: dropped. */
  readonly onLine?: (line: string) => void;
  /**
   * Hears each image a classic build commits, as it commits it, with the engine it is on: what a successor
   * removes when this process dies before its own cleanup (`recordImage`). BuildKit commits none
   * before the last. Default: not heard.
   */
  readonly onImage?: (image: RecordedImage) => void;
}
