import {
  ConfigError,
  configurationTable,
  consistentConfig,
  describeConfig,
  loadConfig,
  settingWarnings,
} from '../config';
import { BUILDER_VERSION } from '../version';
import { etfCommand } from './etf';
import { parseCommandLine, UsageError } from './options';

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

const usage = `usage: oa-builder <command> [options]   (oa-builder <command> --help for one command)
       oa-builder --version

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
  topology [--apply] [--config FILE] [--exchange NAME --routing-key KEY]
                 compare the RabbitMQ queues (exchange, binding) the builder expects
                 with the broker's; --apply declares what is missing, never what differs
  help, -h, --help
                 this text
  --version      the builder's version

exit codes: 0 ok, 1 workflow failed or a file cannot be read or written,
            2 bad input or configuration
`;

const CONFIG_USAGE = `usage: oa-builder config [--service] [--config FILE] [--doc]

  Loads the settings (defaults, then FILE or OA_BUILDER_CONFIG, then the environment), checks each and their
  agreement with one another, and prints the effective configuration with secrets masked. Warnings (a secret
  too short to be masked, say) go to standard error.

    --service      check as oa-builder serve would: the Manager settings are required
    --config FILE  settings file, keyed by variable names
    --doc          print the table of every setting as Markdown instead

exit status: 0 valid, 2 invalid (one line naming each problem)
`;

const configCommand: Command = (args, io) => {
  const line = parseCommandLine(args, {
    usage: CONFIG_USAGE,
    strings: ['config'],
    flags: ['service', 'doc'],
  });
  if (line.help) io.stdout.write(CONFIG_USAGE);
  else if (line.flags.doc) io.stdout.write(`${configurationTable()}\n`);
  else {
    const file = line.strings.config ?? io.env.OA_BUILDER_CONFIG;
    const mode = line.flags.service ? 'service' : 'local';
    const config = consistentConfig(loadConfig({ mode, env: io.env, ...(file ? { file } : {}) }));
    for (const warning of settingWarnings(config)) io.stderr.write(`oa-builder: warning: ${warning}\n`);
    io.stdout.write(`${JSON.stringify(describeConfig(config), null, 2)}\n`);
  }
  return Promise.resolve(exitCode.ok);
};

// Each of these loads the actor tree and its adapters, and `serve` the AMQP and Manager clients too: loaded on
// first use, so every command starts without paying for what only the others need.
/* eslint-disable @typescript-eslint/no-require-imports */
const loadRun = (): typeof import('./run') => require('./run') as typeof import('./run');
const loadServe = (): typeof import('./serve') => require('./serve') as typeof import('./serve');
const loadTopology = (): typeof import('./topology') => require('./topology') as typeof import('./topology');
/* eslint-enable @typescript-eslint/no-require-imports */

const help: Command = (args, io) => {
  parseCommandLine(args, { usage });
  io.stdout.write(usage);
  return Promise.resolve(exitCode.ok);
};

const commands: Record<string, Command> = {
  config: configCommand,
  etf: etfCommand,
  run: (args, io) => loadRun().runCommand(args, io),
  serve: (args, io) => loadServe().serveCommand(args, io),
  topology: (args, io) => loadTopology().topologyCommand(args, io),
  help,
  '-h': help,
  '--help': help,
  '--version': (args, io) => {
    parseCommandLine(args, { usage });
    io.stdout.write(`oa-builder ${BUILDER_VERSION}\n`);
    return Promise.resolve(exitCode.ok);
  },
};

/** Runs one command line and returns the process exit code; never throws for expected failures. */
export async function main(argv: string[], io: CliIo = process): Promise<number> {
  const [name, ...args] = argv;
  const command = Object.hasOwn(commands, name ?? 'help') ? commands[name ?? 'help'] : undefined;
  if (!command) {
    const what = name?.startsWith('-') ? 'option' : 'command';
    io.stderr.write(`oa-builder: unknown ${what} ${JSON.stringify(name)}\n\n${usage}`);
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
