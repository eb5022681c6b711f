import { spawn, execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import amqp from 'amqplib';
import { freeLoopbackPort } from '../../harness/ports';

/**
 * A RabbitMQ node of the test's own, on loopback ports of its own, for what must not touch the shared broker:
 * restarting it and closing its connections from the broker side. Everything it starts is stopped by the
 * PID saved here; its files live in a temporary directory removed at the end.
 */
export interface PrivateBroker {
  /** `amqp://guest:guest@127.0.0.1:<port>/`. */
  url: string;
  /** Stops the node (its mnesia survives) and starts it again. */
  restart(): Promise<void>;
  /** Runs rabbitmqctl against this node only. */
  ctl(...args: string[]): Promise<string>;
  dispose(): Promise<void>;
}

const bin = '/usr/lib/rabbitmq/bin';
const run = promisify(execFile);

async function until(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`private broker: ${what} within ${timeoutMs} ms`);
}

async function accepts(url: string): Promise<boolean> {
  try {
    const connection = await amqp.connect(url, { timeout: 1000 });
    await connection.close();
    return true;
  } catch {
    return false;
  }
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function startPrivateBroker(): Promise<PrivateBroker> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oa-amqp-'));
  const [port, distPort, epmdPort] = [
    await freeLoopbackPort(),
    await freeLoopbackPort(),
    await freeLoopbackPort(),
  ];
  fs.writeFileSync(path.join(dir, 'rabbitmq.conf'), `listeners.tcp.default = 127.0.0.1:${port}\n`);
  fs.writeFileSync(path.join(dir, 'enabled_plugins'), '[].\n');
  const loopbackDist = '-kernel inet_dist_use_interface {127,0,0,1}';
  const env = {
    ...process.env,
    HOME: dir,
    RABBITMQ_NODENAME: `oa-test-${process.pid}-${port}@localhost`,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_CONFIG_FILE: path.join(dir, 'rabbitmq.conf'),
    RABBITMQ_ENABLED_PLUGINS_FILE: path.join(dir, 'enabled_plugins'),
    RABBITMQ_MNESIA_BASE: path.join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: path.join(dir, 'log'),
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: loopbackDist,
    RABBITMQ_CTL_ERL_ARGS: loopbackDist,
    ERL_EPMD_ADDRESS: '127.0.0.1',
    ERL_EPMD_PORT: String(epmdPort),
  };
  const url = `amqp://guest:guest@127.0.0.1:${port}/`;
  const log = fs.openSync(path.join(dir, 'server.out'), 'a');
  // An epmd of our own, started first so the node uses it instead of daemonising one we could not stop.
  const epmd = spawn('epmd', ['-port', String(epmdPort), '-address', '127.0.0.1'], { env, stdio: 'ignore' });
  let server: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    server = spawn(`${bin}/rabbitmq-server`, [], { env, stdio: ['ignore', log, log], detached: true });
    await until('AMQP login accepted', 60_000, () => accepts(url));
  };
  // SIGTERM to the wrapper script makes it stop the node and wait for it, so its exit means the node is gone.
  const stop = async (): Promise<void> => {
    const child = server;
    if (!child?.pid) return;
    child.kill('SIGTERM');
    const killed = setTimeout(() => process.kill(-(child.pid as number), 'SIGKILL'), 30_000);
    await exited(child);
    clearTimeout(killed);
  };

  try {
    await start();
  } catch (err) {
    await stop();
    epmd.kill('SIGTERM');
    throw err;
  }
  return {
    url,
    restart: async () => {
      await stop();
      await start();
    },
    ctl: async (...args) => (await run(`${bin}/rabbitmqctl`, args, { env, timeout: 60_000 })).stdout,
    dispose: async () => {
      await stop();
      epmd.kill('SIGTERM');
      await exited(epmd);
      fs.closeSync(log);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
