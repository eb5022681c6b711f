/** What a secret becomes. */
export const MASK = '********';

/** Secrets shorter than this are not masked: masking `ab` would shred every line and protect nothing. */
export const DEFAULT_MIN_SECRET_LENGTH = 6;

// user:password@ in any scheme://; the user name stays, since it identifies the account without opening it.
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/:@]*):([^\s/@]+)@/gi;

/** The password of a URL's user info (decoded), or undefined when it has none or is no URL. */
export function urlPassword(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  try {
    return decodeURIComponent(new URL(url).password) || undefined;
  } catch {
    return undefined;
  }
}

/** Replaces the password of every `scheme://user:password@` in `text`. */
export function redactUrlCredentials(text: string): string {
  return text.replace(URL_CREDENTIALS, (_all, scheme: string, user: string) => `${scheme}${user}:${MASK}@`);
}

/**
 * Masks known secret values wherever they appear: the configured ones (registry password, OAuth client secret,
 * git token) and those learnt at run time (access tokens), on every output path. Longer secrets win over
 * shorter ones that overlap them.
 */
export class Redactor {
  private secrets: string[] = [];

  constructor(
    secrets: Iterable<string | undefined> = [],
    private readonly minLength = DEFAULT_MIN_SECRET_LENGTH,
  ) {
    for (const secret of secrets) this.add(secret);
  }

  /** Adds a secret; ignored when shorter than the minimum length. */
  add(secret: string | undefined): void {
    if (secret === undefined || secret.length < this.minLength || this.secrets.includes(secret)) return;
    this.secrets = [...this.secrets, secret].sort((a, b) => b.length - a.length);
  }

  /** Length of the longest secret: what a stream must hold back to catch one split across chunks. */
  get longest(): number {
    return this.secrets[0]?.length ?? 0;
  }

  /** The whole text, secrets and URL passwords masked. */
  redact(text: string): string {
    return redactUrlCredentials(this.scan(text, text.length).out);
  }

  /** Values of any JSON-like data, redacted (keys are left alone). */
  redactValue<T>(value: T): T {
    if (typeof value === 'string') return this.redact(value) as T;
    if (Array.isArray(value)) return value.map((v: unknown) => this.redactValue(v)) as T;
    if (typeof value === 'object' && value !== null) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.redactValue(v)])) as T;
    }
    return value;
  }

  /**
   * Masks secrets in `text` up to `until`, never starting a match at or after it; returns the masked text and
   * how far it got (a secret that starts before `until` is consumed whole, so `end` may pass `until`).
   */
  scan(text: string, until: number): { out: string; end: number } {
    let out = '';
    let i = 0;
    let plain = 0;
    while (i < until) {
      const found = this.secrets.find((s) => text.startsWith(s, i));
      if (found === undefined) {
        i += 1;
        continue;
      }
      out += text.slice(plain, i) + MASK;
      i += found.length;
      plain = i;
    }
    return { out: out + text.slice(plain, i), end: i };
  }

  /** A stream of text chunks in, redacted text out; see {@link RedactingStream}. */
  stream(): RedactingStream {
    return new RedactingStream(this);
  }

  /** A stream of lines in, redacted lines out; see {@link RedactingLineStream}. */
  lines(): RedactingLineStream {
    return new RedactingLineStream(this);
  }
}

/**
 * Redacts text that arrives in chunks, catching secrets split across chunk boundaries: the last
 * `longest - 1` characters of each chunk wait for the next one (or `end`).
 */
export class RedactingStream {
  private pending = '';

  constructor(private readonly redactor: Redactor) {}

  /** Redacted text that is final now; may be empty. */
  write(chunk: string): string {
    this.pending += chunk;
    const holdBack = Math.max(this.redactor.longest - 1, 0);
    const { out, end } = this.redactor.scan(this.pending, Math.max(this.pending.length - holdBack, 0));
    this.pending = this.pending.slice(end);
    return out;
  }

  /** Whatever was held back, redacted. */
  end(): string {
    const { out } = this.redactor.scan(this.pending, this.pending.length);
    this.pending = '';
    return out;
  }
}

/**
 * Redacts a stream of lines (build output), catching secrets that span lines: complete redacted lines come out
 * once nothing later can complete a secret that started in them. URL passwords are masked per line.
 */
export class RedactingLineStream {
  private readonly text: RedactingStream;
  private partial = '';

  constructor(redactor: Redactor) {
    this.text = redactor.stream();
  }

  /** Lines that are final now. */
  push(line: string): string[] {
    return this.split(this.text.write(`${line}\n`));
  }

  /** The lines held back. */
  end(): string[] {
    const lines = this.split(this.text.end());
    if (this.partial !== '') lines.push(redactUrlCredentials(this.partial));
    this.partial = '';
    return lines;
  }

  private split(text: string): string[] {
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop() ?? '';
    return parts.map(redactUrlCredentials);
  }
}
