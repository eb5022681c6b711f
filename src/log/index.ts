import { Writable } from 'node:stream';
import winston from 'winston';

/** Structured fields attached to a log line. `err` is serialised with its name, message and stack. */
export type LogFields = Record<string, unknown>;

/** The one logging interface every module takes; winston stays behind `createLogger`. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger whose every line also carries `fields` (e.g. `{ workflow_id }`). */
  child(fields: LogFields): Logger;
}

export type LogFormat = 'json' | 'pretty';

/** LOG_FORMAT as configured: `auto` is readable lines on a terminal and JSON lines anywhere else. */
export function logFormatFor(setting: LogFormat | 'auto', stream: NodeJS.WritableStream): LogFormat {
  if (setting !== 'auto') return setting;
  return (stream as { isTTY?: boolean }).isTTY === true ? 'pretty' : 'json';
}
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export interface LoggerOptions {
  /** Minimum level written. Default `info`. */
  level?: LogLevel;
  /** `json`: one JSON object per line (service mode); `pretty`: readable lines for a terminal. Default `json`. */
  format?: LogFormat;
  /** Where lines go. Default: process.stderr, so stdout stays free for command output such as `--json`. */
  stream?: NodeJS.WritableStream;
  /** Applied to every rendered line before it is written; the redactor plugs in here. Default: identity. */
  scrub?: (line: string) => string;
}

const nop = (): void => undefined;

/** A logger that drops everything: the default wherever logging is optional. */
export const nopLogger: Logger = { debug: nop, info: nop, warn: nop, error: nop, child: () => nopLogger };

// winston's own handling of Error values loses them (`{}`) or glues their message onto ours, so errors are
// turned into plain fields before winston sees them.
function plainError(value: unknown): unknown {
  if (!(value instanceof Error)) return value;
  const out: Record<string, unknown> = { name: value.name, message: value.message };
  const code = (value as { code?: unknown }).code;
  if (code !== undefined) out.code = code;
  if (value.stack) out.stack = value.stack;
  return out;
}

function plainFields(fields: LogFields | undefined): LogFields {
  if (!fields) return {};
  const out: LogFields = {};
  for (const [k, v] of Object.entries(fields)) out[k] = plainError(v);
  return out;
}

const SEVERITY: Readonly<Record<LogLevel, number>> = { error: 0, warn: 1, info: 2, debug: 3 };

/**
 * A line below the level returns before anything is done for it: winston would copy its fields, build its
 * record and pass it down its stream pipeline only to drop it there, and at `info` most calls are `debug`.
 */
class WinstonLogger implements Logger {
  constructor(
    private readonly inner: winston.Logger,
    private readonly level: LogLevel,
  ) {}
  debug(message: string, fields?: LogFields): void {
    if (SEVERITY.debug <= SEVERITY[this.level]) this.inner.debug(message, plainFields(fields));
  }
  info(message: string, fields?: LogFields): void {
    if (SEVERITY.info <= SEVERITY[this.level]) this.inner.info(message, plainFields(fields));
  }
  warn(message: string, fields?: LogFields): void {
    if (SEVERITY.warn <= SEVERITY[this.level]) this.inner.warn(message, plainFields(fields));
  }
  error(message: string, fields?: LogFields): void {
    this.inner.error(message, plainFields(fields));
  }
  child(fields: LogFields): Logger {
    return new WinstonLogger(this.inner.child(plainFields(fields)), this.level);
  }
}

const prettyLine = winston.format.printf((info) => {
  const { level, message, timestamp, ...rest } = info as Record<string, unknown>;
  const wf = typeof rest.workflow_id === 'string' ? ` [${rest.workflow_id}]` : '';
  delete rest.workflow_id;
  const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
  return `${String(timestamp)} ${String(level).padEnd(5)}${wf} ${String(message)}${extra}`;
});

/** Builds the process logger. Every line passes through `scrub` on its way out. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const scrub = options.scrub ?? ((line: string) => line);
  const stream = options.stream ?? process.stderr;
  const format =
    options.format === 'pretty'
      ? winston.format.combine(winston.format.timestamp({ format: 'HH:mm:ss.SSS' }), prettyLine)
      : winston.format.combine(winston.format.timestamp(), winston.format.json());
  const sink = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      stream.write(scrub(chunk.toString()));
      done();
    },
  });
  const transport = new winston.transports.Stream({ stream: sink });
  const level = options.level ?? 'info';
  return new WinstonLogger(
    winston.createLogger({ level, format, transports: [transport], exitOnError: false }),
    level,
  );
}
