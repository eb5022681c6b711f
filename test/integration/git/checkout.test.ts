import fs from 'node:fs';
import path from 'node:path';
import {
  checkoutRepo,
  GitAuthError,
  InvalidRefError,
  RefNotFoundError,
  RepoNotFoundError,
  type Checkout,
} from '../../../src/git';
import { createBareRepo, removeBareRepo, testEnv, uniqueName, type BareRepo } from '../../harness/env';
import { gitCli, holdingProxy, quiet, remote, scratchDir, serverCredentials, throughProxy } from './helpers';

let repo: BareRepo;
let first: string;
let second: string;
let scratch: string;

// master: first -> second; release and cafe at first; tags v1 (lightweight) and v1-annotated at first.
beforeAll(async () => {
  repo = await createBareRepo(uniqueName('checkout'), {
    files: { 'README.md': 'first\n' },
    branch: 'master',
  });
  const work = scratchDir();
  try {
    await gitCli(['clone', '-q', repo.url, work]);
    first = await gitCli(['rev-parse', 'HEAD'], work);
    await gitCli(['tag', 'v1'], work);
    await gitCli(['tag', '-a', 'v1-annotated', '-m', 'annotated'], work);
    await gitCli(['branch', 'release'], work);
    await gitCli(['branch', 'cafe'], work);
    fs.writeFileSync(path.join(work, 'README.md'), 'second\n');
    await gitCli(['commit', '-q', '-am', 'second'], work);
    second = await gitCli(['rev-parse', 'HEAD'], work);
    await gitCli(['push', '-q', '--tags', 'origin', 'master', 'release', 'cafe'], work);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});

afterAll(() => removeBareRepo(repo));

beforeEach(() => {
  scratch = scratchDir();
});

afterEach(() => fs.rmSync(scratch, { recursive: true, force: true }));

function checkout(ref: string | undefined, url = repo.url): Promise<Checkout> {
  return checkoutRepo({ remote: remote(url), ref, dir: path.join(scratch, 'deployment') }, quiet);
}

const readme = (c: Checkout): string => fs.readFileSync(path.join(c.dir, 'README.md'), 'utf8');

describe('checkoutRepo', () => {
  it('clones a branch with depth 1 and checks it out on that branch', async () => {
    const result = await checkout('master');
    expect(result).toMatchObject({
      kind: 'branch',
      branch: 'master',
      commit: second,
      ref: 'master',
      url: repo.url,
    });
    expect(readme(result)).toBe('second\n');
    expect(await gitCli(['rev-list', '--count', 'HEAD'], result.dir)).toBe('1');
  });

  it("clones a branch with the clone's own two requests, looking up no refs first", async () => {
    const requests: string[] = [];
    const proxy = await holdingProxy(new URL(repo.url).origin, (req) => {
      requests.push(`${req.method} ${(req.url ?? '').replace(/^.*\.git/, '')}`);
      return false;
    });
    try {
      const result = await checkout('release', throughProxy(proxy.url, repo.url));
      expect(result).toMatchObject({ kind: 'branch', branch: 'release', commit: first });
    } finally {
      await proxy.close();
    }
    expect(requests).toEqual(['GET /info/refs?service=git-upload-pack', 'POST /git-upload-pack']);
  });

  it('checks out master when no ref or an empty one is given, as the original did', async () => {
    await expect(checkout(undefined)).resolves.toMatchObject({
      ref: 'master',
      branch: 'master',
      commit: second,
    });
    await expect(checkout('')).resolves.toMatchObject({ ref: 'master', branch: 'master' });
  });

  it('checks out another branch at its own commit', async () => {
    const result = await checkout('release');
    expect(result).toMatchObject({ kind: 'branch', branch: 'release', commit: first });
    expect(readme(result)).toBe('first\n');
  });

  it('checks out a lightweight tag as a detached commit with no branch to push to', async () => {
    const result = await checkout('v1');
    expect(result).toMatchObject({ kind: 'tag', branch: null, commit: first });
    expect(readme(result)).toBe('first\n');
  });

  it('checks out an annotated tag at the commit it tags', async () => {
    await expect(checkout('v1-annotated')).resolves.toMatchObject({
      kind: 'tag',
      branch: null,
      commit: first,
    });
  });

  it('checks out a full commit id, detached and with depth 1', async () => {
    const result = await checkout(first);
    expect(result).toMatchObject({ kind: 'commit', branch: null, commit: first });
    expect(readme(result)).toBe('first\n');
    expect(await gitCli(['rev-list', '--count', 'HEAD'], result.dir)).toBe('1');
  });

  it('expands an abbreviated commit id through a full clone', async () => {
    const result = await checkout(first.slice(0, 8));
    expect(result).toMatchObject({ kind: 'commit', branch: null, commit: first });
    expect(readme(result)).toBe('first\n');
  });

  it('prefers a branch whose name looks like an abbreviated commit id', async () => {
    await expect(checkout('cafe')).resolves.toMatchObject({ kind: 'branch', branch: 'cafe', commit: first });
  });

  it('replaces whatever the target directory held', async () => {
    const dir = path.join(scratch, 'deployment');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'leftover'), 'from an earlier run');
    await checkout('master');
    expect(fs.existsSync(path.join(dir, 'leftover'))).toBe(false);
  });

  it('fails with RefNotFoundError for a ref the repository does not have', async () => {
    const failure = checkout('no-such-branch');
    await expect(failure).rejects.toThrow(RefNotFoundError);
    await expect(failure).rejects.toThrow(`ref "no-such-branch" not found in ${repo.url}`);
  });

  it('fails with RefNotFoundError for a full commit id the server does not have', async () => {
    await expect(checkout('0123456789abcdef0123456789abcdef01234567')).rejects.toThrow(RefNotFoundError);
  });

  it('fails with RefNotFoundError for an abbreviated id that matches no commit', async () => {
    await expect(checkout('deadbeef')).rejects.toThrow(RefNotFoundError);
  });

  it('fails with InvalidRefError for a malformed ref, before contacting any server', async () => {
    await expect(checkout('--upload-pack=touch /tmp/x', 'http://127.0.0.1:1/none.git')).rejects.toThrow(
      InvalidRefError,
    );
  });

  it('fails with RepoNotFoundError for a repository the server does not have', async () => {
    const url = `${testEnv().git.baseUrl}/${uniqueName('missing')}.git`;
    const failure = checkout('master', url);
    await expect(failure).rejects.toThrow(RepoNotFoundError);
    await expect(failure).rejects.toThrow(`git clone failed: repository ${url} not found`);
  });
});

