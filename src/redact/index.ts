import { SecretAutomaton } from './automaton';

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
  // Most lines have no URL, and a plain search for its `://` costs a fraction of the expression's.
  if (!text.includes('://')) return text;
  return text.replace(URL_CREDENTIALS, (_all, scheme: string, user: string) => `${scheme}${user}:${MASK}@`);
}

/** How long a secret learnt at run time is kept beyond its lifetime: output written while it was valid may still pass. */
export const EXPIRED_SECRET_MARGIN_MS = 60 * 60 * 1000;

/** Settings of a {@link Redactor}. */
export interface RedactorOptions {
  /** Secrets shorter than this are not masked. Default {@link DEFAULT_MIN_SECRET_LENGTH}. */
  minLength?: number;
  /** Clock in ms since the epoch, for secrets that expire. Default `Date.now`. */
  now?: () => number;
}

/**
 * Masks known secret values wherever they appear: the configured ones (registry password, OAuth client secret,
 * git token) and those learnt at run time (access tokens), on every output path. Longer secrets win over
 * shorter ones that overlap them. The text is read once whatever the number of secrets (see
 * {@link SecretAutomaton}), and a secret that expires is forgotten {@link EXPIRED_SECRET_MARGIN_MS} after it
 * expired, so a long-running builder does not collect every token it was ever issued.
 */
export class Redactor {
  /** Each secret and when it may be forgotten (`Infinity` for never). */
  private readonly secrets = new Map<string, number>();
  private compiled: SecretAutomaton | undefined;
  /** The earliest time a secret may be forgotten, so that most scans look at the clock only. */
  private nextExpiry = Infinity;
  private readonly minLength: number;
  private readonly now: () => number;

  constructor(secrets: Iterable<string | undefined> = [], options: RedactorOptions = {}) {
    this.minLength = options.minLength ?? DEFAULT_MIN_SECRET_LENGTH;
    this.now = options.now ?? Date.now;
    for (const secret of secrets) this.add(secret);
  }

  /**
   * Adds a secret, to be masked until `expiresAt` (ms since the epoch) and the margin have passed, or for good;
   * ignored when shorter than the minimum length.
   */
  add(secret: string | undefined, expiresAt = Infinity): void {
    if (secret === undefined || secret.length < this.minLength) return;
    this.forgetExpired();
    const keepUntil = expiresAt + EXPIRED_SECRET_MARGIN_MS;
    const known = this.secrets.get(secret);
    if (known !== undefined && known >= keepUntil) return;
    if (known === undefined) this.compiled = undefined;
    this.secrets.set(secret, keepUntil);
    this.nextExpiry = Math.min(this.nextExpiry, keepUntil);
  }

  /** How many secrets are masked now. */
  get size(): number {
    this.forgetExpired();
    return this.secrets.size;
  }

  /** The whole text, secrets and URL passwords masked. */
  redact(text: string): string {
    const stream = this.stream();
    return redactUrlCredentials(stream.write(text) + stream.end());
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

  /** A stream of text chunks in, redacted text out; see {@link RedactingStream}. */
  stream(): RedactingStream {
    return new RedactingStream(this);
  }

  /** A stream of lines in, redacted lines out; see {@link RedactingLineStream}. */
  lines(): RedactingLineStream {
    return new RedactingLineStream(this);
  }

  /** The automaton for the secrets known now: a new one whenever they changed. */
  automaton(): SecretAutomaton {
    this.forgetExpired();
    this.compiled ??= new SecretAutomaton([...this.secrets.keys()]);
    return this.compiled;
  }

  private forgetExpired(): void {
    const now = this.now();
    if (now <= this.nextExpiry) return;
    this.nextExpiry = Infinity;
    for (const [secret, keepUntil] of this.secrets) {
      if (keepUntil >= now) this.nextExpiry = Math.min(this.nextExpiry, keepUntil);
      else {
        this.secrets.delete(secret);
        this.compiled = undefined;
      }
    }
  }
}

/**
 * Redacts text that arrives in chunks, catching secrets split across chunk boundaries. Each character is read
 * once; what may still be the beginning of a secret (the automaton's depth) waits for the next chunk (or
 * `end`), and a secret is masked once no longer secret starting at or before it can still turn up.
 */
export class RedactingStream {
  /** Text not yet given out; its first `read` characters went through the automaton. */
  private pending = '';
  private read = 0;
  private automaton: SecretAutomaton | undefined;
  private state = 0;
  /** Secrets found in `pending`, as start and length pairs in order of their end. */
  private found: number[] = [];

  constructor(private readonly redactor: Redactor) {}

  /** Redacted text that is final now; may be empty. */
  write(chunk: string): string {
    this.pending += chunk;
    const automaton = this.advance();
    return this.release(this.pending.length - automaton.pending(this.state));
  }

  /** Whatever was held back, redacted. */
  end(): string {
    this.advance();
    const out = this.release(this.pending.length);
    this.state = 0;
    return out;
  }

  private advance(): SecretAutomaton {
    const automaton = this.redactor.automaton();
    if (automaton !== this.automaton) {
      // The secrets changed: what is pending is read again by the new automaton, from its start.
      this.automaton = automaton;
      this.state = 0;
      this.read = 0;
      this.found = [];
    }
    this.state = automaton.read(this.pending, this.read, this.state, this.found);
    this.read = this.pending.length;
    return automaton;
  }

  /** Gives out the pending text before `boundary` masked, and any secret that starts there, whole. */
  private release(boundary: number): string {
    const text = this.pending;
    if (this.found.length === 0) {
      const end = Math.max(boundary, 0);
      this.pending = text.slice(end);
      this.read -= end;
      return text.slice(0, end);
    }
    let out = '';
    let plain = 0;
    const found: [number, number][] = [];
    for (let k = 0; k < this.found.length; k += 2) found.push([this.found[k] ?? 0, this.found[k + 1] ?? 0]);
    // Leftmost first and, of those starting at the same place, the longest; what overlaps a mask is none.
    found.sort((x, y) => x[0] - y[0] || y[1] - x[1]);
    for (const [start, length] of found) {
      if (start < plain || start >= boundary) continue;
      out += text.slice(plain, start) + MASK;
      plain = start + length;
    }
    const end = Math.max(plain, boundary, 0);
    const rest = found.filter(([start]) => start >= end).flatMap(([start, length]) => [start - end, length]);
    this.pending = text.slice(end);
    this.read -= end;
    this.found = rest;
    return out + text.slice(plain, end);
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
    const joined = this.partial + text;
    const last = joined.lastIndexOf('\n');
    this.partial = joined.slice(last + 1);
    if (last === -1) return [];
    // Mostly one line comes out per line in: no array to split it into.
    const done = joined.slice(0, last);
    return done.includes('\n') ? done.split('\n').map(redactUrlCredentials) : [redactUrlCredentials(done)];
  }
}
