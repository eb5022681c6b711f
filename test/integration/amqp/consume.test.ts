import {
  deadLetterHeaders,
  publishAddress,
  type BrokerConnection,
  type Delivery,
  type QueueConsumer,
} from '../../../src/amqp';
import { BrokerAdmin, connectionTo, eventually, pause, sharedAmqpUrl, uniqueName } from './topology';

let admin: BrokerAdmin;
let connection: BrokerConnection;

beforeEach(async () => {
  admin = await BrokerAdmin.open(sharedAmqpUrl);
  connection = connectionTo(sharedAmqpUrl);
  await connection.connect({ timeoutMs: 10_000 });
});
afterEach(async () => {
  await connection.close();
  await admin.dispose();
});

/** Consumes `queue`, collecting deliveries; `onDelivery` may settle them. */
async function collect(
  queue: string,
  options: Parameters<BrokerConnection['consume']>[2],
  onDelivery: (d: Delivery, consumer: QueueConsumer) => void | Promise<void> = () => undefined,
): Promise<{ deliveries: Delivery[]; consumer: QueueConsumer }> {
  const deliveries: Delivery[] = [];
  // A delivery can arrive before consume() resolves, so handlers wait for the consumer they settle on.
  const consuming = connection.consume(
    queue,
    async (d) => {
      deliveries.push(d);
      await onDelivery(d, await consuming);
    },
    options,
  );
  return { deliveries, consumer: await consuming };
}

const texts = (deliveries: Delivery[]): string[] => deliveries.map((d) => d.content.toString());