describe('checkoutRepo against the authenticated area', () => {
  const dir = (): string => path.join(scratch, 'deployment');

  it('clones with the configured credentials and never writes them to disk', async () => {
    const creds = serverCredentials();
    const result = await checkoutRepo(
      { remote: remote(repo.authUrl, creds), ref: 'master', dir: dir() },
      quiet,
    );
    expect(result.commit).toBe(second);
    const config = fs.readFileSync(path.join(result.dir, '.git/config'), 'utf8');
    expect(config).toContain(`url = ${repo.authUrl}`);
    expect(config).not.toContain(creds.password);
  });

  it('fails with GitAuthError when no credentials are configured for the host', async () => {
    const failure = checkoutRepo({ remote: remote(repo.authUrl), ref: 'master', dir: dir() }, quiet);
    await expect(failure).rejects.toThrow(GitAuthError);
    await expect(failure).rejects.toThrow('no credentials are configured for this host');
  });

  it('fails with GitAuthError when the credentials are wrong, without repeating them', async () => {
    const wrong = { username: serverCredentials().username, password: 'wrong-password-s3cr3t' };
    const failure = checkoutRepo({ remote: remote(repo.authUrl, wrong), ref: 'master', dir: dir() }, quiet);
    await expect(failure).rejects.toThrow(GitAuthError);
    await expect(failure).rejects.toThrow('the server rejected the configured credentials');
    await expect(failure).rejects.not.toThrow(/wrong-password-s3cr3t/);
  });
});
