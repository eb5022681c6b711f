import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import git from 'isomorphic-git';
import http from 'isomorphic-git/http/node';
import {
  type BareRepo,
  createBareRepo,
  REPO_ROOT,
  removeBareRepo,
  testEnv,
  uniqueName,
} from '../../harness/env';
import { startGitServer } from '../../harness/git-server';
import { basicAuth } from '../../harness/probes';

const run = promisify(execFile);
const env = testEnv();
const author = { name: 'Smoke Test', email: 'smoke@oa-builder.test' };
const rightCredentials = { username: env.git.username, password: env.git.password };

let work: string;
const repos: BareRepo[] = [];

beforeEach(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'oa-smoke-git-'));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});
afterAll(async () => {
  await Promise.all(repos.map((repo) => removeBareRepo(repo)));
});

async function newRepo(prefix: string): Promise<BareRepo> {
  const repo = await createBareRepo(uniqueName(prefix), {
    files: { 'README.md': 'seed\n', 'app/main.txt': 'v1\n' },
  });
  repos.push(repo);
  return repo;
}

/** The commit a branch points to, as the server advertises it to the git command line. */
async function remoteHead(url: string, branch: string, authorization?: string): Promise<string> {
  const config = authorization ? ['-c', `http.extraHeader=Authorization: ${authorization}`] : [];
  const { stdout } = await run('git', [...config, 'ls-remote', url, `refs/heads/${branch}`]);
  return stdout.split('\t')[0] ?? '';
}

type CloneOptions = Omit<Parameters<typeof git.clone>[0], 'fs' | 'http' | 'dir' | 'url'>;

/** A shallow clone of `main` into this test's work directory. */
function cloneInto(url: string, options: CloneOptions = {}): Promise<void> {
  return git.clone({ fs, http, dir: work, url, ref: 'main', singleBranch: true, depth: 1, ...options });
}

async function commitChange(dir: string, content: string): Promise<string> {
  await writeFile(path.join(dir, 'app', 'main.txt'), content);
  await git.add({ fs, dir, filepath: 'app/main.txt' });
  return git.commit({ fs, dir, message: `Change to ${content.trim()}`, author });
}

describe('the test git server', () => {
  it('lets isomorphic-git clone, commit and push anonymously, and the push lands on the server', async () => {
    const repo = await newRepo('smoke-anon');
    await cloneInto(repo.url);
    expect(await readFile(path.join(work, 'app', 'main.txt'), 'utf8')).toBe('v1\n');

    const sha = await commitChange(work, 'v2\n');
    const pushed = await git.push({ fs, http, dir: work, remote: 'origin', ref: 'main' });

    expect(pushed.ok).toBe(true);
    expect(await remoteHead(repo.url, 'main')).toBe(sha);
  });

  it('lets a client with the right credentials clone and push through the authenticated area', async () => {
    const repo = await newRepo('smoke-auth');
    const onAuth = jest.fn(() => rightCredentials);
    await cloneInto(repo.authUrl, { onAuth });
    const sha = await commitChange(work, 'v3\n');
    const pushed = await git.push({ fs, http, dir: work, remote: 'origin', ref: 'main', onAuth });

    expect(pushed.ok).toBe(true);
    expect(onAuth).toHaveBeenCalledTimes(2);
    const authorization = basicAuth(rightCredentials.username, rightCredentials.password);
    expect(await remoteHead(repo.authUrl, 'main', authorization)).toBe(sha);
  });

  it('answers a clone without credentials from the authenticated area with a 401', async () => {
    const repo = await newRepo('smoke-nocreds');
    await expect(cloneInto(repo.authUrl)).rejects.toMatchObject({
      code: 'HttpError',
      data: { statusCode: 401 },
    });
  });

  it('rejects wrong credentials, which reach the failure callback instead of a retry loop', async () => {
    const repo = await newRepo('smoke-wrongcreds');
    const onAuthFailure = jest.fn(() => ({ cancel: true }));
    const clone = cloneInto(repo.authUrl, {
      onAuth: () => ({ username: env.git.username, password: 'not-the-password' }),
      onAuthFailure,
    });
    await expect(clone).rejects.toMatchObject({ code: 'UserCanceledError' });
    expect(onAuthFailure).toHaveBeenCalledTimes(1);
  });

  it('refuses a push without credentials to the authenticated area and leaves the branch unchanged', async () => {
    const repo = await newRepo('smoke-pushnocreds');
    const before = await remoteHead(repo.url, 'main');
    await cloneInto(repo.authUrl, { onAuth: () => rightCredentials });
    await commitChange(work, 'v4\n');

    await expect(git.push({ fs, http, dir: work, remote: 'origin', ref: 'main' })).rejects.toMatchObject({
      code: 'HttpError',
      data: { statusCode: 401 },
    });
    expect(await remoteHead(repo.url, 'main')).toBe(before);
  });

  it('accepts a chunked push body from the git command line', async () => {
    const repo = await newRepo('smoke-chunked');
    await run('git', ['clone', '-q', repo.url, work]);
    // Random bytes do not compress, so a 2 MiB file exceeds the 64 KiB post buffer and forces chunking.
    await writeFile(path.join(work, 'blob.bin'), randomBytes(2 * 1024 * 1024));
    await run('git', ['-C', work, 'add', 'blob.bin']);
    await run('git', [
      '-C',
      work,
      '-c',
      `user.name=${author.name}`,
      '-c',
      `user.email=${author.email}`,
      'commit',
      '-qm',
      'Big',
    ]);
    await run('git', ['-C', work, '-c', 'http.postBuffer=65536', 'push', '-q', 'origin', 'main']);

    const { stdout: local } = await run('git', ['-C', work, 'rev-parse', 'HEAD']);
    expect(await remoteHead(repo.url, 'main')).toBe(local.trim());
  });
});

describe('an in-process git server', () => {
  it('starts on a free port and serves both areas from its own root', async () => {
    const root = path.join(work, 'root');
    const source = path.join(work, 'source');
    fs.mkdirSync(source, { recursive: true });
    fs.writeFileSync(path.join(source, 'hello.txt'), 'in-process\n');
    await run('bash', [
      path.join(REPO_ROOT, 'scripts', 'seed-bare-repo.sh'),
      path.join(root, 'app.git'),
      source,
    ]);
    const auth = { username: 'git', password: randomBytes(9).toString('hex') };
    const server = await startGitServer({ root, port: 0, auth });
    try {
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const prefix = 'refs/heads/main';
      const anonymous = await git.listServerRefs({ http, url: `${server.url}/anon/app.git`, prefix });
      const authenticated = await git.listServerRefs({
        http,
        url: `${server.url}/auth/app.git`,
        prefix,
        onAuth: () => auth,
      });

      expect(anonymous).toEqual([{ ref: prefix, oid: expect.stringMatching(/^[0-9a-f]{40}$/) as string }]);
      expect(authenticated).toEqual(anonymous);
    } finally {
      await server.close();
    }
  });
});
