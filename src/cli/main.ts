import { ConfigError, configurationTable, describeConfig, loadConfig, type ConfigMode } from '../config';

/** Streams a command writes to; tests pass their own. */
export interface CliIo {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

/** Exit codes shared by every command: scripts depend on them. */
export const exitCode = { ok: 0, failed: 1, badInput: 2 } as const;

type Command = (args: string[], io: CliIo) => Promise<number>;

const usage = `usage: oa-builder <command> [options]

commands:
  config [--service] [--config FILE] [--doc]
                 validate the configuration and print it (secrets masked);
                 --doc prints the table of every setting as Markdown
  help           this text

exit codes: 0 ok, 1 workflow failed, 2 bad input or configuration
`;

/** Removes `--name value` from args and returns the value. */
export function takeOption(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const value = args[i + 1];
  if (value === undefined || value.startsWith('--')) throw new UsageError(`${name} needs a value`);
  args.splice(i, 2);
  return value;
}

/** Removes a boolean `--name` flag from args and says whether it was there. */
export function takeFlag(args: string[], name: string): boolean {
  const i = args.indexOf(name);
  if (i >= 0) args.splice(i, 1);
  return i >= 0;
}

/** Wrong command-line use: reported in one line with exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

function rejectLeftovers(args: string[]): void {
  if (args.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(args[0])}`);
}

const configCommand: Command = (args, io) => {
  if (takeFlag(args, '--doc')) {
    rejectLeftovers(args);
    io.stdout.write(`${configurationTable()}\n`);
    return Promise.resolve(exitCode.ok);
  }
  const mode: ConfigMode = takeFlag(args, '--service') ? 'service' : 'local';
  const file = takeOption(args, '--config') ?? io.env.OA_BUILDER_CONFIG;
  rejectLeftovers(args);
  const config = loadConfig({ mode, env: io.env, ...(file ? { file } : {}) });
  io.stdout.write(`${JSON.stringify(describeConfig(config), null, 2)}\n`);
  return Promise.resolve(exitCode.ok);
};

const commands: Record<string, Command> = {
  config: configCommand,
  help: (_args, io) => {
    io.stdout.write(usage);
    return Promise.resolve(exitCode.ok);
  },
};

/** Runs one command line and returns the process exit code; never throws for expected failures. */
export async function main(argv: string[], io: CliIo = process): Promise<number> {
  const [name, ...args] = argv;
  const command = commands[name ?? 'help'];
  if (!command) {
    io.stderr.write(`oa-builder: unknown command ${JSON.stringify(name)}\n\n${usage}`);
    return exitCode.badInput;
  }
  try {
    return await command(args, io);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof UsageError) {
      io.stderr.write(`oa-builder: ${err.message}\n`);
      return exitCode.badInput;
    }
    throw err;
  }
}
