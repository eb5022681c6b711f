import amqp from 'amqplib';
import { AmqpConnectionManagerClass } from 'amqp-connection-manager';
import { testEnv, uniqueName } from '../../harness/env';

const env = testEnv();

function firstDelivery(channel: amqp.Channel, queue: string): Promise<amqp.ConsumeMessage> {
  return new Promise((resolve, reject) => {
    channel
      .consume(queue, (msg) => (msg ? resolve(msg) : reject(new Error('consumer cancelled by the broker'))))
      .catch(reject);
  });
}

describe('the test RabbitMQ', () => {
  it('carries a message from publish to an acknowledged delivery with amqplib', async () => {
    const connection = await amqp.connect(env.amqpUrl);
    const channel = await connection.createChannel();
    const queue = uniqueName('smoke-amqplib');
    try {
      await channel.assertQueue(queue, { durable: false });
      const delivered = firstDelivery(channel, queue);
      channel.sendToQueue(queue, Buffer.from('hello over amqplib'), { contentType: 'text/plain' });
      const msg = await delivered;
      channel.ack(msg);

      expect(msg.content.toString()).toBe('hello over amqplib');
      expect(msg.properties.contentType).toBe('text/plain');
      expect(msg.fields.redelivered).toBe(false);
      await channel.cancel(msg.fields.consumerTag);
      const after = await channel.checkQueue(queue);
      expect(after.messageCount).toBe(0);
    } finally {
      await channel.deleteQueue(queue);
      await connection.close();
    }
  });

  it('carries a confirmed publish to an acknowledged delivery with amqp-connection-manager', async () => {
    const queue = uniqueName('smoke-acm');
    const manager = new AmqpConnectionManagerClass([env.amqpUrl], { heartbeatIntervalInSeconds: 5 });
    await manager.connect({ timeout: 10_000 });
    const channel = manager.createChannel({
      json: false,
      setup: async (c: amqp.ConfirmChannel) => {
        await c.assertQueue(queue, { durable: false });
      },
    });
    try {
      await channel.waitForConnect();
      const delivered = new Promise<amqp.ConsumeMessage>((resolve, reject) => {
        channel.consume(queue, resolve, { prefetch: 1, noAck: false }).catch(reject);
      });
      const confirmed = await channel.publish('', queue, Buffer.from('hello over the manager'), {
        persistent: false,
        timeout: 5_000,
      });
      const msg = await delivered;
      channel.ack(msg);

      expect(confirmed).toBe(true);
      expect(msg.content.toString()).toBe('hello over the manager');
      expect(msg.fields.routingKey).toBe(queue);
    } finally {
      await channel.cancelAll();
      await channel.deleteQueue(queue);
      await channel.close();
      await manager.close();
    }
  });
});
