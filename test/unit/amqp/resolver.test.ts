import { BrokerResolver, ResolutionError, type BrokerResolverOptions } from '../../../src/amqp';
import { ManagerClient, ManagerUnavailableError } from '../../../src/manager';
import { startFakeManager, type FakeManager, type FakeManagerSeed } from '../../fakes/manager';
import { recordingLogger } from '../../fakes/logger';

const seed: FakeManagerSeed = {
  brokers: [
    { id: 1, name: 'primary', failover_broker_id: 2 },
    { id: 2, name: 'spare', failover_broker_id: null },
    { id: 3, name: 'restricted', failover_broker_id: null },
    { id: 4, name: 'empty', failover_broker_id: null },
  ],
  connections: [
    {
      id: 11,
      messaging_broker_id: 1,
      username: 'oa',
      password: 'p@ss/w:rd',
      host: 'mq-a',
      port: null,
      virtual_host: '/',
    },
    {
      id: 12,
      messaging_broker_id: 1,
      username: 'oa',
      password: 'pw',
      host: 'mq-b',
      port: '5673',
      virtual_host: 'prod/us',
    },
    {
      id: 21,
      messaging_broker_id: 2,
      username: 'oa',
      password: 'pw',
      host: 'spare-a',
      port: 5674,
      virtual_host: null,
    },
    { id: 31, messaging_broker_id: 3, username: 'r', password: 'pw', host: 'restricted-a', port: null },
  ],
  exchanges: [
    { id: 1, name: 'AWS', routing_key_fragment: 'aws' },
    { id: 3, name: 'US-EAST-1', routing_key_fragment: 'us-east-1', parent_exchange_id: 1 },
    { id: 4, name: 'US-WEST-1', routing_key_fragment: 'us-west-1', parent_exchange_id: 1 },
    { id: 5, name: 'EU', routing_key_fragment: 'eu' },
  ],
  // Row ids deliberately differ from broker ids: the Elixir resolver used the row id by mistake.
  restrictions: [
    { id: 90, messaging_exchange_id: 4, messaging_broker_id: 3 },
    { id: 91, messaging_exchange_id: 5, messaging_broker_id: 3 },
  ],
};

let fake: FakeManager;
beforeEach(async () => {
  fake = await startFakeManager(seed);
});
afterEach(() => fake.close());

function resolver(overrides: Partial<BrokerResolverOptions> = {}): BrokerResolver {
  const manager = new ManagerClient({
    managerUrl: fake.url,
    oauthLoginUrl: fake.oauthUrl,
    oauthClientId: fake.clientId,
    oauthClientSecret: fake.clientSecret,
    retry: { attempts: 1 },
  });
  return new BrokerResolver({ manager, random: () => 0.99, ...overrides });
}

const primaryUrls = ['amqp://oa:p%40ss%2Fw%3Ard@mq-a:5672/%2F', 'amqp://oa:pw@mq-b:5673/prod%2Fus'];
const spareUrl = 'amqp://oa:pw@spare-a:5674/%2F';
const restrictedUrl = 'amqp://r:pw@restricted-a:5672/%2F';

describe('BrokerResolver.brokerUrls', () => {
  it('lists every connection of the broker, then those of its failover broker', async () => {
    const urls = await resolver().brokerUrls(1);
    expect(urls.slice(0, 2).sort()).toEqual([...primaryUrls].sort());
    expect(urls[2]).toBe(spareUrl);
  });

  it('encodes credentials and vhosts and defaults a missing port to 5672 and a missing vhost to "/"', async () => {
    expect(await resolver().brokerUrls(3)).toEqual([restrictedUrl]);
  });

  it('orders the hosts of a broker at random, so replicas spread over them', async () => {
    const high = await resolver({ random: () => 0.99 }).brokerUrls(1);
    const low = await resolver({ random: () => 0 }).brokerUrls(1);
    expect(high.slice(0, 2)).toEqual([...low.slice(0, 2)].reverse());
  });

  it('fails with ResolutionError when the broker has no connection records', async () => {
    await expect(resolver().brokerUrls(4)).rejects.toThrow(
      new ResolutionError('broker 4 has no connection records'),
    );
  });

  it('keeps the primary broker usable when its failover broker cannot be listed', async () => {
    const log = recordingLogger();
    fake.failNext('/messaging/brokers/2/connections', 500, 1);
    const urls = await resolver({ logger: log }).brokerUrls(1);
    expect(urls.sort()).toEqual([...primaryUrls].sort());
    expect(log.lines.map((l) => l.message)).toContain(
      'failover broker cannot be resolved, using the primary broker only',
    );
  });

  it('reuses Manager answers for 300 s and asks again after that', async () => {
    let now = 0;
    const r = resolver({ now: () => now });
    await r.brokerUrls(1);
    const asked = fake.state.requests.length;
    now = 299_999;
    await r.brokerUrls(1);
    expect(fake.state.requests.length).toBe(asked);
    now = 300_000;
    await r.brokerUrls(1);
    expect(fake.state.requests.length).toBe(asked * 2);
  });

  it('serves the last known URLs when the Manager fails after the cache expired', async () => {
    let now = 0;
    const r = resolver({ now: () => now });
    const before = await r.brokerUrls(3);
    now = 400_000;
    fake.failNext('/messaging/brokers/3/connections', 503, 1);
    await expect(r.brokerUrls(3)).resolves.toEqual(before);
  });

  it('fails with the Manager error when nothing is known yet', async () => {
    fake.failNext('/messaging/brokers/3/connections', 503, 1);
    await expect(resolver().brokerUrls(3)).rejects.toBeInstanceOf(ManagerUnavailableError);
  });

  it('asks the Manager once for concurrent callers', async () => {
    const r = resolver();
    await Promise.all([r.brokerUrls(3), r.brokerUrls(3), r.brokerUrls(3)]);
    expect(fake.state.requests.filter((q) => q.path === '/messaging/brokers/3/connections')).toHaveLength(1);
  });
});

describe('BrokerResolver.resolve', () => {
  it('uses a broker restricted to the destination exchange, by messaging_broker_id', async () => {
    const r = resolver();
    await expect(r.brokerFor(1, 3, 4)).resolves.toBe('3');
    await expect(r.resolve(1, 3, 4)).resolves.toEqual([restrictedUrl]);
  });

  it('falls back to a broker restricted to the source exchange, with a warning', async () => {
    const log = recordingLogger();
    await expect(resolver({ logger: log }).brokerFor(1, 5, 3)).resolves.toBe('3');
    expect(log.lines).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        message: 'destination exchange has no broker restrictions, using one of the source exchange',
      }),
    );
  });

  it('uses the source broker when neither exchange is restricted', async () => {
    await expect(resolver().brokerFor(1, 3, 1)).resolves.toBe('1');
  });
});
