// Where the integration tests find the services that `scripts/test-env.sh up` started: its env.json,
// read once per test process, plus the few helpers every service test needs (unique names, seeded repos).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const TEST_ENV_SCRIPT = path.join(REPO_ROOT, 'scripts', 'test-env.sh');
const DEFAULT_STATE_DIR = '/tmp/oa-builder-test';
const ENV_FILE_VERSION = 1;
// Fixed by how test-env.sh starts its engine rather than read from env.json, so env files written before
// BuildKit builds existed stay usable.
const BRIDGE_LESS_BUILD_NETWORK = 'none';

export interface RegistryEndpoint {
  /** `http://127.0.0.1:<port>`: for the registry HTTP API. */
  url: string;
  /** `127.0.0.1:<port>`: the prefix of image names pushed there. */
  host: string;
}

export interface AuthRegistryEndpoint extends RegistryEndpoint {
  username: string;
  password: string;
}

export interface GitEndpoint {
  /** The server itself, e.g. for `${url}/_health`. */
  url: string;
  /** Anonymous area: a repo `<name>.git` is at `${baseUrl}/<name>.git`. */
  baseUrl: string;
  /** Basic-auth area serving the same repos: `${authBaseUrl}/<name>.git` with `username`/`password`. */
  authBaseUrl: string;
  username: string;
  password: string;
  /** The served root; each bare repo is `<reposDir>/<name>.git`. */
  reposDir: string;
}

export interface TestEnv {
  stateDir: string;
  logsDir: string;
  dockerSocket: string;
  /** `unix://<dockerSocket>`, the DOCKER_HOST form. */
  dockerHost: string;
  /** `tcp://127.0.0.1:<port>` when `up` ran with OA_TEST_DOCKER_TCP_PORT, else null. */
  dockerTcpHost: string | null;
  /** A local image (`busybox:latest`) that `FROM` can use without any pull. */
  baseImage: string;
  /**
   * The network mode of RUN steps on the test engine, the BUILD_NETWORK that `test-env.sh env` prints: `none`,
   * since the script starts dockerd with `--bridge=none` and BuildKit's default network is the bridge.
   */
  buildNetwork: string;
  registry: RegistryEndpoint;
  authRegistry: AuthRegistryEndpoint;
  git: GitEndpoint;
  amqpUrl: string;
  /** False when the tests use a broker that was already running, which they must leave as they found it. */
  rabbitmqOwned: boolean;
}

type Shape = 'string' | 'string|null' | 'boolean' | { [key: string]: Shape };

const registryShape = { url: 'string', host: 'string' } as const;
const TEST_ENV_SHAPE: Shape = {
  stateDir: 'string',
  logsDir: 'string',
  dockerSocket: 'string',
  dockerHost: 'string',
  dockerTcpHost: 'string|null',
  baseImage: 'string',
  registry: registryShape,
  authRegistry: { ...registryShape, username: 'string', password: 'string' },
  git: {
    url: 'string',
    baseUrl: 'string',
    authBaseUrl: 'string',
    username: 'string',
    password: 'string',
    reposDir: 'string',
  },
  amqpUrl: 'string',
  rabbitmqOwned: 'boolean',
};

function shapeProblems(value: unknown, shape: Shape, where: string): string[] {
  if (typeof shape === 'string') {
    const ok = shape === 'string|null' ? value === null || typeof value === 'string' : typeof value === shape;
    return ok ? [] : [`${where} is not ${shape}`];
  }
  if (typeof value !== 'object' || value === null) return [`${where} is not an object`];
  const record = value as Record<string, unknown>;
  return Object.entries(shape).flatMap(([key, inner]) =>
    shapeProblems(record[key], inner, `${where}.${key}`),
  );
}

/** The state directory: $OA_TEST_ENV_DIR, default /tmp/oa-builder-test. */
export function stateDir(): string {
  return process.env.OA_TEST_ENV_DIR || DEFAULT_STATE_DIR;
}

