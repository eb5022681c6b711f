// Shared pieces of the git adapter's integration tests: remotes on the test git server, a git CLI for
// playing "another client", and proxies that stall or hold requests for the abort and timeout tests.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { hostCredentials, noCredentials, type GitCredentials, type Remote } from '../../../src/git';
import { nopLogger } from '../../../src/log';
import { REPO_ROOT, testEnv, uniqueName } from '../../harness/env';

const run = promisify(execFile);

export const FIXTURE = path.join(REPO_ROOT, 'test/fixtures/deployment-repo');
export const author = { name: 'Builder Test', email: 'builder@test.invalid' };

/** A context whose signal never aborts. */
export const quiet = { signal: new AbortController().signal, log: nopLogger };

export function remote(url: string, credentials?: GitCredentials, timeoutMs = 60_000): Remote {
  const host = new URL(url).host;
  return {
    url,
    credentials: credentials ? hostCredentials({ [host]: credentials }) : noCredentials,
    timeoutMs,
  };
}

/** The credentials the auth area of the test git server accepts. */
export function serverCredentials(): GitCredentials {
  const { username, password } = testEnv().git;
  return { username, password };
}

export function scratchDir(prefix = 'oa-git-it-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Runs the git CLI with a fixed identity; resolves with trimmed stdout. */
export async function gitCli(args: readonly string[], cwd?: string): Promise<string> {
  const identity = ['-c', 'user.name=Outside Client', '-c', 'user.email=outside@test.invalid'];
  const { stdout } = await run('git', [...identity, ...args], { cwd, maxBuffer: 16 * 1024 * 1024 });
  return stdout.trim();
}

export interface SeededRepo {
  name: string;
  dir: string;
  url: string;
  authUrl: string;
}

/** A bare repository on the test server seeded from a directory, keeping file modes (unlike `createBareRepo`). */
export async function seedFromDirectory(
  prefix: string,
  source: string,
  branch = 'master',
): Promise<SeededRepo> {
  const env = testEnv();
  const name = uniqueName(prefix);
  const dir = path.join(env.git.reposDir, `${name}.git`);
  await run('bash', [path.join(REPO_ROOT, 'scripts/seed-bare-repo.sh'), dir, source, branch]);
  return { name, dir, url: `${env.git.baseUrl}/${name}.git`, authUrl: `${env.git.authBaseUrl}/${name}.git` };
}

/** What {@link freshFixturePerTest} gives the running test. */
export interface FixturePerTest {
  /** The deployment fixture, seeded anew on the server for this test. */
  readonly repo: SeededRepo;
  /** An empty scratch directory of this test. */
  readonly scratch: string;
}

/**
 * Registers hooks that give each test of the calling file its own copy of the deployment fixture on the
 * server and its own scratch directory, both removed after the test. Read the fields inside tests only.
 */
export function freshFixturePerTest(prefix: string): FixturePerTest {
  const current: { repo?: SeededRepo; scratch?: string } = {};
  beforeEach(async () => {
    current.repo = await seedFromDirectory(prefix, FIXTURE);
    current.scratch = scratchDir();
  });
  afterEach(() => {
    for (const dir of [current.scratch, current.repo?.dir])
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });
  const need = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the fixture exists only while a test runs');
    return value;
  };
  return {
    get repo() {
      return need(current.repo);
    },
    get scratch() {
      return need(current.scratch);
    },
  };
}

