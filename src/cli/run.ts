import { readFile } from 'node:fs/promises';
import type { ChildReport } from '../../actors/supervision';
import { commandLogger, startBuilder } from '../app';
import { consistentConfig, loadConfig } from '../config';
import { EtfDecodeError, toJson } from '../etf';
import { InvalidRequestError, replyTerm, type ReceivedBuildRequest } from '../messages';
import { parseRequestBytes } from '../messages/request-file';
import { parseCommandLine, UsageError } from './options';
import { consoleReporter } from '../workflow/console-reporter';
import type { WorkflowResult } from '../workflow/reporter';

export const RUN_USAGE = `usage: oa-builder run REQUEST [--json] [--verbose] [--config FILE]
                       [--git-base-url URL] [--docker-host HOST] [--registry URL]
       (every option also as --option=value)

  Runs the workflow of one build request (a JSON or an Erlang-term file) through the builder's actor
  tree, on this machine, with no broker and no Manager: checkout, render, commit and push, and for the
  build step the image build and push. Progress goes to standard error, log records too (as readable
  lines unless LOG_FORMAT=json), and the outcome is its last line.

    --json          print the reply the orchestrator would receive, as JSON, on standard output
    --verbose       also show the build and push output
    --config FILE   settings file (see oa-builder config); the environment wins over it
    --git-base-url  GIT_BASE_URL for this run     --docker-host  BUILD_HOSTS for this run
    --registry      DOCKER_REGISTRY_URL for this run

exit status: 0 the workflow succeeded, 1 it failed, 2 bad request, option or configuration
`;

/** The command-line options of `run`, already taken off the argument list. */
export interface RunOptions {
  readonly requestFile: string;
  readonly json: boolean;
  readonly verbose: boolean;
  readonly configFile: string | undefined;
  /** Settings from flags, keyed by environment variable names. */
  readonly overrides: Record<string, string>;
}

export interface RunIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

/** A request file that cannot be run: reported in one line, exit status 2. */
export class BadRequestFile extends Error {
  override readonly name = 'BadRequestFile';
}

async function readRequest(file: string): Promise<ReceivedBuildRequest> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new BadRequestFile(`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    return parseRequestBytes(bytes);
  } catch (err) {
    if (err instanceof InvalidRequestError) throw new BadRequestFile(`${file}: ${err.message}`);
    if (err instanceof EtfDecodeError)
      throw new BadRequestFile(`${file} is not a valid Erlang term: ${err.message}`);
    if (err instanceof SyntaxError) throw new BadRequestFile(`${file} is not valid JSON: ${err.message}`);
    throw err;
  }
}

function unreportedEnd(received: ReceivedBuildRequest, report: ChildReport): WorkflowResult {
  const reason = 'reason' in report.exit ? report.exit.reason.message : report.exit.kind;
  return {
    workflowId: received.request.id,
    status: 'failed',
    message: 'An unexpected error occurred executing build request',
    reason,
    received: received.term,
    update: { workflow_error: true, workflow_completed: true },
    image: null,
    imageFound: false,
    elapsedMs: 0,
    stepDurations: {},
    stopped: false,
    crashed: report.exit.kind === 'crashed',
  };
}

/**
 * Runs one workflow through a builder tree of its own and returns whether it succeeded. The tree is stopped
 * before returning, whatever happened, so the process can exit.
 */
export async function runRequest(options: RunOptions, io: RunIo): Promise<WorkflowResult> {
  const config = consistentConfig(
    loadConfig({
      mode: 'local',
      env: io.env,
      overrides: options.overrides,
      ...(options.configFile ? { file: options.configFile } : {}),
    }),
  );
  const received = await readRequest(options.requestFile);
  // The progress lines are for a reader: log records between them are too, wherever standard error goes.
  const { log, redactor } = commandLogger(config, io.stderr, 'pretty');
  let finished: (result: WorkflowResult, summary: string) => void = () => undefined;
  const result = new Promise<{ outcome: WorkflowResult; summary: string }>(
    (resolve) => (finished = (outcome, summary) => resolve({ outcome, summary })),
  );
  const builder = await startBuilder({
    config: { ...config, concurrency: 1 },
    log,
    redactor,
    reporterFor: () =>
      consoleReporter({ out: io.stderr, verbose: options.verbose, onFinished: finished, deferSummary: true }),
    // A workflow reports its own end before it stops; this is for one that died before it could.
    app: {
      onWorkflowExit: (report) => {
        const outcome = unreportedEnd(received, report);
        finished(outcome, `workflow ${outcome.workflowId} failed: ${outcome.message}: ${outcome.reason}\n`);
      },
    },
  });
  let summary = '';
  try {
    await builder.start(received);
    const ended = await result;
    summary = ended.summary;
    if (options.json) {
      const reply = toJson(replyTerm(ended.outcome.received, ended.outcome.update));
      io.stdout.write(`${JSON.stringify(reply, null, 2)}\n`);
    }
    return ended.outcome;
  } finally {
    await builder.app.stop('local run finished');
    io.stderr.write(summary);
  }
}

/** `oa-builder run`: the arguments after the command name; returns the exit status. */
const SETTING_OPTIONS = {
  'git-base-url': 'GIT_BASE_URL',
  'docker-host': 'BUILD_HOSTS',
  registry: 'DOCKER_REGISTRY_URL',
} as const;

export async function runCommand(args: string[], io: RunIo): Promise<number> {
  const line = parseCommandLine(args, {
    usage: RUN_USAGE,
    strings: ['config', ...Object.keys(SETTING_OPTIONS)],
    flags: ['json', 'verbose'],
    maxOperands: 1,
  });
  if (line.help) {
    io.stdout.write(RUN_USAGE);
    return 0;
  }
  const configFile = line.strings.config ?? io.env.OA_BUILDER_CONFIG;
  const overrides: Record<string, string> = {};
  for (const [option, variable] of Object.entries(SETTING_OPTIONS)) {
    const value = line.strings[option];
    if (value !== undefined) overrides[variable] = value;
  }
  const [requestFile] = line.operands;
  if (requestFile === undefined) throw new UsageError(`run needs a REQUEST file\n\n${RUN_USAGE}`);
  const { json, verbose } = line.flags as { json: boolean; verbose: boolean };
  try {
    const outcome = await runRequest({ requestFile, json, verbose, configFile, overrides }, io);
    return outcome.status === 'succeeded' ? 0 : 1;
  } catch (err) {
    if (err instanceof BadRequestFile) {
      io.stderr.write(`oa-builder: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}
