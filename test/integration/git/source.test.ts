import fs from 'node:fs';
import path from 'node:path';
import { readSourceFile, RefNotFoundError, resolveSourceCommit } from '../../../src/git';
import { notificationsConfig, OPENAPERTURE_FILE } from '../../../src/repo';
import { nopLogger } from '../../../src/log';
import { REPO_ROOT } from '../../harness/env';
import {
  gitCli,
  quiet,
  remote,
  scratchDir,
  seedFromDirectory,
  serverCredentials,
  type SeededRepo,
} from './helpers';
import { freeLoopbackPort } from '../../harness/ports';

let source: SeededRepo;
let first: string;
let second: string;
let scratch: string;

// The example source repository, then a second commit that drops openaperture.json; tag v1 at the first.
beforeAll(async () => {
  source = await seedFromDirectory('source', path.join(REPO_ROOT, 'examples/repos/hello'));
  const work = scratchDir();
  try {
    await gitCli(['clone', '-q', source.url, work]);
    first = await gitCli(['rev-parse', 'HEAD'], work);
    await gitCli(['tag', '-a', 'v1', '-m', 'release 1'], work);
    await gitCli(['rm', '-q', OPENAPERTURE_FILE], work);
    await gitCli(['commit', '-q', '-m', 'no more notifications'], work);
    second = await gitCli(['rev-parse', 'HEAD'], work);
    await gitCli(['push', '-q', '--tags', 'origin', 'master'], work);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});

afterAll(() => fs.rmSync(source.dir, { recursive: true, force: true }));

beforeEach(() => {
  scratch = scratchDir();
});

afterEach(() => fs.rmSync(scratch, { recursive: true, force: true }));

const sourceDir = (): string => path.join(scratch, 'source');

describe('resolveSourceCommit', () => {
  it('resolves a branch by fetching its tip alone, depth 1, with nothing checked out', async () => {
    const resolved = await resolveSourceCommit(
      { remote: remote(source.url), ref: 'master', dir: sourceDir() },
      quiet,
    );
    expect(resolved).toEqual({ commit: second, resolvedBy: 'fetch' });
    expect(await gitCli(['rev-list', '--count', second], sourceDir())).toBe('1');
    expect(fs.readdirSync(sourceDir())).toEqual(['.git']);
  });

  it('resolves a full ref name with an ls-remote, cloning nothing', async () => {
    const resolved = await resolveSourceCommit(
      { remote: remote(source.url), ref: 'refs/heads/master', dir: sourceDir() },
      quiet,
    );
    expect(resolved).toEqual({ commit: second, resolvedBy: 'ls-remote' });
    expect(fs.existsSync(sourceDir())).toBe(false);
  });

  it('resolves an annotated tag to the commit it tags', async () => {
    await expect(
      resolveSourceCommit({ remote: remote(source.url), ref: 'v1', dir: sourceDir() }, quiet),
    ).resolves.toEqual({ commit: first, resolvedBy: 'ls-remote' });
  });

  it('takes a full commit id as is, without asking any server', async () => {
    const nowhere = remote(`http://127.0.0.1:${await freeLoopbackPort()}/anon/none.git`);
    await expect(
      resolveSourceCommit({ remote: nowhere, ref: first, dir: sourceDir() }, quiet),
    ).resolves.toEqual({
      commit: first,
      resolvedBy: 'as-is',
    });
  });

  it('expands an abbreviated commit id with a clone', async () => {
    await expect(
      resolveSourceCommit({ remote: remote(source.url), ref: first.slice(0, 10), dir: sourceDir() }, quiet),
    ).resolves.toEqual({ commit: first, resolvedBy: 'clone' });
  });

  it('resolves through the authenticated area with credentials', async () => {
    const resolved = await resolveSourceCommit(
      { remote: remote(source.authUrl, serverCredentials()), ref: 'master', dir: sourceDir() },
      quiet,
    );
    expect(resolved.commit).toBe(second);
  });

  it('fails with RefNotFoundError for a ref the source repository does not have', async () => {
    await expect(
      resolveSourceCommit({ remote: remote(source.url), ref: 'feature/none', dir: sourceDir() }, quiet),
    ).rejects.toThrow(RefNotFoundError);
  });
});

describe('readSourceFile', () => {
  it('reads openaperture.json at the given commit, not at the branch tip', async () => {
    const text = await readSourceFile(
      { remote: remote(source.url), commit: first, dir: sourceDir(), path: OPENAPERTURE_FILE },
      quiet,
    );
    expect(notificationsConfig(text, nopLogger)).toMatchObject({ hipchat: { room_names: ['builds'] } });
  });

  it('fetches only that commit, with depth 1, and checks nothing out', async () => {
    await readSourceFile(
      { remote: remote(source.url), commit: second, dir: sourceDir(), path: 'README.md' },
      quiet,
    );
    expect(await gitCli(['rev-list', '--count', second], sourceDir())).toBe('1');
    expect(fs.readdirSync(sourceDir())).toEqual(['.git']);
  });

  it('returns null when the commit has no such file', async () => {
    await expect(
      readSourceFile(
        { remote: remote(source.url), commit: second, dir: sourceDir(), path: OPENAPERTURE_FILE },
        quiet,
      ),
    ).resolves.toBeNull();
  });

  it('reuses the fetch that resolved a branch instead of asking the server again', async () => {
    const { commit } = await resolveSourceCommit(
      { remote: remote(source.url), ref: 'master', dir: sourceDir() },
      quiet,
    );
    const nowhere = remote(`http://127.0.0.1:${await freeLoopbackPort()}/anon/none.git`);
    const text = await readSourceFile(
      { remote: nowhere, commit, dir: sourceDir(), path: 'README.md' },
      quiet,
    );
    expect(text).toContain('Source repository of the `hello` example');
  });

  it('reuses the clone made to expand an abbreviated id instead of fetching again', async () => {
    const { commit } = await resolveSourceCommit(
      { remote: remote(source.url), ref: first.slice(0, 10), dir: sourceDir() },
      quiet,
    );
    const nowhere = remote(`http://127.0.0.1:${await freeLoopbackPort()}/anon/none.git`);
    const text = await readSourceFile(
      { remote: nowhere, commit, dir: sourceDir(), path: OPENAPERTURE_FILE },
      quiet,
    );
    expect(text).toContain('room_names');
  });

  it('fails with RefNotFoundError for a commit the server does not have', async () => {
    const missing = '0123456789abcdef0123456789abcdef01234567';
    await expect(
      readSourceFile(
        { remote: remote(source.url), commit: missing, dir: sourceDir(), path: OPENAPERTURE_FILE },
        quiet,
      ),
    ).rejects.toThrow(RefNotFoundError);
  });
});
