/** Wire tags of the External Term Format that plain data uses (erts `external.h`). */
export const VERSION = 131;
export const COMPRESSED = 80;
export const NEW_FLOAT_EXT = 70;
export const SMALL_INTEGER_EXT = 97;
export const INTEGER_EXT = 98;
export const FLOAT_EXT = 99;
export const ATOM_EXT = 100;
export const SMALL_TUPLE_EXT = 104;
export const LARGE_TUPLE_EXT = 105;
export const NIL_EXT = 106;
export const STRING_EXT = 107;
export const LIST_EXT = 108;
export const BINARY_EXT = 109;
export const SMALL_BIG_EXT = 110;
export const LARGE_BIG_EXT = 111;
export const SMALL_ATOM_EXT = 115;
export const MAP_EXT = 116;
export const ATOM_UTF8_EXT = 118;
export const SMALL_ATOM_UTF8_EXT = 119;

/** Erlang's limit on an atom's length, in characters. */
export const MAX_ATOM_CHARS = 255;
/** The most digit bytes a big integer may have: binary_to_term on a 64-bit node rejects one more. */
export const MAX_BIG_BYTES = 4194296;
/** The longest list OTP writes as a STRING_EXT (its length field is 16 bits). */
export const MAX_STRING_EXT = 0xffff;
/** Maps up to this size are "flatmaps", kept sorted by key; bigger ones are hash-ordered. */
export const MAX_FLATMAP_KEYS = 32;
/** How deeply lists, tuples and maps may nest, unless a caller says otherwise; real messages stay under 10. */
export const DEFAULT_MAX_DEPTH = 512;
