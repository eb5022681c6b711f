import { AmqpPublishError, ExchangeResolver } from '../../../src/amqp';
import type { RetryNotice } from '../../../src/outage';
import { BrokerPublishers, type Destination } from '../../../src/service';
import { BrokerAdmin, sharedAmqpUrl, uniqueName } from '../amqp/topology';

const destination: Destination = { brokerId: '1', exchangeId: '1', queue: 'build_logs' };

describe('a publish whose channel the broker closes before confirming it', () => {
  let admin: BrokerAdmin | undefined;
  let publishers: BrokerPublishers | undefined;

  afterEach(async () => {
    await publishers?.close();
    await admin?.dispose();
  });

  /**
   * Publishers whose exchange record names a root exchange that is not declared yet: the broker closes the
   * channel of a publish to it before any confirm, exactly as a restart closes it under a publish in flight.
   */
  async function rig(
    retries: RetryNotice[],
    provisionOnRetry: boolean,
  ): Promise<{ queue: string; provisioned: () => Promise<void> | undefined }> {
    admin = await BrokerAdmin.open(sharedAmqpUrl);
    const root = uniqueName('oa-test-root');
    const routingKey = uniqueName('oatest').replace(/[-.]/g, '');
    const queue = await admin.componentQueue('published');
    const exchanges = new ExchangeResolver({
      manager: {
        getExchange: (id) =>
          Promise.resolve({ id: String(id), name: root, routing_key: routingKey, root_exchange_name: root }),
      },
    });
    const ready = admin;
    const provision = async (): Promise<void> => {
      await ready.topicExchange(root);
      await ready.channel.bindQueue(queue, root, `${routingKey}.${destination.queue}`);
    };
    // The exchange appears only once the first attempt has failed: the retry is what delivers the message.
    let provisioning: Promise<void> | undefined;
    publishers = new BrokerPublishers({
      exchanges,
      brokers: { brokerUrls: () => Promise.resolve([sharedAmqpUrl]) },
      amqpUrl: sharedAmqpUrl,
      outage: {
        budgetMs: 30_000,
        onRetry: (notice) => {
          retries.push(notice);
          if (provisionOnRetry) provisioning ??= provision();
        },
      },
    });
    return { queue, provisioned: () => provisioning };
  }

  it('is published again within the outage budget once the channel is back, and arrives', async () => {
    const retries: RetryNotice[] = [];
    const { queue, provisioned } = await rig(retries, true);

    await publishers?.publish(destination, Buffer.from('build output'));
    await provisioned();

    expect(retries.length).toBeGreaterThanOrEqual(1);
    expect(retries[0]).toMatchObject({ dependency: 'broker', attempt: 2 });
    expect(retries[0]?.error).toBeInstanceOf(AmqpPublishError);
    expect((retries[0]?.error as AmqpPublishError).detail).toMatch(/channel closed/i);
    expect(retries[0]?.text).toMatch(/^broker unavailable, retrying in [\d.]+ s \(attempt 2\)$/);
    const message = await admin?.take(queue);
    expect(message && message.content.toString()).toBe('build output');
    expect(await admin?.take(queue)).toBe(false);
  });

  it('fails a publish made once (a reply) at once, leaving its retry to the redelivery', async () => {
    const retries: RetryNotice[] = [];
    await rig(retries, false);

    const started = Date.now();
    await expect(publishers?.publish(destination, Buffer.from('reply'), { once: true })).rejects.toThrow(
      /channel closed/i,
    );

    expect(retries).toEqual([]);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
