import { atom, decode, encode, float, fromJson, map, mapOf, tuple, type Term } from '../../../src/etf';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// The test vectors of the wire protocol's appendix: bytes from `term_to_binary/1` on OTP 25.
const vectors: Array<[string, Term, string]> = [
  [':builder', atom('builder'), '83 64 0007 6275696c646572'],
  ['nil', null, '83 64 0003 6e696c'],
  ['true', true, '83 64 0004 74727565'],
  ['"abc"', 'abc', '83 6d 00000003 616263'],
  ['[]', [], '83 6a'],
  ['["a","b"]', ['a', 'b'], '83 6c 00000002 6d0000000161 6d0000000162 6a'],
  ['[1,2,3] (a charlist)', [1, 2, 3], '83 6b 0003 010203'],
  ['7', 7, '83 61 07'],
  ['1444', 1444, '83 62 000005a4'],
  ['-1', -1, '83 62 ffffffff'],
  ['2^40', 2 ** 40, '83 6e 06 00 000000000001'],
  ['1.5', float(1.5), '83 46 3ff8000000000000'],
  ['{1444, 123456, 789012}', tuple(1444, 123456, 789012), '83 68 03 62000005a4 620001e240 62000c0a14'],
  [
    'the heartbeat',
    mapOf({
      event_type: atom('status'),
      hostname: 'abc123',
      status: atom('active'),
      type: atom('builder'),
      workload: [],
    }),
    '83740000000564000a6576656e745f74797065640006737461747573640008686f73746e616d656d00000006616263313233' +
      '640006737461747573640006616374697665640004747970656400076275696c646572640008776f726b6c6f61646a',
  ],
  [
    'a hipchat notification',
    mapOf({ is_success: true, message: 'hi', prefix: '[OA][1]', room_names: null }),
    '83740000000464000a69735f73756363657373640004747275656400076d6573736167656d0000000268696400067072656669786d' +
      '000000075b4f415d5b315d64000a726f6f6d5f6e616d65736400036e696c',
  ],
  [
    'a map with binary keys',
    fromJson({ hipchat: { room_names: ['r1'] } }),
    '8374000000016d000000076869706368617474000000016d0000000a726f6f6d5f6e616d65736c000000016d0000000272316a',
  ],
];

describe('the protocol test vectors', () => {
  it.each(vectors)('decodes %s', (_name, term, bytes) => {
    expect(decode(hex(bytes))).toEqual(term);
  });

  it.each(vectors)('encodes %s to the bytes Erlang writes', (_name, term, bytes) => {
    expect(encode(term).toString('hex')).toBe(hex(bytes).toString('hex'));
  });

  it('reads a SMALL_ATOM_UTF8 atom as the same atom and writes it back with its own tag', () => {
    const bytes = hex('83 77 07 6275696c646572');
    const term = decode(bytes);
    expect(term).toEqual(atom('builder', 119));
    expect(encode(term)).toEqual(bytes);
  });

  it('builds maps in the key order Erlang writes, whatever order the entries come in', () => {
    const shuffled = map([
      [atom('workload'), []],
      [atom('type'), atom('builder')],
      [atom('hostname'), 'abc123'],
      [atom('status'), atom('active')],
      [atom('event_type'), atom('status')],
    ]);
    expect(encode(shuffled).toString('hex')).toBe(hex(vectors[13]![2]).toString('hex'));
  });
});
