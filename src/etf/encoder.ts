import { EtfEncodeError } from './errors';
import * as T from './tags';
import { defaultAtomTag, isLatin1, kindOf } from './term';
import type { Atom, ErlMap, ImproperList, MapEntry, Term } from './types';

export interface EncodeOptions {
  /** How deeply lists, tuples and maps may nest; also what stops a cyclic structure. Default 512. */
  maxDepth?: number;
}

const INITIAL_SCRATCH = 64 * 1024;
// A scratch buffer grown past this for one big term is dropped afterwards rather than kept for the process life.
const KEPT_SCRATCH = 1024 * 1024;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);

// Short ASCII text is copied by a JS loop: for keys, ids and names a native write costs more than the copy.
const SHORT_TEXT = 64;

// encode() is synchronous, so one scratch buffer serves every call and each result costs a single copy.
let scratch = Buffer.allocUnsafe(INITIAL_SCRATCH);

// Plain byte stores: Buffer's write methods validate their arguments again on every call.
function put16(at: number, v: number): void {
  scratch[at] = v >>> 8;
  scratch[at + 1] = v;
}

function put32(at: number, v: number): void {
  scratch[at] = v >>> 24;
  scratch[at + 1] = v >>> 16;
  scratch[at + 2] = v >>> 8;
  scratch[at + 3] = v;
}

/** Copies `s` to `at` when it is short ASCII and returns its length; -1 otherwise (the bytes are then junk). */
function writeShortAscii(s: string, at: number): number {
  const n = s.length;
  if (n > SHORT_TEXT) return -1;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return -1;
    scratch[at + i] = c;
  }
  return n;
}

function isByte(v: Term): boolean {
  return typeof v === 'number'
    ? v >= 0 && v <= 255 && Number.isInteger(v)
    : typeof v === 'bigint' && v >= 0n && v <= 255n;
}

class Writer {
  pos = 1;
  private depth = 0;

  constructor(private readonly maxDepth: number) {
    scratch[0] = T.VERSION;
  }

  private room(n: number): void {
    if (this.pos + n <= scratch.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(scratch.length * 2, this.pos + n));
    scratch.copy(bigger, 0, 0, this.pos);
    scratch = bigger;
  }

  private u8(v: number): void {
    this.room(1);
    scratch[this.pos++] = v;
  }

  private tagU32(tag: number, v: number): void {
    this.room(5);
    scratch[this.pos] = tag;
    put32(this.pos + 1, v);
    this.pos += 5;
  }

  private enter(): void {
    if (++this.depth > this.maxDepth) throw new EtfEncodeError(`nesting deeper than ${this.maxDepth}`);
  }

  result(): Buffer {
    const out = Buffer.allocUnsafe(this.pos);
    scratch.copy(out, 0, 0, this.pos);
    if (scratch.length > KEPT_SCRATCH) scratch = Buffer.allocUnsafe(INITIAL_SCRATCH);
    return out;
  }

  term(t: Term): void {
    switch (typeof t) {
      case 'number':
        return this.integer(t);
      case 'bigint':
        return this.bigint(t);
      case 'string':
        return this.string(t);
      case 'boolean':
        return this.atom({ kind: 'atom', name: t ? 'true' : 'false' });
      case 'object':
        return this.object(t);
      case 'undefined':
      case 'function':
      case 'symbol':
        throw new EtfEncodeError(`cannot encode ${typeof t} as a term`);
    }
  }

  // Values reach here unchecked (from JSON, from callers' casts), so the shape is verified, not trusted.
  private object(t: object | null): void {
    if (t === null) return this.atom({ kind: 'atom', name: 'nil' });
    if (Array.isArray(t)) return this.list(t as Term[]);
    if (t instanceof Uint8Array) return this.bytes(t);
    switch ((t as { kind?: unknown }).kind) {
      case 'atom':
        return this.atom(t as Atom);
      case 'float':
        return this.float((t as { value: number }).value);
      case 'tuple':
        return this.tuple((t as { items: readonly Term[] }).items);
      case 'map':
        return this.map(t as ErlMap);
      case 'improper':
        return this.improper(t as ImproperList);
      default:
        throw new EtfEncodeError(`cannot encode object ${JSON.stringify(Object.keys(t))} as a term`);
    }
  }

