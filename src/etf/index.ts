/** Erlang External Term Format: the wire format of every OpenAperture message. Representation: `types.ts`. */
export type { Atom, AtomTag, Compound, ErlMap, Float, ImproperList, MapEntry, Term, Tuple } from './types';
export { EtfDecodeError, EtfEncodeError, type EtfDecodeErrorCode } from './errors';
export { decode, DEFAULT_MAX_INFLATED_BYTES, type DecodeOptions } from './decoder';
export { encode, type EncodeOptions } from './encoder';
export { DEFAULT_MAX_DEPTH } from './tags';
export { compare, equals } from './order';
export {
  atom,
  atomName,
  defaultAtomTag,
  float,
  improper,
  isAtom,
  isFloat,
  isImproper,
  isLatin1,
  isMap,
  isTuple,
  kindOf,
  map,
  mapGet,
  mapOf,
  mapSet,
  specialAtomValue,
  tuple,
} from './term';
export { fromJson, toJson, type Json } from './json';
export { fromRawJson, toRawJson } from './raw-json';
