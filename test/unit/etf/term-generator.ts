import {
  atom,
  equals,
  float,
  improper,
  isLatin1,
  map,
  tuple,
  type AtomTag,
  type MapEntry,
  type Term,
} from '../../../src/etf';

/** A small seeded generator (mulberry32), so every failure can be replayed from its seed. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)] as T;
  }

  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(0, 255);
    return b;
  }
}

export interface TermShape {
  /** Atoms written with a tag Erlang would not choose (Erlang re-encodes those with its own). Default true. */
  exoticAtoms?: boolean;
  /** Maps of more than 32 keys, whose order Erlang derives from a hash. Default true. */
  hashMaps?: boolean;
  /** Deepest nesting. Default 4. */
  depth?: number;
}

const ALPHABETS = ['abcdefghijklmnopqrstuvwxyz_', 'éèüÿßÀ', 'λπΩжд', '😀🚀', '中文字'];

function text(rng: Rng, maxLen: number): string {
  const alphabet = [...rng.pick(ALPHABETS.slice(0, rng.int(1, ALPHABETS.length)))];
  let s = '';
  const n = rng.int(0, maxLen);
  for (let i = 0; i < n; i++) s += rng.pick(alphabet);
  return s;
}

function randomAtom(rng: Rng, exotic: boolean): Term {
  if (rng.chance(0.15)) return rng.pick([null, true, false]);
  let name = text(rng, rng.chance(0.05) ? 255 : 12);
  if (name === 'nil' || name === 'true' || name === 'false') name += '_';
  const latin1 = isLatin1(name);
  if (exotic && rng.chance(0.3)) {
    const tags: AtomTag[] = latin1 && name.length <= 255 ? [115, 118, 119] : [118];
    const tag = rng.pick(tags);
    if (!(tag === 119 && Buffer.byteLength(name) > 255)) return atom(name, tag);
  }
  return atom(name);
}

function randomInteger(rng: Rng): Term {
  switch (rng.int(0, 4)) {
    case 0:
      return rng.int(0, 255);
    case 1:
      return rng.int(-0x80000000, 0x7fffffff);
    case 2:
      return (rng.chance(0.5) ? -1 : 1) * Math.floor(rng.next() * Number.MAX_SAFE_INTEGER);
    default: {
      const digits = rng.chance(0.1) ? rng.int(256, 400) : rng.int(7, 40);
      const magnitude =
        BigInt(`0x${rng.bytes(digits).toString('hex')}`) + BigInt(Number.MAX_SAFE_INTEGER) + 1n;
      return rng.chance(0.5) ? -magnitude : magnitude;
    }
  }
}

function randomFloat(rng: Rng): Term {
  if (rng.chance(0.2)) return float(rng.pick([0, -0, 1.5, -2.25, 5e-324, Number.MAX_VALUE]));
  for (;;) {
    const v = rng.bytes(8).readDoubleBE(0);
    if (Number.isFinite(v)) return float(v);
  }
}

function randomBinary(rng: Rng): Term {
  if (rng.chance(0.2)) return Buffer.concat([rng.bytes(rng.int(0, 80)), Buffer.from([0xff])]);
  return text(rng, rng.chance(0.2) ? 200 : 16);
}

function scalar(rng: Rng, shape: TermShape): Term {
  switch (rng.int(0, 3)) {
    case 0:
      return randomInteger(rng);
    case 1:
      return randomFloat(rng);
    case 2:
      return randomAtom(rng, shape.exoticAtoms ?? true);
    default:
      return randomBinary(rng);
  }
}

function items(rng: Rng, shape: TermShape, depth: number, max: number): Term[] {
  return Array.from({ length: rng.int(0, max) }, () => randomTermAt(rng, shape, depth + 1));
}

function randomMap(rng: Rng, shape: TermShape, depth: number): Term {
  const size = (shape.hashMaps ?? true) && rng.chance(0.1) ? rng.int(33, 40) : rng.int(0, 6);
  const entries: MapEntry[] = [];
  for (let i = 0; i < size * 2 && entries.length < size; i++) {
    const key = rng.chance(0.6) ? randomAtom(rng, false) : randomTermAt(rng, shape, depth + 1);
    if (!entries.some(([k]) => equals(k, key))) entries.push([key, randomTermAt(rng, shape, depth + 1)]);
  }
  return map(entries);
}

function randomTermAt(rng: Rng, shape: TermShape, depth: number): Term {
  if (depth >= (shape.depth ?? 4) || rng.chance(0.45)) return scalar(rng, shape);
  switch (rng.int(0, 5)) {
    case 0:
      return items(rng, shape, depth, 6);
    case 1:
      return Array.from({ length: rng.int(1, 30) }, () => rng.int(0, 255));
    case 2:
      return improper(items(rng, shape, depth, 3).concat(scalar(rng, shape)), scalar(rng, shape));
    case 3:
      return rng.chance(0.05)
        ? tuple(...items(rng, shape, depth, 300), ...new Array<Term>(256).fill(1))
        : tuple(...items(rng, shape, depth, 5));
    default:
      return randomMap(rng, shape, depth);
  }
}

/** A random term of every plain-data type, nested up to `shape.depth`. */
export function randomTerm(rng: Rng, shape: TermShape = {}): Term {
  return randomTermAt(rng, shape, 0);
}
