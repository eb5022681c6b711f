import { ConfigError, configurationTable, describeConfig, loadConfig, type ConfigMode } from '../config';
import { etfCommand } from './etf';
import { takeFlag, takeOption, UsageError } from './options';

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
  etf decode [--raw] [FILE|-]
                 print the Erlang term of a queue message body (FILE or standard
                 input) as JSON; --raw prints the typed form that etf encode reads
  etf encode [FILE|-]
                 write the ETF bytes of a typed form, to craft test messages
  run REQUEST [--json] [--verbose] [--config FILE]
      [--git-base-url URL] [--docker-host HOST] [--registry URL]
                 run one build request (JSON or ETF file) through the actor tree on
                 this machine, without broker or Manager (see oa-builder run --help)
  serve [--config FILE]
                 run as an OpenAperture system module: consume the builder queue,
                 report to the Manager and the orchestrator (see oa-builder serve --help)
  help           this text

exit codes: 0 ok, 1 workflow failed or a file cannot be read or written,
            2 bad input or configuration
`;

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

// Each of these loads the actor tree and its adapters, and `serve` the AMQP and Manager clients too: loaded on
// first use, so every command starts without paying for what only the others need.
/* eslint-disable @typescript-eslint/no-require-imports */
const loadRun = (): typeof import('./run') => require('./run') as typeof import('./run');
const loadServe = (): typeof import('./serve') => require('./serve') as typeof import('./serve');
/* eslint-enable @typescript-eslint/no-require-imports */

const commands: Record<string, Command> = {
  config: configCommand,
  etf: etfCommand,
  run: (args, io) => {
    const { RUN_USAGE, runCommand } = loadRun();
    if (!takeFlag(args, '--help')) return runCommand(args, io);
    io.stdout.write(RUN_USAGE);
    return Promise.resolve(exitCode.ok);
  },
  serve: (args, io) => {
    const { SERVE_USAGE, serveCommand } = loadServe();
    if (!takeFlag(args, '--help')) return serveCommand(args, io);
    io.stdout.write(SERVE_USAGE);
    return Promise.resolve(exitCode.ok);
  },
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
