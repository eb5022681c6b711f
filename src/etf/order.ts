import type { ErlMap, ImproperList, MapEntry, Term, Tuple } from './types';

// Erlang's order of types: number < atom < reference < fun < port < pid < tuple < map < nil < list < bitstring.
// Only the types plain data uses get a rank here.
const NUMBER = 0;
const ATOM = 1;
const TUPLE = 6;
const MAP = 7;
const NIL = 8;
const LIST = 9;
const BINARY = 10;

function rank(t: Term): number {
  if (typeof t === 'number' || typeof t === 'bigint') return NUMBER;
  if (typeof t === 'string') return BINARY;
  if (t === null || typeof t === 'boolean') return ATOM;
  if (Array.isArray(t)) return t.length === 0 ? NIL : LIST;
  if (t instanceof Uint8Array) return BINARY;
  switch (t.kind) {
    case 'atom':
      return ATOM;
    case 'float':
      return NUMBER;
    case 'tuple':
      return TUPLE;
    case 'map':
      return MAP;
    case 'improper':
      return LIST;
  }
}

const sign = (n: number): number => (n < 0 ? -1 : n > 0 ? 1 : 0);

// UTF-16 order differs from code point order only between surrogates and U+E000..U+FFFF; moving the surrogates
// above that block restores code point order, which is also the byte order of UTF-8.
function unitRank(c: number): number {
  return c >= 0xe000 ? c - 0x800 : c >= 0xd800 ? c + 0x2000 : c;
}

function compareText(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    if (ca !== cb) return sign(unitRank(ca) - unitRank(cb));
  }
  return sign(a.length - b.length);
}

function atomText(t: Term): string {
  if (t === null) return 'nil';
  if (typeof t === 'boolean') return t ? 'true' : 'false';
  return (t as { name: string }).name;
}

function binaryBytes(t: Term): Uint8Array {
  return typeof t === 'string' ? Buffer.from(t, 'utf8') : (t as Uint8Array);
}

function compareNumbers(a: Term, b: Term): number {
  // Exact order, as map keys use it: every integer sorts before every float.
  const fa = typeof a === 'object';
  const fb = typeof b === 'object';
  if (fa !== fb) return fa ? 1 : -1;
  const x = fa ? (a as { value: number }).value : (a as number | bigint);
  const y = fb ? (b as { value: number }).value : (b as number | bigint);
  return x < y ? -1 : x > y ? 1 : 0;
}

function compareSequences(a: readonly Term[], b: readonly Term[]): number {
  for (let i = 0; i < a.length; i++) {
    const c = compare(a[i] as Term, b[i] as Term);
    if (c !== 0) return c;
  }
  return 0;
}

function listParts(t: Term): [readonly Term[], Term] {
  return Array.isArray(t) ? [t, []] : [(t as ImproperList).items, (t as ImproperList).tail];
}

function compareLists(a: Term, b: Term): number {
  const [ai, at] = listParts(a);
  const [bi, bt] = listParts(b);
  const n = Math.min(ai.length, bi.length);
  for (let i = 0; i < n; i++) {
    const c = compare(ai[i] as Term, bi[i] as Term);
    if (c !== 0) return c;
  }
  // Past the shorter one, a non-empty rest of a list meets the other's tail, which is never a list itself.
  if (ai.length > n) return sign(LIST - rank(bt));
  if (bi.length > n) return sign(rank(at) - LIST);
  return compare(at, bt);
}

/** A map's entries sorted by key in Erlang's map key order. */
export function sortedEntries(entries: readonly MapEntry[]): MapEntry[] {
  return [...entries].sort((x, y) => compare(x[0], y[0]));
}

function compareMaps(a: ErlMap, b: ErlMap): number {
  if (a.entries.length !== b.entries.length) return sign(a.entries.length - b.entries.length);
  const ae = sortedEntries(a.entries);
  const be = sortedEntries(b.entries);
  const keys = compareSequences(
    ae.map((e) => e[0]),
    be.map((e) => e[0]),
  );
  return keys !== 0
    ? keys
    : compareSequences(
        ae.map((e) => e[1]),
        be.map((e) => e[1]),
      );
}

/**
 * Erlang's exact term order (the one map keys are sorted by): negative, zero or positive like a sort comparator.
 * Integers and floats never compare equal, maps compare as sets of entries.
 */
export function compare(a: Term, b: Term): number {
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return sign(ra - rb);
  switch (ra) {
    case NUMBER:
      return compareNumbers(a, b);
    case ATOM:
      return compareText(atomText(a), atomText(b));
    case BINARY:
      return typeof a === 'string' && typeof b === 'string'
        ? compareText(a, b)
        : sign(Buffer.compare(binaryBytes(a), binaryBytes(b)));
    case TUPLE: {
      const ai = (a as Tuple).items;
      const bi = (b as Tuple).items;
      return ai.length !== bi.length ? sign(ai.length - bi.length) : compareSequences(ai, bi);
    }
    case MAP:
      return compareMaps(a as ErlMap, b as ErlMap);
    case LIST:
      return compareLists(a, b);
    default:
      return 0; // both NIL
  }
}

/** Erlang's `=:=`: the same term, maps compared regardless of entry order. */
export function equals(a: Term, b: Term): boolean {
  return compare(a, b) === 0;
}
