/** Characters of a name or ref that an error message shows; the rest is counted, not echoed. */
const SHOWN_LENGTH = 100;

// What JSON leaves as it is but a reader cannot see, or that reorders what they see: C1 controls, format
// characters such as bidi overrides and zero-width spaces, and the line and paragraph separators.
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

const escaped = (char: string): string => {
  const code = char.codePointAt(0) ?? 0;
  return code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, '0')}`;
};

/**
 * `text` quoted as JSON, with every invisible character escaped too, and cut to its first
 * {@link SHOWN_LENGTH} characters: names and refs come from queue messages, so a reason must show them as
 * they are (a right-to-left override would otherwise reverse the rest of the line), and one of a megabyte
 * must not become a reason of a megabyte.
 */
export function quoted(text: string): string {
  const shown = (part: string): string => JSON.stringify(part).replace(INVISIBLE, escaped);
  if (text.length <= SHOWN_LENGTH) return shown(text);
  return `${shown(text.slice(0, SHOWN_LENGTH))}... (${text.length} characters)`;
}
