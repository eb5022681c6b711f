import { isUtf8 } from 'node:buffer';
import { inflateSync } from 'node:zlib';
import { EtfDecodeError, type EtfDecodeErrorCode } from './errors';
import * as T from './tags';
import { defaultAtomTag, improper, specialAtomValue } from './term';
import type { AtomTag, MapEntry, Term } from './types';

export interface DecodeOptions {
  /** How deeply lists, tuples and maps may nest before the input is refused. Default 512. */
  maxDepth?: number;
  /**
   * The largest uncompressed size a compressed term (tag 80) may declare, in bytes; inflating never produces
   * more than the declared size, so this bounds the memory a zip bomb can take. Default 16 MiB.
   */
  maxInflatedBytes?: number;
}

export const DEFAULT_MAX_INFLATED_BYTES = 16 * 1024 * 1024;

// Making strings one native call at a time dominates decoding. Up to this size the whole input becomes one
// latin-1 string up front (one call), and every ASCII binary and latin-1 atom is a cheap substring of it.
const WHOLE_TEXT_BYTES = 1 << 20;
// Finds the next byte of 0x80 or more in the latin-1 text: a native scan, where a JS loop costs a nanosecond a byte.
const HIGH_BYTE = /[\u0080-\u00ff]/g;
// Up to 6 bytes (48 bits) a big integer's magnitude is computed exactly in a double.
const NUMBER_BIG_BYTES = 6;

function atomTerm(name: string, tag: AtomTag): Term {
  if (tag !== T.ATOM_EXT && tag !== defaultAtomTag(name)) return { kind: 'atom', name, tag };
  const special = specialAtomValue(name);
  return special === undefined ? { kind: 'atom', name } : special;
}

/** One pass over one buffer; positions are checked before every read, so reads never throw. */
class Reader {
  pos: number;
  private depth = 0;
  /** The input as latin-1 text, when small enough; byte offsets are character offsets in it. */
  private readonly text: string | undefined;
  /** The first byte of 0x80 or more at or after the last place searched; decoding only moves forward. */
  private nextHigh = -1;

  constructor(
    private readonly buf: Buffer,
    start: number,
    private readonly maxDepth: number,
    private readonly inflated: boolean,
  ) {
    this.pos = start;
    this.text = buf.length <= WHOLE_TEXT_BYTES ? buf.toString('latin1') : undefined;
  }

  /** Whether bytes start..end are ASCII, whose latin-1 and UTF-8 readings are the same (false without text). */
  private ascii(start: number, end: number): boolean {
    if (this.text === undefined) return false;
    if (this.nextHigh < start) {
      HIGH_BYTE.lastIndex = start;
      this.nextHigh = HIGH_BYTE.test(this.text) ? HIGH_BYTE.lastIndex - 1 : Infinity;
    }
    return this.nextHigh >= end;
  }

  private latin1(start: number, end: number): string {
    return this.text === undefined
      ? this.buf.toString('latin1', start, end)
      : this.text.substring(start, end);
  }

  fail(code: EtfDecodeErrorCode, offset: number, detail: string): never {
    throw new EtfDecodeError(code, offset, detail, this.inflated);
  }

  private need(n: number): void {
    const left = this.buf.length - this.pos;
    if (left < n) this.fail('truncated', this.pos, `input ends ${n - left} byte(s) short`);
  }

  // A count read from the wire is checked against what is left before anything is allocated for it.
  private fits(count: number, bytesEach: number, lengthAt: number): void {
    const left = this.buf.length - this.pos;
    if (count * bytesEach > left) {
      this.fail('length-exceeds-buffer', lengthAt, `length ${count} exceeds the ${left} byte(s) left`);
    }
  }

  // Plain indexing after the length check: Buffer's read methods validate their argument again on every call.
  private u8(): number {
    this.need(1);
    return this.buf[this.pos++] as number;
  }

  private u16(): number {
    this.need(2);
    const b = this.buf;
    const p = this.pos;
    this.pos += 2;
    return ((b[p] as number) << 8) | (b[p + 1] as number);
  }

  private u32(): number {
    this.need(4);
    const b = this.buf;
    const p = this.pos;
    this.pos += 4;
    return (
      (((b[p] as number) << 24) |
        ((b[p + 1] as number) << 16) |
        ((b[p + 2] as number) << 8) |
        (b[p + 3] as number)) >>>
      0
    );
  }

