export {
  errorQueueName,
  ExchangeResolver,
  publishAddress,
  queueDefaults,
  type ExchangeResolverOptions,
  type ExchangeRoute,
  type LogicalQueue,
  type PublishAddress,
} from './addressing';
export {
  BrokerConnection,
  type BrokerConnectionOptions,
  type ConnectionHealth,
  type PublishOptions,
} from './connection';
export { QueueConsumer, type ConsumeOptions, type DeliveryHandler, type SettleOutcome } from './consumer';
export { deadLetterHeaders } from './dead-letter';
export { AmqpConnectError, AmqpError, AmqpPublishError, ResolutionError } from './errors';
export type { Delivery } from './ledger';
export { RUNS_HEADER, type QueueType } from './runs';
export { BrokerResolver, type BrokerLookups, type BrokerResolverOptions } from './resolver';
export { amqpUrl, defaultAmqpPort, maskUrl } from './url';
