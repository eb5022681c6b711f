import { parseArgs } from 'node:util';

/** Wrong command-line use: reported with exit code 2, followed by the command's usage when it has one. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** One command's command line: its options (long names), how many operands it takes, and its usage text. */
export interface CommandLine {
  readonly usage: string;
  readonly strings?: readonly string[];
  readonly flags?: readonly string[];
  /** Operands (FILE, REQUEST, ...) the command takes at most. Default 0. */
  readonly maxOperands?: number;
}

/** A parsed command line; `help` when -h or --help was given, whatever else was. */
export interface ParsedCommandLine {
  readonly help: boolean;
  readonly strings: Readonly<Record<string, string | undefined>>;
  readonly flags: Readonly<Record<string, boolean>>;
  readonly operands: readonly string[];
}

const quoted = /'([^']+)'/;

// util.parseArgs explains itself in several sentences; an operator needs the option and what is wrong with it.
function problemOf(err: { code?: string; message: string }): string {
  const named = quoted.exec(err.message)?.[1]?.replace(/ <value>$/, '') ?? '';
  switch (err.code ?? '') {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${named}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /argument missing|ambiguous/.test(err.message)
        ? `${named} needs a value (${named} VALUE or ${named}=VALUE)`
        : `${named} takes no value`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${JSON.stringify(named)}`;
    default:
      return err.message;
  }
}

/**
 * Parses `args` with Node's util.parseArgs: `--name value` and `--name=value`, `-h`/`--help` everywhere, and
 * anything unknown refused with a UsageError that carries the command's usage.
 */
export function parseCommandLine(args: readonly string[], line: CommandLine): ParsedCommandLine {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
  };
  for (const name of line.strings ?? []) options[name] = { type: 'string' };
  for (const name of line.flags ?? []) options[name] = { type: 'boolean' };
  // Help wins over any other mistake on the line: whoever asks for it is finding out how to write it.
  if (args.includes('-h') || args.includes('--help'))
    return { help: true, strings: {}, flags: {}, operands: [] };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (err) {
    const e = err as { code?: string; message: string };
    if (!e.code?.startsWith('ERR_PARSE_ARGS')) throw err;
    throw new UsageError(`${problemOf(e)}\n\n${line.usage}`);
  }
  const max = line.maxOperands ?? 0;
  if (parsed.positionals.length > max)
    throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals[max])}\n\n${line.usage}`);
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const pick = <T>(names: readonly string[] | undefined, as: (v: unknown) => T) =>
    Object.fromEntries((names ?? []).map((n) => [n, as(values[n])]));
  return {
    help: false,
    strings: pick(line.strings, (v) => (typeof v === 'string' ? v : undefined)),
    flags: pick(line.flags, (v) => v === true),
    operands: parsed.positionals,
  };
}
