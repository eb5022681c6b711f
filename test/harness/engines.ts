// Extra Docker engines for the build-farm tests and bench: private dockerds started by
// `scripts/test-env.sh engine up NAME` in a state directory of their own beside the test environment's, each
// with the busybox base image, and stopped by it again (by saved PID).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT, TEST_ENV_SCRIPT, testEnv } from './env';

const run = promisify(execFile);
// Compiled into dist-bench/ (bench/farm), this file is one level deeper below the repository.
const SCRIPT = [TEST_ENV_SCRIPT, path.join(REPO_ROOT, '..', 'scripts', 'test-env.sh')].find((f) =>
  existsSync(f),
);

/** Where the extra engines live: OA_TEST_FARM_DIR, else beside the test environment's state directory. */
export function farmDir(): string {
  return process.env.OA_TEST_FARM_DIR ?? `${testEnv().stateDir}-farm`;
}

/** The BUILD_HOSTS address of extra engine `name`: its unix socket. */
export function engineHost(name: string): string {
  return `unix://${path.join(farmDir(), 'engines', `${name}.sock`)}`;
}

export interface EngineUpOptions {
  /** A loopback TCP port for the Engine API besides the socket. */
  readonly tcpPort?: number;
  /** With `tcpPort`: require TLS there, with this directory's ca.pem, server-cert.pem and server-key.pem. */
  readonly tlsDir?: string;
}

async function testEnvScript(args: string[]): Promise<void> {
  if (!SCRIPT) throw new Error(`scripts/test-env.sh is not at ${TEST_ENV_SCRIPT}`);
  await run('bash', [SCRIPT, 'engine', ...args], {
    env: { ...process.env, OA_TEST_ENV_DIR: farmDir() },
    maxBuffer: 4 * 1024 * 1024,
  });
}

/** Starts extra engine `name` (a no-op while it runs) and resolves with its BUILD_HOSTS address. */
export async function engineUp(name: string, options: EngineUpOptions = {}): Promise<string> {
  const extra = [
    ...(options.tcpPort === undefined ? [] : ['--tcp', String(options.tcpPort)]),
    ...(options.tlsDir === undefined ? [] : ['--tls', options.tlsDir]),
  ];
  await testEnvScript(['up', name, ...extra]);
  return engineHost(name);
}

/** Stops extra engine `name` (by its saved PID), as an operator or a crash would take it away. */
export async function engineDown(name: string): Promise<void> {
  await testEnvScript(['down', name]);
}
