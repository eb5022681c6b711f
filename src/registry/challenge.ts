/** A parsed `WWW-Authenticate` challenge: `Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`. */
export interface Challenge {
  /** Lower-cased: `basic`, `bearer`, … */
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

const PARAM = /([A-Za-z][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/g;

/**
 * Reads the first challenge of a `WWW-Authenticate` header. Quoted values may hold commas (a scope such as
 * `repository:app:pull,push`) and backslash escapes. Undefined when the header is missing or empty.
 */
export function parseChallenge(header: string | null | undefined): Challenge | undefined {
  const match = /^\s*([A-Za-z][\w-]*)(.*)$/s.exec(header ?? '');
  if (!match) return undefined;
  const params: Record<string, string> = {};
  for (const [, key = '', quoted, bare] of (match[2] ?? '').matchAll(PARAM)) {
    params[key.toLowerCase()] = quoted === undefined ? (bare ?? '') : quoted.replace(/\\(.)/g, '$1');
  }
  return { scheme: (match[1] ?? '').toLowerCase(), params };
}
