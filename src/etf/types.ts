/**
 * Erlang terms as TypeScript values: the one place the representation is defined.
 *
 * Every distinction Erlang makes survives a decode, so a received term can be re-encoded to the very bytes it
 * came from (for what OTP's `term_to_binary/1` emits) and a term built here encodes to what Erlang would send.
 *
 * | Erlang / Elixir                         | TypeScript                                       | tags decoded     |
 * | --------------------------------------- | ------------------------------------------------ | ---------------- |
 * | integer within ±(2^53 − 1)              | `number` (always integer-valued)                 | 97, 98, 110, 111 |
 * | integer beyond that                     | `bigint`                                         | 110, 111         |
 * | float                                   | {@link Float} `{ kind: 'float', value }`         | 70, 99           |
 * | `nil` / `true` / `false`                | `null` / `true` / `false`                        | 100              |
 * | any other atom                          | {@link Atom} `{ kind: 'atom', name, tag? }`      | 100, 115, 118, 119 |
 * | binary (Elixir string), valid UTF-8     | `string`                                         | 109              |
 * | binary that is not valid UTF-8          | `Uint8Array` (a `Buffer` view when decoded)      | 109              |
 * | proper list, charlists included         | `Term[]` (`[]` is NIL)                           | 106, 107, 108    |
 * | improper list `[a, b | tail]`           | {@link ImproperList} `{ kind: 'improper', items, tail }` | 108      |
 * | tuple                                   | {@link Tuple} `{ kind: 'tuple', items }`          | 104, 105         |
 * | map                                     | {@link ErlMap} `{ kind: 'map', entries }`         | 116              |
 *
 * Rules the encoder follows, which are the choices OTP 25 makes:
 * - integers take the smallest of SMALL_INTEGER (0..255), INTEGER (int32), SMALL_BIG, LARGE_BIG;
 * - a proper list of 1..65535 integers in 0..255 is a STRING_EXT (a charlist), any other list a LIST_EXT;
 * - an atom whose characters are all latin-1 is an ATOM_EXT (100); others are SMALL_ATOM_UTF8 (119), or
 *   ATOM_UTF8 (118) past 255 bytes. An atom decoded from another tag remembers it in `tag`, and only then,
 *   so `nil`/`true`/`false` arrive as `null`/`true`/`false` unless they were sent with an unusual tag;
 * - map entries are written in their stored order. Decoding keeps the wire order; {@link map} sorts entries
 *   into the order Erlang uses for maps of up to 32 keys. Larger Erlang maps are ordered by an internal hash
 *   that is not reproduced here: a built map of more than 32 keys keeps the order it was given;
 * - a `number` must be a safe integer and a `string` well-formed UTF-16; floats are always {@link Float}.
 *
 * Values are plain data (no classes), so they can cross actors and print as JSON (bigints and non-UTF-8
 * binaries aside, see `toRawJson`).
 */

/** An Erlang term. */
export type Term = number | bigint | string | boolean | null | Uint8Array | Term[] | Compound;

/** The terms represented by a tagged object; `kind` tells them apart. */
export type Compound = Atom | Float | Tuple | ErlMap | ImproperList;

/** The wire tags an atom can be written with: ATOM_EXT, SMALL_ATOM_EXT, ATOM_UTF8_EXT, SMALL_ATOM_UTF8_EXT. */
export type AtomTag = 100 | 115 | 118 | 119;

export interface Atom {
  readonly kind: 'atom';
  /** The atom's text, at most 255 characters. */
  readonly name: string;
  /** Set only when the atom was (or must be) written with a tag other than the one Erlang would pick. */
  readonly tag?: AtomTag;
}

export interface Float {
  readonly kind: 'float';
  /** A finite double; Erlang has no NaN or infinities. */
  readonly value: number;
}

export interface Tuple {
  readonly kind: 'tuple';
  readonly items: readonly Term[];
}

/** A map entry: key, then value. */
export type MapEntry = readonly [Term, Term];

export interface ErlMap {
  readonly kind: 'map';
  /** In wire order; keys are distinct Erlang terms. */
  readonly entries: readonly MapEntry[];
}

export interface ImproperList {
  readonly kind: 'improper';
  /** At least one element. */
  readonly items: readonly Term[];
  /** Anything but a list: a list tail would make the whole a (longer) list. */
  readonly tail: Term;
}
