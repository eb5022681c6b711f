// The build farm against real engines: three private dockerds (and a TLS one) started by
// `scripts/test-env.sh engine`, the open registry, and the docker step run as a plain function.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { rendezvousScore } from '../../../src/docker/farm/placement';
import { noCredentials } from '../../../src/git';
import { nopLogger } from '../../../src/log';
import { buildStep, type StepDeps } from '../../../src/workflow/steps';
import { engineDown, engineUp } from '../../harness/engines';
import { testEnv, uniqueName } from '../../harness/env';
import { startTestFarm, type TestFarm } from '../../harness/farm';
import { cleanUp, context } from './helpers';

const run = promisify(execFile);
const ENGINES = ['farm1', 'farm2', 'farm3'];
let hosts: string[] = [];

beforeAll(async () => {
  hosts = await Promise.all(ENGINES.map((name) => engineUp(name)));
}, 300_000);
afterAll(async () => {
  await Promise.all([...ENGINES, 'tls1'].map((name) => engineDown(name)));
  await cleanUp();
}, 120_000);

type Backend = 'classic' | 'buildkit';

function deps(farm: TestFarm, backend: Backend = 'classic'): StepDeps {
  return {
    git: { baseUrl: 'http://git.invalid/', credentials: noCredentials, timeoutMs: 1000 },
    author: { name: 'Test', email: 'test@example.invalid' },
    registry: { url: testEnv().registry.url },
    engines: farm.source,
    // These engines have no bridge network, BuildKit's default for RUN steps.
    build: { timeoutMs: 120_000, backend, ...(backend === 'buildkit' ? { networkMode: 'none' } : {}) },
    push: { timeoutMs: 120_000 },
    registryTimeoutMs: 10_000,
    outageBudgetMs: 60_000,
  };
}

interface Built {
  readonly repo: string;
  /** The engine the build ran on last (after any move). */
  readonly host: string | undefined;
  readonly events: string[];
  readonly error: Error | undefined;
}

/** One forced build of deployment repo `repo` (a `RUN sleep`), through the farm. */
async function build(farm: TestFarm, repo: string, seconds = 1, backend?: Backend): Promise<Built> {
  const contextDir = await context({ Dockerfile: `FROM busybox:latest\nRUN sleep ${seconds}\n` });
  const events: string[] = [];
  const input = {
    forceBuild: true,
    docker: { dockerUrl: `farm-test/${repo}`, registry: null },
    commit: uniqueName('c'),
    contextDir,
    deploymentRepo: repo,
    workflowId: uniqueName('wf'),
  };
  const ctx = {
    signal: AbortSignal.timeout(240_000),
    log: nopLogger,
    report: {
      event: (_k: string, m: string) => void events.push(m),
      save: () => undefined,
      line: () => undefined,
    },
  };
  const error = await buildStep(input, deps(farm, backend), ctx).then(
    () => undefined,
    (err: unknown) => err as Error,
  );
  const began = events.filter((e) => e.startsWith('Beginning docker image build')).at(-1);
  return { repo, host: began?.replace(/^.* on docker host (.*)\.\.\.$/, '$1'), events, error };
}

const affine = (repo: string): string =>
  hosts.reduce((a, b) => (rendezvousScore(repo, a) >= rendezvousScore(repo, b) ? a : b));

/** A repo name whose affine engine is `host`. */
function repoFor(host: string): string {
  for (;;) {
    const repo = uniqueName('farm-repo');
    if (affine(repo) === host) return repo;
  }
}

