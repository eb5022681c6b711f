import type { Logger } from '../log';
import type { OutageWatch } from '../outage/retry';

/**
 * What every registry and Engine call takes from its caller besides its input: in the service, the docker
 * actor's step context.
 */
export interface CallContext {
  /** Ends the call: in-flight HTTP requests are destroyed and backoff sleeps stop. */
  readonly signal: AbortSignal;
  /** Where retries and cleanup problems are reported. Default: nothing is logged. */
  readonly log?: Logger;
  /** How long to wait out an unavailable registry or engine, and who hears each retry. */
  readonly outage?: OutageWatch | undefined;
}
