import { atom, decode, encode, EtfEncodeError, float, improper, tuple, type Term } from '../../../src/etf';

const hexOf = (t: Term): string => encode(t).toString('hex');
const hex = (s: string): string => s.replace(/\s+/g, '');

describe('choosing the encoding Erlang chooses', () => {
  const cases: Array<[string, Term, string]> = [
    ['0 as a SMALL_INTEGER', 0, '83 61 00'],
    ['255 as a SMALL_INTEGER', 255, '83 61 ff'],
    ['256 as an INTEGER', 256, '83 62 00000100'],
    ['the largest int32 as an INTEGER', 2 ** 31 - 1, '83 62 7fffffff'],
    ['the smallest int32 as an INTEGER', -(2 ** 31), '83 62 80000000'],
    ['2^31 as a SMALL_BIG of four bytes', 2 ** 31, '83 6e 04 00 00000080'],
    ['-2^31-1 as a negative SMALL_BIG', -(2 ** 31) - 1, '83 6e 04 01 01000080'],
    ['the largest safe integer in seven bytes', Number.MAX_SAFE_INTEGER, '83 6e 07 00 ffffffffffff1f'],
    ['a small bigint like the number', 5n, '83 61 05'],
    ['a negative int32 bigint like the number', -7n, '83 62 fffffff9'],
    ['2^64 as a SMALL_BIG of nine bytes', 2n ** 64n, '83 6e 09 00 000000000000000001'],
    ['2^2040 as a LARGE_BIG', 2n ** 2040n, `83 6f 00000100 00 ${'00'.repeat(255)}01`],
    ['a latin-1 atom as ATOM_EXT', atom('ö'), '83 64 0001 f6'],
    ['a UTF-8 atom as SMALL_ATOM_UTF8', atom('λ'), '83 77 02 cebb'],
    [
      'a UTF-8 atom of more than 255 bytes as ATOM_UTF8',
      atom('λ'.repeat(255)),
      `83 76 01fe ${'cebb'.repeat(255)}`,
    ],
    ['an atom with a SMALL_ATOM_EXT tag', atom('ab', 115), '83 73 02 6162'],
    ['an atom with an ATOM_UTF8_EXT tag', atom('ab', 118), '83 76 0002 6162'],
    ['an atom with a SMALL_ATOM_UTF8_EXT tag', atom('ab', 119), '83 77 02 6162'],
    ['false as an atom', false, '83 64 0005 66616c7365'],
    ['negative zero as a NEW_FLOAT', float(-0), '83 46 8000000000000000'],
    ['a byte list as a charlist', [104, 105], '83 6b 0002 6869'],
    ['a bigint byte list as a charlist', [1n, 2n], '83 6b 0002 0102'],
    ['a list holding 256 as a LIST', [1, 256], '83 6c 00000002 6101 6200000100 6a'],
    ['an improper list', improper([1, 2], 3), '83 6c 00000002 6101 6102 6103'],
    [
      'a tuple of 256 elements as a LARGE_TUPLE',
      tuple(...new Array<Term>(256).fill(0)),
      `83 69 00000100 ${'6100'.repeat(256)}`,
    ],
    ['a binary of bytes', Uint8Array.of(0xff), '83 6d 00000001 ff'],
    ['an astral character in UTF-8', '😀', '83 6d 00000004 f09f9880'],
  ];

  it.each(cases)('writes %s', (_name, term, bytes) => {
    expect(hexOf(term)).toBe(hex(bytes));
  });

  it('writes 65535 bytes as a charlist and 65536 as a list', () => {
    expect(encode(new Array<Term>(0xffff).fill(1)).subarray(0, 4).toString('hex')).toBe('836bffff');
    expect(encode(new Array<Term>(0x10000).fill(1)).subarray(0, 6).toString('hex')).toBe('836c00010000');
  });

  it('writes a term bigger than its scratch buffer, and small ones after it', () => {
    const big = Buffer.alloc(3 * 1024 * 1024, 0xff);
    expect(big.equals(decode(encode(big)) as Buffer)).toBe(true);
    expect(hexOf('abc')).toBe('836d00000003616263');
  });
});

describe('refusing values that have no term', () => {
  const cyclic: Term[] = [];
  cyclic.push(cyclic);
  const cases: Array<[string, unknown, string]> = [
    ['a number with a fraction', 1.5, 'float()'],
    ['an integer beyond the safe range', 2 ** 60, 'bigint'],
    ['a float that is not finite', float(Number.NaN), 'no Erlang equivalent'],
    ['a string with a lone surrogate', 'a\ud800b', 'lone surrogate'],
    ['an atom longer than 255 characters', atom('a'.repeat(256)), 'longer than 255'],
    ['a non-latin-1 atom with ATOM_EXT', atom('λ', 100), 'cannot be written with tag 100'],
    ['a non-latin-1 atom with SMALL_ATOM_EXT', atom('λ', 115), 'cannot be written with tag 115'],
    ['an atom with a lone surrogate', atom('\udc00'), 'cannot be written'],
    ['an atom too long for SMALL_ATOM_UTF8', atom('λ'.repeat(200), 119), 'does not fit tag 119'],
    ['an atom tag that is not an atom tag', { kind: 'atom', name: 'a', tag: 42 }, '42 is not an atom tag'],
    ['an atom without a name', { kind: 'atom' }, 'without a name'],
    ['an improper list without elements', { kind: 'improper', items: [], tail: 1 }, 'at least one element'],
    ['an improper list with a list tail', { kind: 'improper', items: [1], tail: [2] }, 'not a list'],
    ['a tuple without items', { kind: 'tuple' }, 'without items'],
    ['a map without entries', { kind: 'map' }, 'without entries'],
    ['a map entry that is not a pair', { kind: 'map', entries: [[1]] }, 'not a [key, value] pair'],
    ['an object of no known kind', { kind: 'pid' }, 'cannot encode object ["kind"]'],
    ['undefined', undefined, 'cannot encode undefined'],
    ['a function', () => 1, 'cannot encode function'],
    ['a symbol', Symbol('x'), 'cannot encode symbol'],
    ['a cyclic list', cyclic, 'nesting deeper than 512'],
    ['an integer of more bytes than Erlang accepts', 1n << (8n * 4194296n), 'too large'],
  ];

  it.each(cases)('refuses %s', (_name, value, message) => {
    expect(() => encode(value as Term)).toThrow(EtfEncodeError);
    expect(() => encode(value as Term)).toThrow(message);
  });

  it('refuses nesting deeper than a configured limit', () => {
    expect(encode([[null]], { maxDepth: 2 }).length).toBeGreaterThan(0);
    expect(() => encode([[[null]]], { maxDepth: 2 })).toThrow('nesting deeper than 2');
  });
});
