import { EtfEncodeError } from './errors';
import { DEFAULT_MAX_DEPTH } from './tags';
import { atomName, map, specialAtomValue } from './term';
import type { MapEntry, Term } from './types';

/** A value `JSON.stringify` writes as is. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function jsonKey(key: Term): string {
  if (typeof key === 'string') return key;
  return atomName(key) ?? JSON.stringify(toJson(key));
}

/**
 * The term as an operator reads it, and as the message schemas validate it: maps become objects (atom and binary
 * keys as their text, other keys as their JSON), atoms become strings except `nil`/`true`/`false` which become
 * `null`/`true`/`false`, tuples and lists become arrays, an improper list becomes `{ $improper, $tail }`, binaries
 * become strings or `{ $binary: <base64> }` when not UTF-8, big integers become decimal strings. Lossy: use
 * `toRawJson` to keep every distinction.
 */
export function toJson(t: Term): Json {
  if (typeof t === 'bigint') return t.toString();
  if (t === null || typeof t !== 'object') return t;
  if (Array.isArray(t)) return t.map(toJson);
  if (t instanceof Uint8Array)
    return { $binary: Buffer.from(t.buffer, t.byteOffset, t.length).toString('base64') };
  switch (t.kind) {
    case 'atom': {
      const special = specialAtomValue(t.name);
      return special === undefined ? t.name : special;
    }
    case 'float':
      return t.value;
    case 'tuple':
      return t.items.map(toJson);
    case 'improper':
      return { $improper: t.items.map(toJson), $tail: toJson(t.tail) };
    case 'map': {
      const out: { [key: string]: Json } = {};
      // defineProperty, because plain assignment of a "__proto__" key from the wire would replace the prototype.
      for (const [k, v] of t.entries) {
        const property = { value: toJson(v), enumerable: true, writable: true, configurable: true };
        Object.defineProperty(out, jsonKey(k), property);
      }
      return out;
    }
  }
}

function fromJsonAt(v: unknown, depth: number): Term {
  if (depth > DEFAULT_MAX_DEPTH) throw new EtfEncodeError(`JSON nested deeper than ${DEFAULT_MAX_DEPTH}`);
  if (typeof v === 'string' || typeof v === 'boolean' || v === null) return v;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  if (typeof v === 'number' && Number.isFinite(v)) return { kind: 'float', value: v };
  if (Array.isArray(v)) return v.map((x) => fromJsonAt(x, depth + 1));
  if (typeof v === 'object') {
    return map(Object.entries(v).map(([k, x]): MapEntry => [k, fromJsonAt(x, depth + 1)]));
  }
  throw new EtfEncodeError(`${typeof v === 'number' ? String(v) : typeof v} is not a JSON value`);
}

/**
 * The term Elixir's JSON decoder (Poison) makes of a JSON value: objects become maps with binary keys, arrays
 * lists, strings binaries, `null` nil; integral numbers become integers and others floats. This is how the
 * JSON-born fields of a workflow (`fleet_config`, `deployable_units`...) travel.
 */
export function fromJson(value: unknown): Term {
  return fromJsonAt(value, 0);
}
