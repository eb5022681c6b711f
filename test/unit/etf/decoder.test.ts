import { deflateSync } from 'node:zlib';
import {
  atom,
  decode,
  EtfDecodeError,
  float,
  tuple,
  type EtfDecodeErrorCode,
  type Term,
} from '../../../src/etf';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function compressed(inner: Buffer, declared = inner.length): Buffer {
  const head = Buffer.from([131, 80, 0, 0, 0, 0]);
  head.writeUInt32BE(declared, 2);
  return Buffer.concat([head, deflateSync(inner)]);
}

function failure(bytes: Uint8Array, options = {}): EtfDecodeError {
  try {
    decode(bytes, options);
  } catch (err) {
    if (err instanceof EtfDecodeError) return err;
    throw err;
  }
  throw new Error('decode accepted the input');
}

describe('decoding each tag', () => {
  const cases: Array<[string, string, Term]> = [
    ['a SMALL_ATOM_EXT atom, remembering its tag', '83 73 03 616263', atom('abc', 115)],
    ['an ATOM_UTF8_EXT atom with ASCII text, remembering its tag', '83 76 0003 616263', atom('abc', 118)],
    ['a SMALL_ATOM_UTF8_EXT atom that needs UTF-8, as a plain atom', '83 77 02 cebb', atom('λ')],
    [
      'an ATOM_UTF8_EXT atom that fits the short form, remembering its tag',
      '83 76 0002 cebb',
      atom('λ', 118),
    ],
    ['a latin-1 ATOM_EXT atom', '83 64 0001 f6', atom('ö')],
    [
      'nil written with an unusual tag as the atom, so it re-encodes the same',
      '83 77 03 6e696c',
      atom('nil', 119),
    ],
    ['false', '83 64 0005 66616c7365', false],
    ['a negative INTEGER_EXT', '83 62 80000000', -2147483648],
    ['the largest safe integer as a number', '83 6e 07 00 ffffffffffff1f', Number.MAX_SAFE_INTEGER],
    ['one past the largest safe integer as a bigint', '83 6e 07 00 00000000000020', 2n ** 53n],
    ['a negative SMALL_BIG_EXT', '83 6e 08 01 0000000000000001', -(2n ** 56n)],
    ['a big integer of zero with the sign set as plain zero', '83 6e 01 01 00', 0],
    ['a LARGE_BIG_EXT', `83 6f 00000100 00 ${'00'.repeat(255)}01`, 2n ** 2040n],
    [
      'an old FLOAT_EXT',
      `83 63 ${Buffer.from('1.50000000000000000000e+00').toString('hex')}${'00'.repeat(5)}`,
      float(1.5),
    ],
    ['a negative zero float', '83 46 8000000000000000', float(-0)],
    ['an empty binary', '83 6d 00000000', ''],
    ['a binary of UTF-8 text', '83 6d 00000002 cebb', 'λ'],
    ['a binary that is not UTF-8 as bytes', '83 6d 00000002 ff00', Buffer.from([0xff, 0x00])],
    ['a long ASCII binary', `83 6d 00000064 ${'61'.repeat(100)}`, 'a'.repeat(100)],
    [
      'a long binary that is not UTF-8 as bytes',
      `83 6d 00000064 ${'ff'.repeat(100)}`,
      Buffer.alloc(100, 0xff),
    ],
    ['an improper list', '83 6c 00000002 6101 6102 6103', { kind: 'improper', items: [1, 2], tail: 3 }],
    ['a list whose tail is a charlist as one proper list', '83 6c 00000001 6101 6b 0002 6162', [1, 97, 98]],
    ['a list of no elements as its tail', '83 6c 00000000 6101', 1],
    ['an empty tuple', '83 68 00', tuple()],
    ['a LARGE_TUPLE_EXT', `83 69 00000100 ${'6101'.repeat(256)}`, tuple(...new Array<Term>(256).fill(1))],
    ['an empty map', '83 74 00000000', { kind: 'map', entries: [] }],
  ];

  it.each(cases)('reads %s', (_name, bytes, term) => {
    expect(decode(hex(bytes))).toEqual(term);
  });

  it('reads a compressed term', () => {
    expect(decode(compressed(hex('6d 00000003 616263')))).toBe('abc');
  });

  it('accepts a Uint8Array that is not a Buffer', () => {
    const bytes = new Uint8Array([0, 131, 97, 7]).subarray(1);
    expect(decode(bytes)).toBe(7);
  });
});

