import { compare, sortedEntries } from './order';
import { MAX_FLATMAP_KEYS } from './tags';
import type { Atom, AtomTag, Compound, ErlMap, Float, ImproperList, MapEntry, Term, Tuple } from './types';

/**
 * The tag OTP 25 writes an atom with: ATOM_EXT when every character is latin-1, otherwise SMALL_ATOM_UTF8_EXT,
 * or ATOM_UTF8_EXT past 255 bytes of UTF-8.
 */
export function defaultAtomTag(name: string): AtomTag {
  if (isLatin1(name)) return 100;
  return Buffer.byteLength(name, 'utf8') <= 255 ? 119 : 118;
}

/** Whether every character of `text` is latin-1 (U+0000..U+00FF), the character set of ATOM_EXT. */
export function isLatin1(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0xff) return false;
  return true;
}

/** `nil`, `true` and `false` as the JavaScript values that stand for them; undefined for any other atom name. */
export function specialAtomValue(name: string): null | boolean | undefined {
  switch (name) {
    case 'nil':
      return null;
    case 'true':
      return true;
    case 'false':
      return false;
    default:
      return undefined;
  }
}

/** The atom `name`; `tag` forces another encoding than Erlang's own, and is dropped when it is Erlang's own. */
export function atom(name: string, tag?: AtomTag): Atom {
  return tag === undefined || tag === defaultAtomTag(name)
    ? { kind: 'atom', name }
    : { kind: 'atom', name, tag };
}

export function tuple(...items: Term[]): Tuple {
  return { kind: 'tuple', items };
}

export function float(value: number): Float {
  return { kind: 'float', value };
}

/** `[...items | tail]`; with a list tail the result is simply the longer list. */
export function improper(items: readonly Term[], tail: Term): Term {
  if (Array.isArray(tail)) return [...items, ...tail];
  if (isImproper(tail)) return improper([...items, ...tail.items], tail.tail);
  return items.length === 0 ? tail : { kind: 'improper', items, tail };
}

/** A map from entries, in the order Erlang itself would write them (sorted, for up to 32 keys). */
export function map(entries: Iterable<MapEntry>): ErlMap {
  const list = [...entries];
  return { kind: 'map', entries: list.length <= MAX_FLATMAP_KEYS ? sortedEntries(list) : list };
}

/** An Elixir map with atom keys, `%{key: value}`, the shape of every message in this system. */
export function mapOf(fields: Readonly<Record<string, Term>>): ErlMap {
  return map(Object.entries(fields).map(([k, v]): MapEntry => [atom(k), v]));
}

/** The `kind` of an atom, float, tuple, map or improper list; undefined for every other term. */
export function kindOf(t: Term): Compound['kind'] | undefined {
  return typeof t === 'object' && t !== null && !Array.isArray(t) && !(t instanceof Uint8Array)
    ? t.kind
    : undefined;
}

export const isAtom = (t: Term): t is Atom => kindOf(t) === 'atom';
export const isTuple = (t: Term): t is Tuple => kindOf(t) === 'tuple';
export const isMap = (t: Term): t is ErlMap => kindOf(t) === 'map';
export const isFloat = (t: Term): t is Float => kindOf(t) === 'float';
export const isImproper = (t: Term): t is ImproperList => kindOf(t) === 'improper';

/** The atom's text when `t` is an atom (`nil`, `true` and `false` included), otherwise undefined. */
export function atomName(t: Term): string | undefined {
  if (t === null) return 'nil';
  if (typeof t === 'boolean') return t ? 'true' : 'false';
  return isAtom(t) ? t.name : undefined;
}

/** The value stored under `key`; a string key means the atom of that name. */
export function mapGet(m: ErlMap, key: Term | string): Term | undefined {
  const k = typeof key === 'string' ? atom(key) : key;
  return m.entries.find((e) => compare(e[0], k) === 0)?.[1];
}

/**
 * A copy of `m` with `key` set: an existing entry is replaced where it stands, so a received map keeps its wire
 * order; a new key is added where Erlang would put it. A string key means the atom of that name.
 */
export function mapSet(m: ErlMap, key: Term | string, value: Term): ErlMap {
  const k = typeof key === 'string' ? atom(key) : key;
  const at = m.entries.findIndex((e) => compare(e[0], k) === 0);
  if (at >= 0)
    return { kind: 'map', entries: m.entries.map((e, i): MapEntry => (i === at ? [e[0], value] : e)) };
  return map([...m.entries, [k, value]]);
}
