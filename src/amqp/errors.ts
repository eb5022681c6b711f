/**
 * Typed failures of the AMQP adapter. Broker URLs in messages always have their password masked.
 */

/** Base class, so callers can tell broker failures from everything else with one `instanceof`. */
export class AmqpError extends Error {
  override name = 'AmqpError';
}

/** The Manager's records do not yield a usable broker or exchange (no connections, no routing key, ...). */
export class ResolutionError extends AmqpError {
  override name = 'ResolutionError';
}

/** The first connection to the broker did not come up (refused login, timeout). Retries go on until close(). */
export class AmqpConnectError extends AmqpError {
  override name = 'AmqpConnectError';
}

/** A publish the broker did not confirm: a timeout, a negative confirm, or the channel closing first. */
export class AmqpPublishError extends AmqpError {
  override name = 'AmqpPublishError';
  constructor(
    readonly exchange: string,
    readonly routingKey: string,
    /** What the broker or the channel said (`channel closed`, `timeout`, `message nacked`), for retries to judge. */
    readonly detail: string,
  ) {
    super(`publish to exchange "${exchange}" with routing key "${routingKey}" failed: ${detail}`);
  }
}
