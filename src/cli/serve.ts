import { installProcessGuard } from '../../actors/supervision';
import { commandLogger } from '../app';
import { consistentConfig, loadConfig } from '../config';
import { startService } from '../service';
import { BUILDER_VERSION } from '../version';
import { parseCommandLine } from './options';

export const SERVE_USAGE = `usage: oa-builder serve [--config FILE]   (or --config=FILE)

  Runs the builder as an OpenAperture system module: registers with the Manager, consumes QUEUE_NAME,
  builds, and reports to the Manager, the notifications exchange, the build log stream and the orchestrator.
  The Manager settings (MANAGER_URL, OAUTH_*, EXCHANGE_ID, BROKER_ID) are required; see oa-builder config.
  SIGTERM or SIGINT stops consuming and stops the workflows in flight (they are reported as failed with reason
  "shutdown" and left unacknowledged, so the broker hands them to another replica); a second signal exits at once.
`;

export interface ServeIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  /** Where the stop signals come from. Default `process`. */
  signals?: Pick<NodeJS.Process, 'once'>;
}

/** `oa-builder serve`: runs until a stop signal, then resolves with the exit status. */
export async function serveCommand(args: string[], io: ServeIo): Promise<number> {
  const line = parseCommandLine(args, { usage: SERVE_USAGE, strings: ['config'] });
  if (line.help) {
    io.stdout.write(SERVE_USAGE);
    return 0;
  }
  const file = line.strings.config ?? io.env.OA_BUILDER_CONFIG;
  const config = consistentConfig(loadConfig({ mode: 'service', env: io.env, ...(file ? { file } : {}) }));
  const { log: commandLog, redactor } = commandLogger(config, io.stderr);
  const log = commandLog.child({ hostname: config.hostname });
  installProcessGuard({ log });
  const service = await startService({ config, log, redactor });
  log.info('builder service started', {
    version: BUILDER_VERSION,
    queue: config.queueName,
    slots: config.concurrency,
  });
  const signals = io.signals ?? process;
  const signal = await new Promise<string>((resolve) => {
    signals.once('SIGTERM', () => resolve('SIGTERM'));
    signals.once('SIGINT', () => resolve('SIGINT'));
  });
  log.info('stopping', { signal });
  const forced = new Promise<number>((resolve) => {
    const force = (): void => {
      log.warn('second stop signal: exiting without waiting');
      resolve(1);
    };
    signals.once('SIGTERM', force);
    signals.once('SIGINT', force);
  });
  return Promise.race([service.stop(`${signal} received`).then(() => 0), forced]);
}
