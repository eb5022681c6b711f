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

  it('counts the runs a classic queue message carries in x-oa-runs, plus one for a redelivery', () => {
    const ledger = new DeliveryLedger('classic');
    expect(ledger.record(message('a'), 'q', 1).deliveryCount).toBe(1);
    expect(ledger.record(message('b', { redelivered: true }), 'q', 1).deliveryCount).toBe(2);
    expect(ledger.record(message('c', { headers: { 'x-oa-runs': 2 } }), 'q', 1).deliveryCount).toBe(3);
    const both = message('d', { redelivered: true, headers: { 'x-oa-runs': 2 } });
    expect(ledger.record(both, 'q', 1).deliveryCount).toBe(4);
  });

  it("counts a quorum queue's x-delivery-count on top of x-oa-runs, not the redelivered flag", () => {
    const ledger = new DeliveryLedger('quorum');
    const counted = message('a', { redelivered: true, headers: { 'x-delivery-count': 2, 'x-oa-runs': 1 } });
    expect(ledger.record(counted, 'q', 1).deliveryCount).toBe(4);
    expect(ledger.record(message('b', { redelivered: true }), 'q', 1).deliveryCount).toBe(1);
  });

  it('reads the same count for the same message however often this process saw it', () => {
    const ledger = new DeliveryLedger();
    for (let i = 0; i < 3; i++) ledger.settle(ledger.record(message('a'), 'q', 1).id);
    expect(ledger.record(message('a'), 'q', 1).deliveryCount).toBe(1);
  });

  it('ignores run counts that are not whole positive numbers', () => {
    const ledger = new DeliveryLedger('quorum');
    const odd = message('a', { headers: { 'x-oa-runs': 'many', 'x-delivery-count': -3 } });
    expect(ledger.record(odd, 'q', 1).deliveryCount).toBe(1);
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
    ledger.settle(copy.id);
    expect(ledger.group(original.id).map((e) => e.delivery.id)).toEqual([original.id]);
  });

  it('refuses to hold a copy for a settled original or for itself', () => {
    const ledger = new DeliveryLedger();
    const original = ledger.record(message('a'), 'q', 1);
    const copy = ledger.record(message('a'), 'q', 2);
    expect(ledger.hold(copy.id, copy.id)).toBe(false);
    ledger.settle(original.id);
    expect(ledger.hold(copy.id, original.id)).toBe(false);
    expect(ledger.size).toBe(1);
  });
});