export function envFile(): string {
  return path.join(stateDir(), 'env.json');
}

/** Reads and checks env.json; throws a message that says how to bring the environment up. */
export function loadTestEnv(file = envFile()): TestEnv {
  const hint = `run \`bash scripts/test-env.sh up\` (state directory: $OA_TEST_ENV_DIR, default ${DEFAULT_STATE_DIR})`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`no usable test environment at ${file} (${(err as Error).message}); ${hint}`, {
      cause: err,
    });
  }
  const version = (parsed as { version?: unknown } | null)?.version;
  if (version !== ENV_FILE_VERSION) {
    throw new Error(`${file} has version ${String(version)}, expected ${ENV_FILE_VERSION}; ${hint}`);
  }
  const problems = shapeProblems(parsed, TEST_ENV_SHAPE, 'env');
  if (problems.length > 0) throw new Error(`${file} is malformed (${problems.join(', ')}); ${hint}`);
  return { ...(parsed as Omit<TestEnv, 'buildNetwork'>), buildNetwork: BRIDGE_LESS_BUILD_NETWORK };
}

let cached: TestEnv | undefined;

/** The environment of this test process, loaded on first use. */
export function testEnv(): TestEnv {
  cached ??= loadTestEnv();
  return cached;
}

let counter = 0;

/**
 * A name no other test can be using: the prefix, this process id (one per jest worker), a counter and
 * random hex. Lower-case letters, digits and '-' only, so it also fits image, queue and repo names.
 */
export function uniqueName(prefix: string): string {
  const clean = prefix.toLowerCase().replace(/[^a-z0-9-]+/g, '-');
  counter += 1;
  return `${clean}-${process.pid}-${counter}-${randomBytes(3).toString('hex')}`;
}

export interface BareRepo {
  name: string;
  /** Path of the bare repository on disk. */
  dir: string;
  branch: string;
  /** Anonymous clone/push URL. */
  url: string;
  /** Same repository behind Basic auth (`testEnv().git.username` / `password`). */
  authUrl: string;
}

export interface BareRepoOptions {
  /** Path (with '/' for folders) to content of the one seed commit. Default: a README.md. */
  files?: Record<string, string | Uint8Array>;
  /** Default `main`. */
  branch?: string;
}

function repoDir(name: string, env: TestEnv): string {
  if (!/^[A-Za-z0-9._-]+$/.test(name) || name.startsWith('.')) throw new Error(`bad repo name: ${name}`);
  return path.join(env.git.reposDir, `${name}.git`);
}

/**
 * Creates `<name>.git` in the served root with one commit holding `files`, pushable without
 * credentials. Fails if it exists: pass a `uniqueName(...)`.
 */
export async function createBareRepo(name: string, options: BareRepoOptions = {}): Promise<BareRepo> {
  const env = testEnv();
  const branch = options.branch ?? 'main';
  const dir = repoDir(name, env);
  const files = options.files ?? { 'README.md': `# ${name}\n` };
  const source = await mkdtemp(path.join(os.tmpdir(), 'oa-seed-'));
  try {
    for (const [file, content] of Object.entries(files)) {
      const target = path.resolve(source, file);
      if (!target.startsWith(source + path.sep)) throw new Error(`seed file outside the repo: ${file}`);
      await mkdir(path.dirname(target), { recursive: true });
      await writeFile(target, content);
    }
    await run('bash', [path.join(REPO_ROOT, 'scripts', 'seed-bare-repo.sh'), dir, source, branch]);
  } finally {
    await rm(source, { recursive: true, force: true });
  }
  return {
    name,
    dir,
    branch,
    url: `${env.git.baseUrl}/${name}.git`,
    authUrl: `${env.git.authBaseUrl}/${name}.git`,
  };
}

/** Deletes a repository made by `createBareRepo`. */
export async function removeBareRepo(repo: Pick<BareRepo, 'name'>): Promise<void> {
  await rm(repoDir(repo.name, testEnv()), { recursive: true, force: true });
}
