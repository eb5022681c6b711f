import { decode, isMap, mapGet } from '../../../src/etf';
import { encodeBuildLog, encodeHeartbeat, encodeHipchatNotification } from '../../../src/messages';

const hex = (s: string): string => s.replace(/\s+/g, '');

describe('the messages the builder sends', () => {
  it('writes a hipchat notification exactly as Erlang does', () => {
    const bytes = encodeHipchatNotification({
      is_success: true,
      message: 'hi',
      prefix: '[OA][1]',
      room_names: null,
    });
    expect(bytes.toString('hex')).toBe(
      hex(
        '83740000000464000a69735f73756363657373640004747275656400076d6573736167656d0000000268696400067072656669786d' +
          '000000075b4f415d5b315d64000a726f6f6d5f6e616d65736400036e696c',
      ),
    );
  });

  it('writes the room names of a hipchat notification as a list of binaries', () => {
    const bytes = encodeHipchatNotification({
      is_success: false,
      message: 'm',
      prefix: 'p',
      room_names: ['a'],
    });
    const term = decode(bytes);
    expect(isMap(term) && mapGet(term, 'room_names')).toEqual(['a']);
  });

  it('writes a heartbeat exactly as Erlang does, with atom keys and atom values', () => {
    expect(encodeHeartbeat({ hostname: 'abc123' }).toString('hex')).toBe(
      hex(
        '83740000000564000a6576656e745f74797065640006737461747573640008686f73746e616d656d00000006616263313233' +
          '640006737461747573640006616374697665640004747970656400076275696c646572640008776f726b6c6f61646a',
      ),
    );
  });

  it('writes a heartbeat with a given status, type and workload', () => {
    const term = decode(
      encodeHeartbeat({ hostname: 'h', status: 'inactive', type: 'deployer', workload: [{ a: 1 }] }),
    );
    expect(term).toMatchObject({
      entries: [
        [{ name: 'event_type' }, { name: 'status' }],
        [{ name: 'hostname' }, 'h'],
        [{ name: 'status' }, { name: 'inactive' }],
        [{ name: 'type' }, { name: 'deployer' }],
        [{ name: 'workload' }, [{ kind: 'map', entries: [['a', 1]] }]],
      ],
    });
  });

  it("carries the builder's version under a key of its own when given", () => {
    const term = decode(encodeHeartbeat({ hostname: 'h', version: '1.2.3' }));
    if (!isMap(term)) throw new Error('not a map');
    expect(mapGet(term, 'version')).toBe('1.2.3');
    expect(mapGet(decode(encodeHeartbeat({ hostname: 'h' })) as never, 'version')).toBeUndefined();
  });

  it('writes build log lines exactly as Erlang does', () => {
    // term_to_binary(#{workflow_id => <<"w1">>, logs => [<<"line">>]}) on OTP 25
    expect(encodeBuildLog({ workflow_id: 'w1', logs: ['line'] }).toString('hex')).toBe(
      hex(
        '8374000000026400046c6f67736c000000016d000000046c696e656a64000b776f726b666c6f775f69646d000000027731',
      ),
    );
  });
});
