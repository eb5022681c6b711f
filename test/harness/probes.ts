// One check per service of the test environment, each bounded in time, reporting what does not answer.
import http from 'node:http';
import path from 'node:path';
import amqp from 'amqplib';
import type { TestEnv } from './env';

const PROBE_TIMEOUT_MS = 5000;

function dockerPing(socketPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath, path: '/_ping', timeout: PROBE_TIMEOUT_MS }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () =>
        res.statusCode === 200 && body === 'OK'
          ? resolve()
          : reject(new Error(`/_ping answered ${res.statusCode}: ${body}`)),
      );
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)));
    req.on('error', reject);
  });
}

export function basicAuth(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

async function expectStatus(
  url: string,
  expected: number,
  headers: Record<string, string> = {},
): Promise<string> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
  const body = await res.text();
  if (res.status !== expected) throw new Error(`GET ${url} answered ${res.status}, expected ${expected}`);
  return body;
}

async function amqpLogin(url: string): Promise<void> {
  const connection = await amqp.connect(url, { timeout: PROBE_TIMEOUT_MS });
  await connection.close();
}

interface Probe {
  service: string;
  where: string;
  log: string | undefined;
  check(): Promise<unknown>;
}

function probes(env: TestEnv): Probe[] {
  const log = (name: string): string => path.join(env.logsDir, `${name}.log`);
  const { registry, authRegistry, git } = env;
  return [
    {
      service: 'dockerd',
      where: env.dockerHost,
      log: log('dockerd'),
      check: () => dockerPing(env.dockerSocket),
    },
    {
      service: 'registry',
      where: registry.url,
      log: log('registry'),
      check: () => expectStatus(`${registry.url}/v2/`, 200),
    },
    {
      service: 'auth-registry',
      where: authRegistry.url,
      log: log('auth-registry'),
      check: async () => {
        await expectStatus(`${authRegistry.url}/v2/`, 401);
        await expectStatus(`${authRegistry.url}/v2/`, 200, {
          Authorization: basicAuth(authRegistry.username, authRegistry.password),
        });
      },
    },
    {
      service: 'git-http',
      where: git.url,
      log: log('git-http'),
      check: () => expectStatus(`${git.url}/_health`, 200),
    },
    {
      service: 'rabbitmq',
      where: env.amqpUrl.replace(/\/\/[^@]*@/, '//'),
      log: env.rabbitmqOwned ? log('rabbitmq') : undefined,
      check: () => amqpLogin(env.amqpUrl),
    },
  ];
}

/** Checks every service in parallel; returns one line per service that does not answer (empty when all do). */
export async function probeServices(env: TestEnv): Promise<string[]> {
  const results = await Promise.all(
    probes(env).map(async (probe) => {
      try {
        await probe.check();
        return undefined;
      } catch (err) {
        const log = probe.log ? `; log: ${probe.log}` : ' (not started by the harness)';
        return `${probe.service} at ${probe.where}: ${(err as Error).message}${log}`;
      }
    }),
  );
  return results.filter((line): line is string => line !== undefined);
}
