/** Why a byte sequence is not an acceptable term. */
export type EtfDecodeErrorCode =
  | 'bad-version'
  | 'truncated'
  | 'length-exceeds-buffer'
  | 'unknown-tag'
  | 'trailing-bytes'
  | 'too-deep'
  | 'atom-too-long'
  | 'integer-too-large'
  | 'invalid-utf8'
  | 'bad-float'
  | 'inflated-too-large'
  | 'inflate-failed';

/** The input is not a term this decoder accepts. `offset` is the byte where the problem was found. */
export class EtfDecodeError extends Error {
  override readonly name = 'EtfDecodeError';

  constructor(
    readonly code: EtfDecodeErrorCode,
    /** Byte offset in the input, or in the inflated data when `inflated` is true. */
    readonly offset: number,
    detail: string,
    /** True when the offset points into the inflated body of a compressed (tag 80) term. */
    readonly inflated = false,
  ) {
    super(`${detail} at byte ${offset}${inflated ? ' of the inflated term' : ''}`);
  }
}

/** A value cannot be written as a term (unsupported type, out-of-range number, malformed atom...). */
export class EtfEncodeError extends Error {
  override readonly name = 'EtfEncodeError';
}
