import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readSourceFile } from '../../../src/git';
import { nopLogger } from '../../../src/log';

// A repository whose one commit lives in a pack, as a depth-1 fetch leaves it; no server is asked for it.
let dir: string;
let commit: string;
const git = (...args: string[]): string =>
  execFileSync('git', ['-C', dir, ...args], {
    encoding: 'utf8',
    env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' },
  }).trim();

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oa-source-'));
  git('init', '-q');
  fs.writeFileSync(path.join(dir, 'openaperture.json'), '{"notifications":{}}\n');
  fs.writeFileSync(path.join(dir, 'README.md'), 'hello\n');
  git('add', '.');
  git('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '-m', 'one');
  git('repack', '-q', '-a', '-d');
  git('prune-packed');
  commit = git('rev-parse', 'HEAD');
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

afterEach(() => jest.restoreAllMocks());

describe('readSourceFile', () => {
  it('reads the pack once to find the commit and read the file from it', async () => {
    const readFile = jest.spyOn(fs.promises, 'readFile');
    const nowhere = { url: 'http://127.0.0.1:9/none.git', credentials: () => undefined, timeoutMs: 1000 };
    const text = await readSourceFile(
      { remote: nowhere, commit, dir, path: 'openaperture.json' },
      { signal: new AbortController().signal, log: nopLogger },
    );
    expect(text).toBe('{"notifications":{}}\n');
    const packReads = readFile.mock.calls.filter(
      ([file]) => typeof file === 'string' && file.endsWith('.pack'),
    );
    expect(packReads).toHaveLength(1);
  });
});