  private enter(at: number): void {
    if (++this.depth > this.maxDepth) this.fail('too-deep', at, `nesting deeper than ${this.maxDepth}`);
  }

  end(): void {
    if (this.pos !== this.buf.length) {
      this.fail('trailing-bytes', this.pos, `${this.buf.length - this.pos} byte(s) follow the term`);
    }
  }

  term(): Term {
    const at = this.pos;
    const tag = this.u8();
    switch (tag) {
      case T.SMALL_INTEGER_EXT:
        return this.u8();
      case T.INTEGER_EXT:
        return this.u32() | 0;
      case T.NEW_FLOAT_EXT: {
        this.need(8);
        const v = this.buf.readDoubleBE(this.pos);
        this.pos += 8;
        return this.finite(v, at);
      }
      case T.FLOAT_EXT:
        return this.oldFloat(at);
      case T.ATOM_EXT:
        return this.atom(this.u16(), T.ATOM_EXT, at);
      case T.SMALL_ATOM_EXT:
        return this.atom(this.u8(), T.SMALL_ATOM_EXT, at);
      case T.ATOM_UTF8_EXT:
        return this.atom(this.u16(), T.ATOM_UTF8_EXT, at);
      case T.SMALL_ATOM_UTF8_EXT:
        return this.atom(this.u8(), T.SMALL_ATOM_UTF8_EXT, at);
      case T.BINARY_EXT:
        return this.binary(this.u32(), at);
      case T.SMALL_BIG_EXT:
        return this.big(this.u8(), at);
      case T.LARGE_BIG_EXT:
        return this.big(this.u32(), at);
      case T.NIL_EXT:
        return [];
      case T.STRING_EXT:
        return this.charlist(this.u16(), at);
      case T.LIST_EXT:
        return this.list(this.u32(), at);
      case T.SMALL_TUPLE_EXT:
        return this.tuple(this.u8(), at);
      case T.LARGE_TUPLE_EXT:
        return this.tuple(this.u32(), at);
      case T.MAP_EXT:
        return this.map(this.u32(), at);
      default:
        return this.fail('unknown-tag', at, `unsupported tag ${tag}`);
    }
  }

  private finite(v: number, at: number): Term {
    if (!Number.isFinite(v)) this.fail('bad-float', at, 'float is not finite');
    return { kind: 'float', value: v };
  }

  private oldFloat(at: number): Term {
    // FLOAT_EXT: 31 bytes of C-formatted text ("%.20e"), padded with NULs.
    this.need(31);
    const text = this.buf
      .toString('latin1', this.pos, this.pos + 31)
      .replace(/\0+$/, '')
      .trim();
    this.pos += 31;
    if (!/^[+-]?\d+(\.\d+)?(e[+-]?\d+)?$/i.test(text)) this.fail('bad-float', at, 'malformed FLOAT_EXT text');
    return this.finite(Number.parseFloat(text), at);
  }

  private atom(len: number, tag: AtomTag, at: number): Term {
    this.fits(len, 1, at + 1);
    const start = this.pos;
    const end = (this.pos += len);
    const utf8 = (tag === T.ATOM_UTF8_EXT || tag === T.SMALL_ATOM_UTF8_EXT) && !this.ascii(start, end);
    if (utf8 && !isUtf8(this.buf.subarray(start, end))) this.fail('invalid-utf8', start, 'atom is not UTF-8');
    const name = utf8 ? this.buf.toString('utf8', start, end) : this.latin1(start, end);
    // Fewer bytes than the limit means fewer characters too; only long UTF-8 needs counting.
    if (len > T.MAX_ATOM_CHARS && (!utf8 || [...name].length > T.MAX_ATOM_CHARS)) {
      this.fail('atom-too-long', at, `atom longer than ${T.MAX_ATOM_CHARS} characters`);
    }
    return atomTerm(name, tag);
  }

  private binary(len: number, at: number): Term {
    this.fits(len, 1, at + 1);
    const start = this.pos;
    const end = (this.pos += len);
    if (this.ascii(start, end)) return this.latin1(start, end);
    const view = this.buf.subarray(start, end);
    return isUtf8(view) ? view.toString('utf8') : view;
  }