/** Commits `file` with `content` on `branch` of a repository from a separate CLI clone and pushes it. */
export async function pushFromOutside(
  url: string,
  branch: string,
  file: string,
  content: string,
): Promise<string> {
  const work = scratchDir('oa-outside-');
  try {
    await gitCli(['clone', '-q', '--branch', branch, url, work]);
    fs.writeFileSync(path.join(work, file), content);
    await gitCli(['add', file], work);
    await gitCli(['commit', '-q', '-m', `outside change to ${file}`], work);
    await gitCli(['push', '-q', 'origin', branch], work);
    return await gitCli(['rev-parse', 'HEAD'], work);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

interface Served {
  url: string;
  close(): Promise<void>;
}

async function serve(server: http.Server): Promise<Served> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface StallingProxy extends Served {
  /** Resolves when a request has been answered halfway (or not at all) and the proxy starts holding it. */
  stalled: Promise<void>;
  /** Resolves when the client closes the stalled connection. */
  clientGone: Promise<void>;
}

function stallTracking(): Pick<StallingProxy, 'stalled' | 'clientGone'> & {
  hold(res: http.ServerResponse): void;
} {
  let onStalled = (): void => undefined;
  let onClientGone = (): void => undefined;
  const stalled = new Promise<void>((resolve) => (onStalled = resolve));
  const clientGone = new Promise<void>((resolve) => (onClientGone = resolve));
  return {
    stalled,
    clientGone,
    hold: (res) => {
      res.on('close', onClientGone);
      onStalled();
    },
  };
}

function forward(
  target: string,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  onAnswer: (answer: http.IncomingMessage) => void,
): void {
  const upstream = http.request(
    `${target}${req.url ?? '/'}`,
    { method: req.method, headers: req.headers },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      onAnswer(answer);
    },
  );
  // Once the answer has started, a broken upstream is the stalling proxy's own doing, not a failure to report.
  upstream.on('error', () => {
    if (!res.headersSent) res.destroy();
  });
  req.pipe(upstream);
}

/**
 * Forwards requests to the git server at `target`, but sends only the headers and first chunk of a pack
 * and then holds the connection open: a clone stuck mid-transfer.
 */
export async function stallingProxy(target: string): Promise<StallingProxy> {
  const tracking = stallTracking();
  const server = http.createServer((req, res) => {
    forward(target, req, res, (answer) => {
      // Protocol v2 POSTs are ref listings; only the pack transfer of a clone (protocol v1) is held.
      if (req.method !== 'POST' || String(req.headers['git-protocol']).includes('version=2')) {
        answer.pipe(res);
        return;
      }
      answer.once('data', (chunk: Buffer) => {
        res.write(chunk);
        answer.destroy();
        tracking.hold(res);
      });
    });
  });
  return { ...(await serve(server)), stalled: tracking.stalled, clientGone: tracking.clientGone };
}

/**
 * Forwards requests to the git server at `target`, except those `holds` picks: these never reach the server
 * and are never answered, like a server that hangs on one step of an operation.
 */
export async function holdingProxy(
  target: string,
  holds: (req: http.IncomingMessage) => boolean,
): Promise<StallingProxy> {
  const tracking = stallTracking();
  const server = http.createServer((req, res) => {
    if (!holds(req)) {
      forward(target, req, res, (answer) => answer.pipe(res));
      return;
    }
    req.resume();
    tracking.hold(res);
  });
  return { ...(await serve(server)), stalled: tracking.stalled, clientGone: tracking.clientGone };
}

/** `url` (a repository on the test git server) as seen through a proxy at `proxyUrl`. */
export function throughProxy(proxyUrl: string, url: string): string {
  return `${proxyUrl}${new URL(url).pathname}`;
}

/** A server answering every request with `status` and `body`, for the error-mapping tests. */
export function fixedAnswerServer(status: number, body: string): Promise<Served> {
  return serve(
    http.createServer((_req, res) => {
      res.writeHead(status, { 'Content-Type': 'text/html' });
      res.end(body);
    }),
  );
}

/** Where {@link cuttingProxy} cuts an answer: after so many bytes of its body, or where a look at the body says. */
export type CutPoint = number | ((body: Buffer) => number);

/**
 * Forwards requests to the git server at `target`; the answer to a request that `cutAt` gives a cut point is
 * sent with its headers and only the start of its body, then the connection is closed: what a client sees when
 * a proxy or the network in front of the server drops its connections in the middle of an answer.
 */
export async function cuttingProxy(
  target: string,
  cutAt: (req: http.IncomingMessage) => CutPoint | undefined,
): Promise<Served> {
  const server = http.createServer((req, res) => {
    const cut = cutAt(req);
    forward(target, req, res, (answer) => {
      if (cut === undefined) {
        answer.pipe(res);
        return;
      }
      // The whole answer is read first, so where it is cut does not depend on how the server chunked it.
      const chunks: Buffer[] = [];
      answer.on('data', (chunk: Buffer) => chunks.push(chunk));
      answer.on('end', () => {
        const body = Buffer.concat(chunks);
        const bytes = typeof cut === 'number' ? cut : cut(body);
        res.flushHeaders();
        if (bytes > 0) res.write(body.subarray(0, bytes));
        // end() sends what was written before closing, unlike destroy(), so the cut falls exactly there.
        res.socket?.end();
      });
    });
  });
  return serve(server);
}

/** Whether `req` asks for a ref advertisement (the first request of a clone, fetch or push). */
export function isRefAdvertisement(req: http.IncomingMessage): boolean {
  return req.method === 'GET' && (req.url ?? '').includes('/info/refs?');
}

/** Whether `req` is a protocol v2 command (an ls-refs, as an ls-remote sends it). */
export function isProtocolV2Command(req: http.IncomingMessage): boolean {
  return req.method === 'POST' && String(req.headers['git-protocol']).includes('version=2');
}