describe('refusing bad input', () => {
  const max = 'ffffffff';
  const cases: Array<[string, string, EtfDecodeErrorCode, number]> = [
    ['empty input', '', 'truncated', 0],
    ['a version byte other than 131', '82 61 01', 'bad-version', 0],
    ['input that ends inside an integer', '83 62 0000', 'truncated', 2],
    ['input that ends before a tag', '83', 'truncated', 1],
    ['an unknown tag', '83 58 00', 'unknown-tag', 1],
    ['bytes after the term', '83 6a 00', 'trailing-bytes', 2],
    ['a binary length of 2^32-1', `83 6d ${max} 00`, 'length-exceeds-buffer', 2],
    ['a list length of 2^32-1', `83 6c ${max} 6a`, 'length-exceeds-buffer', 2],
    ['a tuple arity of 2^32-1', `83 69 ${max}`, 'length-exceeds-buffer', 2],
    ['a map size of 2^32-1', `83 74 ${max} 6a`, 'length-exceeds-buffer', 2],
    ['a charlist longer than the input', '83 6b ffff 01', 'length-exceeds-buffer', 2],
    ['an atom longer than the input', '83 64 0005 61', 'length-exceeds-buffer', 2],
    ['a big integer of 2^32-1 bytes', `83 6f ${max} 00`, 'integer-too-large', 1],
    ['a big integer one byte longer than Erlang allows', '83 6f 003ffff9 00', 'integer-too-large', 1],
    ['a big integer longer than the input', '83 6e 08 00 01', 'length-exceeds-buffer', 2],
    ['an ATOM_EXT atom of 256 characters', `83 64 0100 ${'61'.repeat(256)}`, 'atom-too-long', 1],
    ['a UTF-8 atom of 256 characters', `83 76 0200 ${'cebb'.repeat(256)}`, 'atom-too-long', 1],
    ['a UTF-8 atom that is not UTF-8', '83 77 01 ff', 'invalid-utf8', 3],
    ['a float that is not a number', '83 46 7ff8000000000000', 'bad-float', 1],
    ['an infinite float', '83 46 7ff0000000000000', 'bad-float', 1],
    [
      'an old FLOAT_EXT that is not a number',
      `83 63 ${Buffer.from('nan').toString('hex')}${'00'.repeat(28)}`,
      'bad-float',
      1,
    ],
    ['a compressed term declaring 2^32-1 bytes', `83 50 ${max} 00`, 'inflated-too-large', 2],
    ['a compressed term that is not zlib data', '83 50 00000003 00 01 02', 'inflate-failed', 6],
  ];

  it.each(cases)('refuses %s', (_name, bytes, code, offset) => {
    const err = failure(hex(bytes));
    expect({ code: err.code, offset: err.offset }).toEqual({ code, offset });
    expect(err.message).toContain(`at byte ${offset}`);
  });

  it('refuses nesting deeper than the default limit of 512', () => {
    const deep = Buffer.from([131, ...Array.from({ length: 600 }, () => [0x68, 1]).flat(), 0x6a]);
    expect(failure(deep).code).toBe('too-deep');
    expect(failure(deep).offset).toBe(1 + 2 * 512);
  });

  it('refuses nesting deeper than a configured limit', () => {
    const nested = hex('83 6c 00000001 6c 00000001 6a 6a 6a');
    expect(decode(nested, { maxDepth: 2 })).toEqual([[[]]]);
    expect(failure(nested, { maxDepth: 1 }).code).toBe('too-deep');
  });

  it('refuses a compressed term larger than the configured maximum', () => {
    const err = failure(compressed(hex('6d 00000003 616263')), { maxInflatedBytes: 4 });
    expect(err.code).toBe('inflated-too-large');
  });

  it('stops inflating a zip bomb at its declared size', () => {
    const bomb = compressed(Buffer.alloc(10 * 1024 * 1024), 100);
    const err = failure(bomb);
    expect(err.code).toBe('inflate-failed');
    expect(err.offset).toBe(6);
  });

  it('refuses a compressed term that inflates to less than it declared', () => {
    const err = failure(compressed(hex('6d 00000003 616263'), 100));
    expect(err.code).toBe('inflate-failed');
    expect(err.message).toContain('inflated to 8 bytes, not 100');
  });

  it('reports offsets inside a compressed term as offsets of the inflated data', () => {
    const err = failure(compressed(hex('6d 00000009 6162')));
    expect({ code: err.code, offset: err.offset, inflated: err.inflated }).toEqual({
      code: 'length-exceeds-buffer',
      offset: 1,
      inflated: true,
    });
    expect(err.message).toBe('length 9 exceeds the 2 byte(s) left at byte 1 of the inflated term');
  });
});