  private big(len: number, at: number): Term {
    if (len > T.MAX_BIG_BYTES) this.fail('integer-too-large', at, `integer of ${len} bytes`);
    this.fits(len + 1, 1, at + 1);
    const buf = this.buf;
    const negative = buf.readUInt8(this.pos) !== 0;
    const start = this.pos + 1;
    const end = (this.pos = start + len);
    let magnitude: number | bigint = 0;
    if (len <= NUMBER_BIG_BYTES) {
      for (let i = end - 1; i >= start; i--) magnitude = magnitude * 256 + (buf[i] as number);
    } else {
      // Digits are little-endian; hex text of the reversed bytes parses in linear time, unlike shifting.
      const hex = Buffer.from(buf.subarray(start, end)).reverse().toString('hex');
      magnitude = BigInt(`0x${hex}`);
      if (magnitude <= BigInt(Number.MAX_SAFE_INTEGER)) magnitude = Number(magnitude);
    }
    if (typeof magnitude === 'number') return negative && magnitude !== 0 ? -magnitude : magnitude;
    return negative ? -magnitude : magnitude;
  }

  private charlist(len: number, at: number): Term {
    this.fits(len, 1, at + 1);
    const out = new Array<Term>(len);
    for (let i = 0; i < len; i++) out[i] = this.buf[this.pos + i] as number;
    this.pos += len;
    return out;
  }

  private list(len: number, at: number): Term {
    this.fits(len + 1, 1, at + 1);
    this.enter(at);
    const items = new Array<Term>(len);
    for (let i = 0; i < len; i++) items[i] = this.term();
    const tail = this.term();
    this.depth--;
    return Array.isArray(tail) && tail.length === 0 ? items : improper(items, tail);
  }

  private tuple(arity: number, at: number): Term {
    this.fits(arity, 1, at + 1);
    this.enter(at);
    const items = new Array<Term>(arity);
    for (let i = 0; i < arity; i++) items[i] = this.term();
    this.depth--;
    return { kind: 'tuple', items };
  }

  private map(size: number, at: number): Term {
    this.fits(size, 2, at + 1);
    this.enter(at);
    const entries = new Array<MapEntry>(size);
    for (let i = 0; i < size; i++) {
      const key = this.term();
      entries[i] = [key, this.term()];
    }
    this.depth--;
    return { kind: 'map', entries };
  }

  inflate(maxInflatedBytes: number): Buffer {
    const size = this.u32();
    const at = this.pos;
    if (size > maxInflatedBytes) {
      this.fail(
        'inflated-too-large',
        at - 4,
        `compressed term declares ${size} bytes, over ${maxInflatedBytes}`,
      );
    }
    let out: Buffer;
    try {
      out = inflateSync(this.buf.subarray(at), { maxOutputLength: Math.max(size, 1) });
    } catch (err) {
      return this.fail('inflate-failed', at, `cannot inflate: ${(err as Error).message}`);
    }
    if (out.length !== size) this.fail('inflate-failed', at, `inflated to ${out.length} bytes, not ${size}`);
    return out;
  }
}

/**
 * Decodes one term written by `term_to_binary` (version byte 131, optionally compressed). Throws
 * {@link EtfDecodeError} for anything else, with the offset of the offending byte. Binaries that are not UTF-8
 * come back as views on `bytes`, not copies.
 */
export function decode(bytes: Uint8Array, options: DecodeOptions = {}): Term {
  const maxDepth = options.maxDepth ?? T.DEFAULT_MAX_DEPTH;
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length === 0) throw new EtfDecodeError('truncated', 0, 'empty input');
  if (buf.readUInt8(0) !== T.VERSION) {
    throw new EtfDecodeError('bad-version', 0, `version byte ${buf.readUInt8(0)} is not ${T.VERSION}`);
  }
  let reader = new Reader(buf, 1, maxDepth, false);
  if (buf.length > 1 && buf.readUInt8(1) === T.COMPRESSED) {
    reader.pos = 2;
    reader = new Reader(
      reader.inflate(options.maxInflatedBytes ?? DEFAULT_MAX_INFLATED_BYTES),
      0,
      maxDepth,
      true,
    );
  }
  const term = reader.term();
  reader.end();
  return term;
}