  private integer(n: number): void {
    if (!Number.isSafeInteger(n)) {
      throw new EtfEncodeError(`${n} is not a safe integer: use a bigint, or float() for a float`);
    }
    if (n >= 0 && n <= 255) {
      this.room(2);
      scratch[this.pos++] = T.SMALL_INTEGER_EXT;
      scratch[this.pos++] = n;
    } else if (n >= -0x80000000 && n <= 0x7fffffff) {
      this.room(5);
      scratch[this.pos] = T.INTEGER_EXT;
      put32(this.pos + 1, n);
      this.pos += 5;
    } else {
      // At most 7 bytes: the digits are computed on the magnitude, little-endian.
      let m = Math.abs(n);
      let len = 0;
      this.room(10);
      scratch[this.pos] = T.SMALL_BIG_EXT;
      scratch[this.pos + 2] = n < 0 ? 1 : 0;
      while (m > 0) {
        scratch[this.pos + 3 + len++] = m % 256;
        m = Math.floor(m / 256);
      }
      scratch[this.pos + 1] = len;
      this.pos += 3 + len;
    }
  }

  private bigint(n: bigint): void {
    const m = n < 0n ? -n : n;
    if (m <= MAX_SAFE_BIG) return this.integer(Number(n));
    const hex = m.toString(16);
    const digits = Buffer.from(hex.length % 2 === 0 ? hex : `0${hex}`, 'hex').reverse();
    if (digits.length > T.MAX_BIG_BYTES)
      throw new EtfEncodeError(`integer of ${digits.length} bytes is too large`);
    const small = digits.length <= 255;
    this.room(6 + digits.length);
    if (small) {
      scratch[this.pos++] = T.SMALL_BIG_EXT;
      scratch[this.pos++] = digits.length;
    } else {
      this.tagU32(T.LARGE_BIG_EXT, digits.length);
    }
    scratch[this.pos++] = n < 0n ? 1 : 0;
    this.pos += digits.copy(scratch, this.pos);
  }

  private float(v: number): void {
    if (!Number.isFinite(v)) throw new EtfEncodeError(`float ${v} has no Erlang equivalent`);
    this.room(9);
    scratch[this.pos] = T.NEW_FLOAT_EXT;
    scratch.writeDoubleBE(v, this.pos + 1);
    this.pos += 9;
  }

  private string(s: string): void {
    // Room for the worst case (3 bytes per UTF-16 unit); the length is filled in once the bytes are written.
    this.room(5 + s.length * 3);
    const start = this.pos;
    let len = writeShortAscii(s, start + 5);
    if (len < 0) len = scratch.write(s, start + 5, 'utf8');
    if (len !== s.length && LONE_SURROGATE.test(s)) {
      throw new EtfEncodeError('string holds a lone surrogate, which has no UTF-8 form: use a Uint8Array');
    }
    scratch[start] = T.BINARY_EXT;
    put32(start + 1, len);
    this.pos = start + 5 + len;
  }

  private bytes(b: Uint8Array): void {
    this.tagU32(T.BINARY_EXT, b.length);
    this.room(b.length);
    scratch.set(b, this.pos);
    this.pos += b.length;
  }

  private atom(a: Atom): void {
    const name = a.name;
    if (typeof name !== 'string') throw new EtfEncodeError('atom without a name');
    if (a.tag === undefined) {
      // Short ASCII, the usual atom, is always an ATOM_EXT.
      this.room(3 + Math.min(name.length, SHORT_TEXT));
      const len = writeShortAscii(name, this.pos + 3);
      if (len >= 0) {
        scratch[this.pos] = T.ATOM_EXT;
        put16(this.pos + 1, len);
        this.pos += 3 + len;
        return;
      }
    }
    this.anyAtom(name, a.tag ?? defaultAtomTag(name));
  }

