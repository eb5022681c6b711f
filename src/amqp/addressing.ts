import { nopLogger, type Logger } from '../log';
import type { CallOptions, Exchange, ManagerClient } from '../manager';
import { LookupCache } from './cache';
import { ResolutionError } from './errors';

/**
 * Where OpenAperture messages go (protocol §2.3–2.5). Ops provision the topology by hand: each Manager
 * exchange is a durable topic exchange of the same name, the root exchange is bound to each child with
 * `<child routing key>.*`, and each component's durable queue is bound to its child exchange with
 * `<routing key>.<logical queue>`. A publisher therefore sends to the *root* exchange with that routing key,
 * and the broker's bindings carry it down to whatever physically named queue (`QUEUE_NAME`) ops bound there.
 */

/** The logical queue names publishers use, fixed in the Elixir code (a reply goes to the request's `orchestration_queue_name`). */
export type LogicalQueue =
  | 'builder'
  | 'workflow_orchestration'
  | 'notifications_hipchat'
  | 'notifications_email'
  | 'system_modules'
  | 'build_logs';

/** An exchange reduced to what routing needs. */
export interface ExchangeRoute {
  id: string;
  name: string;
  routingKey: string;
  rootExchangeName: string;
}

/** Arguments of one `basic.publish`. */
export interface PublishAddress {
  exchange: string;
  routingKey: string;
}

/** `basic.publish(root_exchange_name, "<routing_key>.<logical queue>")`, as the Elixir ConnectionPool does. */
export function publishAddress(route: ExchangeRoute, queue: LogicalQueue | (string & {})): PublishAddress {
  return { exchange: route.rootExchangeName, routingKey: `${route.routingKey}.${queue}` };
}

/** The dead-letter queue of a queue, as QueueBuilder names it. */
export const errorQueueName = (queue: string): string => `${queue}_error`;

/**
 * The options QueueBuilder records for a component queue: durable, dead-lettering through the default
 * exchange to `<queue>_error`. The builder never declares its queue (a declaration with other arguments
 * would fail with PRECONDITION_FAILED and close the channel); these are what ops and tests create.
 */
export function queueDefaults(queue: string): { durable: true; arguments: Record<string, string> } {
  return {
    durable: true,
    arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': errorQueueName(queue) },
  };
}

function route(exchange: Exchange): ExchangeRoute {
  const { routing_key: routingKey, root_exchange_name: rootExchangeName } = exchange;
  // The Elixir resolver turned a failed lookup into an empty exchange and published to the default exchange
  // with routing key ".<queue>", losing the message silently; an unusable record is an error here.
  if (!routingKey || !rootExchangeName) {
    throw new ResolutionError(
      `exchange ${exchange.id} (${exchange.name}) has no routing key or root exchange`,
    );
  }
  return { id: String(exchange.id), name: exchange.name, routingKey, rootExchangeName };
}

export interface ExchangeResolverOptions {
  manager: Pick<ManagerClient, 'getExchange'>;
  /** How long an exchange record is reused, ms. Default 300 000, as the Elixir ExchangeResolver. */
  ttlMs?: number;
  /** Clock in ms. Default `Date.now`. */
  now?: () => number;
  /** Default: no logging. */
  logger?: Logger;
}

/** Manager exchange ids to routes and publish addresses, cached. */
export class ExchangeResolver {
  private readonly cache: LookupCache<ExchangeRoute>;

  constructor(private readonly options: ExchangeResolverOptions) {
    this.cache = new LookupCache(
      options.ttlMs ?? 300_000,
      options.now ?? Date.now,
      options.logger ?? nopLogger,
    );
  }

  /** The route of exchange `id`; throws `ResolutionError` when the record cannot route, ManagerError when missing. */
  exchange(id: string | number, options?: CallOptions): Promise<ExchangeRoute> {
    return this.cache.get(String(id), async () => route(await this.options.manager.getExchange(id, options)));
  }

  /** Where to publish for `queue` in exchange `id`. */
  async address(
    id: string | number,
    queue: LogicalQueue | (string & {}),
    options?: CallOptions,
  ): Promise<PublishAddress> {
    return publishAddress(await this.exchange(id, options), queue);
  }
}
