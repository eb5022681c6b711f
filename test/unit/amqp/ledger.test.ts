import type { ConsumeMessage } from 'amqplib';
import { DeliveryLedger } from '../../../src/amqp/ledger';

let tag = 0;
function message(
  content: string,
  extra: { redelivered?: boolean; headers?: Record<string, unknown>; messageId?: string } = {},
) {
  return {
    content: Buffer.from(content),
    fields: {
      deliveryTag: ++tag,
      redelivered: extra.redelivered ?? false,
      exchange: '',
      routingKey: 'q',
      consumerTag: 'c',
    },
    properties: { headers: extra.headers, messageId: extra.messageId },
  } as unknown as ConsumeMessage;
}

describe('DeliveryLedger', () => {
  it('keys a message by its message id, else by a hash of its bytes', () => {
    const ledger = new DeliveryLedger();
    const byId = ledger.record(message('a', { messageId: 'm-1' }), 'q', 1);
    const byHash = ledger.record(message('a'), 'q', 1);
    expect(byId.key).toBe('m-1');
    expect(byHash.key).toMatch(/^[0-9a-f]{64}$/);
  });

  it('counts the deliveries of a message it has seen before', () => {
    const ledger = new DeliveryLedger();
    const first = ledger.record(message('a'), 'q', 1);
    ledger.settle(first.id, false);
    const second = ledger.record(message('a', { redelivered: true }), 'q', 2);
    ledger.settle(second.id, false);
    expect(ledger.record(message('a', { redelivered: true }), 'q', 3).deliveryCount).toBe(3);
  });

  it("takes a quorum queue's x-delivery-count and the redelivered flag into account", () => {
    const ledger = new DeliveryLedger();
    expect(ledger.record(message('a', { headers: { 'x-delivery-count': 4 } }), 'q', 1).deliveryCount).toBe(5);
    expect(ledger.record(message('b', { redelivered: true }), 'q', 1).deliveryCount).toBe(2);
  });

  it('forgets the count of a message once it is finally settled', () => {
    const ledger = new DeliveryLedger();
    const first = ledger.record(message('a'), 'q', 1);
    ledger.settle(first.id, true);
    expect(ledger.record(message('a'), 'q', 1).deliveryCount).toBe(1);
  });

  it('remembers at most the configured number of messages, forgetting the oldest', () => {
    const ledger = new DeliveryLedger(2);
    for (const content of ['a', 'b', 'c']) ledger.settle(ledger.record(message(content), 'q', 1).id, false);
    expect(ledger.record(message('a'), 'q', 1).deliveryCount).toBe(1);
    expect(ledger.record(message('c'), 'q', 1).deliveryCount).toBe(2);
  });

  it('marks a redelivery of a message still unsettled from an older channel as its copy', () => {
    const ledger = new DeliveryLedger();
    const original = ledger.record(message('a'), 'q', 1);
    const copy = ledger.record(message('a', { redelivered: true }), 'q', 2);
    expect(copy.copyOf).toBe(original.id);
    expect(ledger.record(message('b'), 'q', 2).copyOf).toBeUndefined();
  });

  it('does not take two equal messages on the same channel for copies', () => {
    const ledger = new DeliveryLedger();
    ledger.record(message('a'), 'q', 1);
    expect(ledger.record(message('a'), 'q', 1).copyOf).toBeUndefined();
  });

  it('settles held copies together with their original', () => {
    const ledger = new DeliveryLedger();
    const original = ledger.record(message('a'), 'q', 1);
    const copy = ledger.record(message('a'), 'q', 2);
    expect(ledger.hold(copy.id, original.id)).toBe(true);
    expect(ledger.group(original.id).map((e) => e.delivery.id)).toEqual([original.id, copy.id]);
    ledger.settle(copy.id, true);
    expect(ledger.group(original.id).map((e) => e.delivery.id)).toEqual([original.id]);
  });

  it('refuses to hold a copy for a settled original or for itself', () => {
    const ledger = new DeliveryLedger();
    const original = ledger.record(message('a'), 'q', 1);
    const copy = ledger.record(message('a'), 'q', 2);
    expect(ledger.hold(copy.id, copy.id)).toBe(false);
    ledger.settle(original.id, false);
    expect(ledger.hold(copy.id, original.id)).toBe(false);
    expect(ledger.size).toBe(1);
  });
});
