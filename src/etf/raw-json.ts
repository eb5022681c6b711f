import { EtfEncodeError } from './errors';
import { DEFAULT_MAX_DEPTH } from './tags';
import { improper } from './term';
import type { AtomTag, MapEntry, Term } from './types';

/**
 * The lossless JSON form of a term: the representation of `types.ts` itself, with the three values JSON cannot
 * hold spelled as objects: a bigint is `{ kind: 'bigint', value: '<decimal>' }`, a non-UTF-8 binary is
 * `{ kind: 'binary', base64 }`, and the float -0.0 has `value: '-0'`. `fromRawJson(toRawJson(t))` is `t`.
 */
export function toRawJson(t: Term): unknown {
  if (typeof t === 'bigint') return { kind: 'bigint', value: t.toString() };
  if (t === null || typeof t !== 'object') return t;
  if (Array.isArray(t)) return t.map(toRawJson);
  if (t instanceof Uint8Array) {
    return { kind: 'binary', base64: Buffer.from(t.buffer, t.byteOffset, t.length).toString('base64') };
  }
  switch (t.kind) {
    case 'atom':
      return t;
    case 'float':
      return Object.is(t.value, -0) ? { kind: 'float', value: '-0' } : t;
    case 'tuple':
      return { kind: 'tuple', items: t.items.map(toRawJson) };
    case 'improper':
      return { kind: 'improper', items: t.items.map(toRawJson), tail: toRawJson(t.tail) };
    case 'map':
      return { kind: 'map', entries: t.entries.map(([k, v]) => [toRawJson(k), toRawJson(v)]) };
  }
}

const ATOM_TAGS: readonly number[] = [100, 115, 118, 119];

function fail(path: string, what: string): never {
  throw new EtfEncodeError(`${path}: ${what}`);
}

function field(o: Record<string, unknown>, key: string, path: string): unknown {
  if (!(key in o)) fail(path, `missing "${key}"`);
  return o[key];
}

function array(v: unknown, path: string): unknown[] {
  return Array.isArray(v) ? v : fail(path, 'must be an array');
}

function text(v: unknown, path: string): string {
  return typeof v === 'string' ? v : fail(path, 'must be a string');
}

function compound(o: Record<string, unknown>, path: string, depth: number): Term {
  const at = (v: unknown, p: string): Term => fromRawJsonAt(v, p, depth + 1);
  const items = (): Term[] =>
    array(field(o, 'items', path), `${path}.items`).map((v, i) => at(v, `${path}.items[${i}]`));
  switch (o.kind) {
    case 'atom': {
      const name = text(field(o, 'name', path), `${path}.name`);
      if (o.tag === undefined) return { kind: 'atom', name };
      if (typeof o.tag !== 'number' || !ATOM_TAGS.includes(o.tag))
        fail(`${path}.tag`, 'must be 100, 115, 118 or 119');
      return { kind: 'atom', name, tag: o.tag as AtomTag };
    }
    case 'float': {
      const value = field(o, 'value', path);
      if (value === '-0') return { kind: 'float', value: -0 };
      return typeof value === 'number'
        ? { kind: 'float', value }
        : fail(`${path}.value`, 'must be a number or "-0"');
    }
    case 'bigint': {
      const value = text(field(o, 'value', path), `${path}.value`);
      return /^-?\d+$/.test(value) ? BigInt(value) : fail(`${path}.value`, 'must be a decimal integer');
    }
    case 'binary': {
      const b64 = text(field(o, 'base64', path), `${path}.base64`);
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) fail(`${path}.base64`, 'must be base64');
      return Buffer.from(b64, 'base64');
    }
    case 'tuple':
      return { kind: 'tuple', items: items() };
    case 'improper':
      return improper(items(), at(field(o, 'tail', path), `${path}.tail`));
    case 'map':
      return {
        kind: 'map',
        entries: array(field(o, 'entries', path), `${path}.entries`).map((e, i): MapEntry => {
          const p = `${path}.entries[${i}]`;
          const pair = array(e, p);
          if (pair.length !== 2) fail(p, 'must be a [key, value] pair');
          return [at(pair[0], `${p}[0]`), at(pair[1], `${p}[1]`)];
        }),
      };
    default:
      return fail(`${path}.kind`, 'must be atom, float, bigint, binary, tuple, improper or map');
  }
}

function fromRawJsonAt(v: unknown, path: string, depth: number): Term {
  if (depth > DEFAULT_MAX_DEPTH) fail(path, `nested deeper than ${DEFAULT_MAX_DEPTH}`);
  if (typeof v === 'string' || typeof v === 'boolean' || v === null) return v;
  if (typeof v === 'number') {
    return Number.isSafeInteger(v)
      ? v
      : fail(path, 'an integer within ±(2^53-1); write floats as {kind:"float"}');
  }
  if (Array.isArray(v)) return v.map((x, i) => fromRawJsonAt(x, `${path}[${i}]`, depth + 1));
  if (typeof v === 'object') return compound(v as Record<string, unknown>, path, depth);
  return fail(path, `${typeof v} is not part of the JSON form`);
}

/** The term a {@link toRawJson} value stands for; throws EtfEncodeError naming the JSON path of a bad value. */
export function fromRawJson(value: unknown): Term {
  return fromRawJsonAt(value, '$', 0);
}
