import type { CallContext } from '../registry/call-context';

/** A {@link CallContext} for calls that stream output: builds and pushes. */
export interface DockerCallContext extends CallContext {
  /** Receives the build or push output line by line as it arrives (for the build log). Default: dropped. */
  readonly onLine?: (line: string) => void;
}
