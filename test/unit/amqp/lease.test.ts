import { leaseQueueName } from '../../../src/amqp/lease';

describe('the name of a workflow lease queue', () => {
  it('is the workflow id after the lease prefix', () => {
    expect(leaseQueueName('5f0c2a1e-7d4b-4c1a-9e2f-0b8d6a3c4e21')).toBe(
      'oa-builder.lease.5f0c2a1e-7d4b-4c1a-9e2f-0b8d6a3c4e21',
    );
  });

  it('is a hash of the id, distinct per id, when the name would pass the 255 bytes RabbitMQ accepts', () => {
    const long = 'é'.repeat(150);
    const name = leaseQueueName(long);
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(255);
    expect(name).toMatch(/^oa-builder\.lease\.sha256\.[0-9a-f]{64}$/);
    expect(leaseQueueName(`${long}x`)).not.toBe(name);
  });
});