describe('a farm of three engines', () => {
  it('keeps each deployment repo on its engine while idle, and spreads builds by load when busy', async () => {
    const farm = await startTestFarm(hosts, { slots: 1, requestTimeoutMs: 15_000, probeIntervalMs: 1000 });
    await farm.until((s) => s.engines.every((e) => e.healthy));

    const repo = repoFor(hosts[1] ?? '');
    const first = await build(farm, repo);
    const second = await build(farm, repo);
    expect([first.error, second.error]).toEqual([undefined, undefined]);
    expect([first.host, second.host]).toEqual([hosts[1], hosts[1]]);

    // Three builds of repos that all prefer one engine, at once, on one slot per engine: one engine each.
    const crowd = await Promise.all([0, 1, 2].map(() => build(farm, repoFor(hosts[0] ?? ''), 3)));
    expect(crowd.map((b) => b.error)).toEqual([undefined, undefined, undefined]);
    expect(new Set(crowd.map((b) => b.host))).toEqual(new Set(hosts));
    const status = await farm.status();
    expect(status.engines.map((e) => e.builds.ok).reduce((a, b) => a + b)).toBe(5);
  }, 300_000);

  it.each<Backend>(['classic', 'buildkit'])(
    'moves the builds not yet started on a stopped engine to the others, fails none for it but the one it ran, and uses it again once it is back (%s)',
    async (backend) => {
      // A no-op while it runs: the engine the test before stopped comes back even when that test failed.
      await engineUp('farm3');
      const farm = await startTestFarm(hosts, { slots: 1, requestTimeoutMs: 15_000, probeIntervalMs: 500 });
      await farm.until((s) => s.engines.every((e) => e.healthy));
      const doomed = hosts[2] ?? '';

      // Six builds on three slots: three run (one on farm3), three wait.
      const builds = Promise.all(Array.from({ length: 6 }, () => build(farm, repoFor(doomed), 4, backend)));
      await farm.until((s) => s.waiting === 3);
      await engineDown('farm3');
      const done = await builds;

      // Only the build farm3 ran when it stopped may fail, and its reason names farm3. The stop may also meet
      // it before its first step: it then moves and waits with the others.
      const failed = done.filter((b) => b.error);
      expect(failed.length).toBeLessThanOrEqual(1);
      for (const b of failed) expect(b.error?.message).toContain(`docker engine ${doomed} is unreachable`);
      const waited = done.filter((b) =>
        b.events.some((e) => e.startsWith('Waiting for a free docker build slot')),
      );
      expect(waited.length).toBeGreaterThanOrEqual(3);
      expect(waited.filter((b) => b.error).map((b) => b.error?.message)).toEqual([]);
      expect(waited.filter((b) => b.host === doomed)).toEqual([]);

      await engineUp('farm3');
      await farm.until((s) => s.engines.every((e) => e.healthy));
      const after = await build(farm, repoFor(doomed), 1, backend);
      expect(after).toMatchObject({ error: undefined, host: doomed });
    },
    300_000,
  );
});

/** A CA, a server certificate for 127.0.0.1 and a client certificate it signed, made with openssl. */
async function certificates(dir: string, caName: string): Promise<void> {
  const openssl = (args: string[]) => run('openssl', args, { cwd: dir });
  await openssl([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    `/CN=${caName}`,
    '-keyout',
    'ca-key.pem',
    '-out',
    'ca.pem',
  ]);
  fs.writeFileSync(
    path.join(dir, 'server.ext'),
    'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n',
  );
  fs.writeFileSync(path.join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [who, ext] of [
    ['server', 'server.ext'],
    ['client', 'client.ext'],
  ] as const) {
    await openssl([
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      `/CN=${who}`,
      '-keyout',
      `${who}-key.pem`,
      '-out',
      `${who}.csr`,
    ]);
    await openssl([
      'x509',
      '-req',
      '-in',
      `${who}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca-key.pem',
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      ext,
      '-out',
      `${who}-cert.pem`,
    ]);
  }
  // The client's files under the names DOCKER_CERT_PATH uses.
  fs.mkdirSync(path.join(dir, 'client'));
  fs.copyFileSync(path.join(dir, 'ca.pem'), path.join(dir, 'client', 'ca.pem'));
  fs.copyFileSync(path.join(dir, 'client-cert.pem'), path.join(dir, 'client', 'cert.pem'));
  fs.copyFileSync(path.join(dir, 'client-key.pem'), path.join(dir, 'client', 'key.pem'));
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('a TLS engine', () => {
  let dir: string;
  let address: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oa-farm-tls-'));
    fs.mkdirSync(path.join(dir, 'good'));
    fs.mkdirSync(path.join(dir, 'other'));
    await certificates(path.join(dir, 'good'), 'oa-farm-test-ca');
    await certificates(path.join(dir, 'other'), 'some-other-ca');
    const port = await freePort();
    await engineUp('tls1', { tcpPort: port, tlsDir: path.join(dir, 'good') });
    address = `tcp://127.0.0.1:${port}`;
  }, 300_000);
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('builds with the client certificate its CA signed', async () => {
    const farm = await startTestFarm([`${address};tls=${dir}/good/client`], { requestTimeoutMs: 15_000 });
    const status = await farm.until((s) => s.engines[0]?.healthy === true);
    expect(status.engines[0]?.apiVersion).toMatch(/^1\.\d+$/);

    const built = await build(farm, uniqueName('tls-repo'));

    expect(built).toMatchObject({ error: undefined, host: address });
  }, 180_000);

  it('keeps the engine out of rotation with a clear error when the certificates are not its own', async () => {
    const farm = await startTestFarm([`${address};tls=${dir}/other/client`], { requestTimeoutMs: 15_000 });

    const status = await farm.until((s) => s.engines[0]?.lastError != null);

    expect(status.engines[0]?.healthy).toBe(false);
    expect(status.engines[0]?.lastError).toMatch(
      new RegExp(
        `^docker engine ${address} is unreachable: the TLS handshake failed \\(.+\\): check the engine's CA, client certificate and key$`,
      ),
    );
  }, 60_000);
});