describe('consuming', () => {
  it('hands a message to the handler and removes it from the queue once acked', async () => {
    const queue = await admin.componentQueue('builder');
    await admin.fill(queue, 'm1');
    const { deliveries, consumer } = await collect(queue, { prefetch: 1 });
    await eventually('m1 is delivered', () => deliveries.length === 1);
    expect(deliveries[0]).toMatchObject({ queue, redelivered: false, deliveryCount: 1, generation: 1 });
    expect(consumer.ack(deliveries[0] as Delivery)).toBe('settled');
    expect(consumer.ack(deliveries[0] as Delivery)).toBe('already-settled');
    await connection.close();
    expect(await admin.ready(queue)).toBe(0);
  });

  it('routes a publish to the root exchange with "<routing key>.<queue>" to the queue ops bound below it', async () => {
    const root = uniqueName('AWS');
    const child = uniqueName('US-EAST-1');
    const queue = await admin.componentQueue('aws:us-east-1.builder');
    await admin.topicExchange(root);
    await admin.topicExchange(child);
    await admin.channel.bindExchange(child, root, 'aws.us-east-1.*');
    await admin.channel.bindQueue(queue, child, 'aws.us-east-1.builder');
    const address = publishAddress(
      { id: '3', name: child, routingKey: 'aws.us-east-1', rootExchangeName: root },
      'builder',
    );
    await connection.publish(address.exchange, address.routingKey, Buffer.from([131, 106]));
    const message = await admin.take(queue);
    expect(message && [...message.content]).toEqual([131, 106]);
    expect(message && message.properties).toMatchObject({
      deliveryMode: 2,
      contentType: undefined,
      headers: {},
    });
  });

  it('has no more deliveries unsettled than the prefetch allows', async () => {
    const queue = await admin.componentQueue('builder');
    await admin.fill(queue, 'a', 'b', 'c', 'd', 'e');
    const { deliveries, consumer } = await collect(queue, { prefetch: 2 });
    await eventually('two deliveries', () => deliveries.length === 2);
    await pause(300);
    expect(deliveries).toHaveLength(2);
    consumer.ack(deliveries[0] as Delivery);
    await eventually('a third delivery', () => deliveries.length === 3);
    await pause(300);
    expect(texts(deliveries)).toEqual(['a', 'b', 'c']);
  });

  it('counts a new prefetch from the moment it is set, and pauses at 0', async () => {
    const queue = await admin.componentQueue('builder');
    await admin.fill(queue, 'a', 'b', 'c', 'd', 'e', 'f');
    const { deliveries, consumer } = await collect(queue, { prefetch: 2 });
    await eventually('two deliveries', () => deliveries.length === 2);
    await consumer.setPrefetch(1);
    await eventually('one more delivery', () => deliveries.length === 3);
    await consumer.setPrefetch(0);
    deliveries.forEach((d) => consumer.ack(d));
    await pause(300);
    expect(deliveries).toHaveLength(3);
    expect(connection.isReady()).toBe(true);
    await consumer.setPrefetch(2);
    await eventually('two more deliveries', () => deliveries.length === 5);
    await pause(300);
    expect(texts(deliveries)).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('refuses a prefetch that is not a whole number of slots', async () => {
    const queue = await admin.componentQueue('builder');
    await expect(connection.consume(queue, () => undefined, { prefetch: 1.5 })).rejects.toThrow(RangeError);
    const consumer = await connection.consume(queue, () => undefined, { prefetch: 1 });
    expect(() => consumer.setPrefetch(-1)).toThrow('prefetch must be a whole number of slots, got -1');
  });

  it('allows one consumer per connection', async () => {
    const queue = await admin.componentQueue('builder');
    await connection.consume(queue, () => undefined, { prefetch: 1 });
    await expect(connection.consume(queue, () => undefined, { prefetch: 1 })).rejects.toThrow(
      `this connection already consumes ${queue}`,
    );
  });

  it('stops deliveries when consuming is cancelled, while unsettled deliveries can still be acked', async () => {
    const queue = await admin.componentQueue('builder');
    await admin.fill(queue, 'a', 'b');
    const { deliveries, consumer } = await collect(queue, { prefetch: 1 });
    await eventually('a delivery', () => deliveries.length === 1);
    await consumer.cancel();
    expect(connection.isReady()).toBe(false);
    expect(consumer.ack(deliveries[0] as Delivery)).toBe('settled');
    await pause(300);
    expect(deliveries).toHaveLength(1);
    expect(await admin.ready(queue)).toBe(1);
  });

  it('counts a run that failed in its handler, and dead-letters nothing on its own', async () => {
    const queue = await admin.componentQueue('builder');
    await admin.fill(queue, 'poison');
    const { deliveries, consumer } = await collect(queue, { prefetch: 1 }, (d) => {
      if (d.deliveryCount < 3) throw new Error('handler crashed');
    });
    await eventually('a third run', () => deliveries.length === 3);
    expect(deliveries.map((d) => d.deliveryCount)).toEqual([1, 2, 3]);
    expect(consumer.ack(deliveries[2] as Delivery)).toBe('settled');
    await connection.close();
    expect(await admin.ready(queue)).toBe(0);
    expect(await admin.ready(`${queue}_error`)).toBe(0);
  });

  it('returns a message that did not run to the queue without counting a run', async () => {
    const queue = await admin.componentQueue('builder');
    await admin.fill(queue, 'waiting');
    const released: string[] = [];
    let seen = 0;
    const { deliveries } = await collect(queue, { prefetch: 1 }, async (d, consumer) => {
      if (++seen < 3) released.push(await consumer.release(d));
    });
    await eventually('two releases and a third delivery', () => released.length === 2 && seen === 3);
    expect(released).toEqual(['settled', 'settled']);
    expect(deliveries.map((d) => d.deliveryCount)).toEqual([1, 1, 1]);
  });
});

describe.each(['classic', 'quorum'] as const)('runs on a %s queue', (queueType) => {
  /** Takes the next delivery of `queue` on a fresh connection, as a freshly started replica would. */
  async function deliveredToFreshReplica(queue: string) {
    const replica = connectionTo(sharedAmqpUrl);
    await replica.connect({ timeoutMs: 10_000 });
    const deliveries: Delivery[] = [];
    const consumer = await replica.consume(queue, (d) => void deliveries.push(d), { prefetch: 1, queueType });
    await eventually('a delivery', () => deliveries.length === 1);
    return { delivery: deliveries[0] as Delivery, consumer, replica };
  }

  it('are counted across replicas that die holding the message, without copying it', async () => {
    const queue = await admin.componentQueue('builder', queueType);
    await admin.fill(queue, 'kills its replica');
    const counts: number[] = [];
    for (let run = 1; run <= 3; run++) {
      const { delivery, replica } = await deliveredToFreshReplica(queue);
      counts.push(delivery.deliveryCount);
      // Its process dies: the connection goes without a settlement.
      await replica.close();
    }
    const last = await deliveredToFreshReplica(queue);
    expect([...counts, last.delivery.deliveryCount]).toEqual([1, 2, 3, 4]);
    expect(last.delivery.content.toString()).toBe('kills its replica');
    expect(last.consumer.ack(last.delivery)).toBe('settled');
    await last.replica.close();
    expect(await admin.ready(queue)).toBe(0);
  });

  it('count a run once when a copy is held for a delivery whose channel closed, and the run ends unanswered', async () => {
    const queue = await admin.componentQueue('builder', queueType);
    await admin.fill(queue, 'outlives its channel');
    // The copy is held as the service holds it while the workflow runs; what comes after is a new run.
    let first: Delivery | undefined;
    let held = false;
    const { deliveries, consumer } = await collect(queue, { prefetch: 2, queueType }, (d, c) => {
      if (!first) first = d;
      else if (!held) held = c.hold(d, first);
    });
    await eventually('the first delivery', () => deliveries.length === 1);
    // A publish to a missing exchange makes the broker close the channel: the delivery goes back to the queue
    // and comes back on the next channel, as after a broker restart, while its run goes on here.
    await expect(connection.publish(uniqueName('missing'), 'x', Buffer.from('x'))).rejects.toThrow();
    await eventually('the copy on the next channel', () => deliveries.length === 2);
    expect(deliveries[1]?.copyOf).toBe(deliveries[0]?.id);
    expect(held).toBe(true);

    expect(await consumer.returnAfterRun(deliveries[0] as Delivery)).toBe('settled');

    await eventually('the next delivery', () => deliveries.length === 3);
    expect(deliveries.map((d) => d.deliveryCount)).toEqual([1, 2, 2]);
    expect(consumer.ack(deliveries[2] as Delivery)).toBe('settled');
    await eventually('an empty queue', async () => (await admin.ready(queue)) === 0);
  });
});

describe('dead-lettering', () => {
  const undecodable = (d: Delivery): boolean => d.content[0] !== 131;

  it('moves an undecodable message to "<queue>_error" with the reason and keeps consuming', async () => {
    const queue = await admin.componentQueue('builder');
    await admin.fill(queue, '{"json":"is not ETF"}', Buffer.from([131, 106]));
    const settled: string[] = [];
    await collect(queue, { prefetch: 1 }, async (d, consumer) => {
      settled.push(undecodable(d) ? await consumer.deadLetter(d, 'undecodable: not ETF') : consumer.ack(d));
    });
    await eventually('both messages are settled', () => settled.length === 2);
    expect(settled).toEqual(['settled', 'settled']);
    const dead = await admin.take(`${queue}_error`);
    expect(dead && dead.content.toString()).toBe('{"json":"is not ETF"}');
    expect(dead && dead.properties).toMatchObject({
      deliveryMode: 2,
      headers: {
        [deadLetterHeaders.reason]: 'undecodable: not ETF',
        [deadLetterHeaders.queue]: queue,
        [deadLetterHeaders.deliveryCount]: 1,
      },
    });
    expect(await admin.ready(queue)).toBe(0);
  });

  it('keeps the original properties and headers and leaves an existing dead-letter queue as it is', async () => {
    const queue = await admin.componentQueue('builder');
    await admin.channel.assertQueue(`${queue}_error`, { durable: true, arguments: { 'x-max-length': 100 } });
    admin.channel.sendToQueue(queue, Buffer.from('x'), { messageId: 'm-7', headers: { origin: 'test' } });
    const settled: string[] = [];
    await collect(queue, { prefetch: 1 }, async (d, consumer) => {
      settled.push(await consumer.deadLetter(d, 'rejected'));
    });
    await eventually('the message is settled', () => settled.length === 1);
    const dead = await admin.take(`${queue}_error`);
    expect(dead && dead.properties).toMatchObject({
      messageId: 'm-7',
      headers: { origin: 'test', [deadLetterHeaders.reason]: 'rejected' },
    });
  });

  it('uses the configured dead-letter queue', async () => {
    const queue = await admin.componentQueue('builder');
    const custom = uniqueName('parking');
    admin.forget(custom);
    await admin.fill(queue, 'x');
    await collect(queue, { prefetch: 1, deadLetterQueue: custom }, async (d, consumer) => {
      await consumer.deadLetter(d, 'parked');
    });
    await eventually('the message is parked', async () => (await admin.ready(custom)) === 1);
    expect(await admin.ready(`${queue}_error`)).toBe(0);
    expect(await admin.ready(queue)).toBe(0);
  });
});