  private anyAtom(name: string, tag: number): void {
    const short = tag === T.SMALL_ATOM_EXT || tag === T.SMALL_ATOM_UTF8_EXT;
    if (!short && tag !== T.ATOM_EXT && tag !== T.ATOM_UTF8_EXT) {
      throw new EtfEncodeError(`${tag} is not an atom tag`);
    }
    const latin1 = tag === T.ATOM_EXT || tag === T.SMALL_ATOM_EXT;
    if (latin1 ? !isLatin1(name) : LONE_SURROGATE.test(name)) {
      throw new EtfEncodeError(`atom ${JSON.stringify(name)} cannot be written with tag ${tag}`);
    }
    if (name.length > T.MAX_ATOM_CHARS && [...name].length > T.MAX_ATOM_CHARS) {
      throw new EtfEncodeError(`atom longer than ${T.MAX_ATOM_CHARS} characters`);
    }
    this.room(3 + name.length * 3);
    const start = this.pos;
    const head = short ? 2 : 3;
    const len = scratch.write(name, start + head, latin1 ? 'latin1' : 'utf8');
    if (short && len > 255) throw new EtfEncodeError(`atom of ${len} bytes does not fit tag ${tag}`);
    scratch[start] = tag;
    if (short) scratch[start + 1] = len;
    else put16(start + 1, len);
    this.pos = start + head + len;
  }

  private list(items: readonly Term[]): void {
    if (items.length === 0) return this.u8(T.NIL_EXT);
    if (items.length <= T.MAX_STRING_EXT && items.every(isByte)) {
      this.room(3 + items.length);
      scratch[this.pos] = T.STRING_EXT;
      put16(this.pos + 1, items.length);
      this.pos += 3;
      for (const b of items) scratch[this.pos++] = Number(b);
      return;
    }
    this.tagU32(T.LIST_EXT, items.length);
    this.children(items, []);
  }

  private improper(l: ImproperList): void {
    const { items, tail } = l;
    if (!Array.isArray(items) || items.length === 0 || Array.isArray(tail) || kindOf(tail) === 'improper') {
      throw new EtfEncodeError('an improper list needs at least one element and a tail that is not a list');
    }
    this.tagU32(T.LIST_EXT, items.length);
    this.children(items, tail);
  }

  private tuple(items: readonly Term[]): void {
    if (!Array.isArray(items)) throw new EtfEncodeError('tuple without items');
    if (items.length <= 255) {
      this.room(2);
      scratch[this.pos++] = T.SMALL_TUPLE_EXT;
      scratch[this.pos++] = items.length;
    } else {
      this.tagU32(T.LARGE_TUPLE_EXT, items.length);
    }
    this.children(items);
  }

  // A list's tail is written at the depth of its elements: it is the last cell of the same list.
  private children(items: readonly Term[], tail?: Term): void {
    this.enter();
    for (const item of items) this.term(item);
    if (tail !== undefined) this.term(tail);
    this.depth--;
  }

  private map(m: ErlMap): void {
    if (!Array.isArray(m.entries)) throw new EtfEncodeError('map without entries');
    this.tagU32(T.MAP_EXT, m.entries.length);
    this.enter();
    for (const entry of m.entries as unknown[]) {
      if (!Array.isArray(entry) || entry.length !== 2)
        throw new EtfEncodeError('map entry is not a [key, value] pair');
      const [key, value] = entry as unknown as MapEntry;
      this.term(key);
      this.term(value);
    }
    this.depth--;
  }
}

/**
 * Encodes a term as `term_to_binary/1` on OTP 25 would (see the rules in `types.ts`). Throws
 * {@link EtfEncodeError} for values with no term equivalent.
 */
export function encode(term: Term, options: EncodeOptions = {}): Buffer {
  const w = new Writer(options.maxDepth ?? T.DEFAULT_MAX_DEPTH);
  w.term(term);
  return w.result();
}
