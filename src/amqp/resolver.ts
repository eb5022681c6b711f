import { nopLogger, type Logger } from '../log';
import type { CallOptions, ManagerClient } from '../manager';
import { LookupCache } from './cache';
import { ResolutionError } from './errors';
import { amqpUrl } from './url';

/** The Manager calls broker resolution needs; `ManagerClient` has them. */
export type BrokerLookups = Pick<ManagerClient, 'getBroker' | 'getBrokerConnections' | 'getExchangeBrokers'>;

type Id = string | number;

export interface BrokerResolverOptions {
  manager: BrokerLookups;
  /** How long Manager answers are reused, ms. Default 300 000, as the Elixir ConnectionOptionsResolver. */
  ttlMs?: number;
  /** Clock in ms. Default `Date.now`. */
  now?: () => number;
  /** Uniform in [0, 1); picks among restrictions and orders hosts. Default `Math.random`. */
  random?: () => number;
  /** Default: no logging. */
  logger?: Logger;
}

/**
 * Turns Manager broker ids into broker URLs (protocol §2.2). Where the Elixir library picked one connection
 * record at random and never used the failover broker, this returns every record of the broker in random
 * order followed by the failover broker's, for the connection manager to try in turn.
 */
export class BrokerResolver {
  private readonly cache: LookupCache<unknown>;
  private readonly manager: BrokerLookups;
  private readonly random: () => number;
  private readonly log: Logger;

  constructor(options: BrokerResolverOptions) {
    this.manager = options.manager;
    this.random = options.random ?? Math.random;
    this.log = options.logger ?? nopLogger;
    this.cache = new LookupCache(options.ttlMs ?? 300_000, options.now ?? Date.now, this.log);
  }

  /** URLs of every connection of `brokerId`, shuffled, then those of its failover broker, shuffled. */
  async brokerUrls(brokerId: Id, options?: CallOptions): Promise<string[]> {
    const primary = await this.connectionUrls(brokerId, options);
    if (primary.length === 0) throw new ResolutionError(`broker ${brokerId} has no connection records`);
    const broker = await this.cached(`broker:${brokerId}`, () => this.manager.getBroker(brokerId, options));
    const failoverId = broker.failover_broker_id;
    if (failoverId === null || failoverId === undefined) return primary;
    try {
      return [...primary, ...(await this.connectionUrls(failoverId, options))];
    } catch (err) {
      // The failover broker is a spare; not being able to list it must not keep the primary unreachable.
      this.log.warn('failover broker cannot be resolved, using the primary broker only', {
        broker_id: String(brokerId),
        failover_broker_id: String(failoverId),
        err,
      });
      return primary;
    }
  }

  /**
   * The broker to publish through from `srcExchangeId` into `dstExchangeId` (the Elixir `resolve/4`): one of
   * the destination's restriction brokers, else one of the source's (with a warning), else `srcBrokerId`.
   * Uses each row's `messaging_broker_id`, where the Elixir code wrongly used the row `id`.
   */
  async brokerFor(
    srcBrokerId: Id,
    srcExchangeId: Id,
    dstExchangeId: Id,
    options?: CallOptions,
  ): Promise<string> {
    const dst = await this.restrictions(dstExchangeId, options);
    if (dst.length > 0) return this.pick(dst);
    const src = await this.restrictions(srcExchangeId, options);
    if (src.length > 0) {
      this.log.warn('destination exchange has no broker restrictions, using one of the source exchange', {
        src_exchange_id: String(srcExchangeId),
        dst_exchange_id: String(dstExchangeId),
      });
      return this.pick(src);
    }
    return String(srcBrokerId);
  }

  /** `brokerUrls` of `brokerFor`: where to connect to publish into another exchange. */
  async resolve(
    srcBrokerId: Id,
    srcExchangeId: Id,
    dstExchangeId: Id,
    options?: CallOptions,
  ): Promise<string[]> {
    return this.brokerUrls(await this.brokerFor(srcBrokerId, srcExchangeId, dstExchangeId, options), options);
  }

  private async connectionUrls(brokerId: Id, options?: CallOptions): Promise<string[]> {
    const records = await this.cached(`connections:${brokerId}`, () =>
      this.manager.getBrokerConnections(brokerId, options),
    );
    return this.shuffled(records.map(amqpUrl));
  }

  private async restrictions(exchangeId: Id, options?: CallOptions): Promise<string[]> {
    const rows = await this.cached(`restrictions:${exchangeId}`, () =>
      this.manager.getExchangeBrokers(exchangeId, options),
    );
    return rows.map((row) => String(row.messaging_broker_id));
  }

  private cached<T>(key: string, load: () => Promise<T>): Promise<T> {
    return this.cache.get(key, load) as Promise<T>;
  }

  private pick(ids: readonly string[]): string {
    return ids[Math.floor(this.random() * ids.length)] as string;
  }

  private shuffled<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [out[i], out[j]] = [out[j] as T, out[i] as T];
    }
    return out;
  }
}
