// bin/load-bundle.js: the bundle runs from V8's code cache when the build left one that belongs to it, and
// from its source otherwise. Each case runs in a child process, where V8 tells whether it took the cache.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildIfStale, COMPILED_CLI } from '../../harness/build';
import { REPO_ROOT } from '../../harness/env';

const run = promisify(execFile);
const LOADER = path.join(REPO_ROOT, 'bin', 'load-bundle.js');

// Loads BUNDLE through the loader, as bin/oa-builder.js does, and prints its exports and what V8 made of the
// cache it was given.
const LOAD = `
  require('node:v8').setFlagsFromString('--liftoff-only');
  const vm = require('node:vm');
  const Script = vm.Script;
  let seen = { given: false, rejected: null };
  vm.Script = function (source, options) {
    const script = new Script(source, options);
    seen = { given: options.cachedData !== undefined, rejected: options.cachedData ? script.cachedDataRejected : null };
    return script;
  };
  const loaded = require(process.env.LOADER).loadBundle({ bundle: process.env.BUNDLE, writeCache: process.env.WRITE === '1' });
  process.stdout.write(JSON.stringify({ ...seen, exports: Object.keys(loaded) }));
`;

async function load(
  bundle: string,
  write = false,
): Promise<{ given: boolean; rejected: boolean | null; exports: string[] }> {
  const { stdout } = await run(process.execPath, ['-e', LOAD], {
    env: { ...process.env, LOADER, BUNDLE: bundle, WRITE: write ? '1' : '0' },
  });
  return JSON.parse(stdout) as { given: boolean; rejected: boolean | null; exports: string[] };
}

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oa-code-cache-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('the bundle loader', () => {
  it('runs the built CLI from the code cache the build wrote for it, which V8 accepts', async () => {
    await buildIfStale();
    expect(fs.existsSync(`${COMPILED_CLI}.cache`)).toBe(true);
    expect(await load(COMPILED_CLI)).toEqual({
      given: true,
      rejected: false,
      exports: expect.arrayContaining(['main']) as unknown,
    });
  }, 120_000);

  it('writes a cache that the next load of the same bundle is given', async () => {
    const bundle = path.join(dir, 'bundle.js');
    fs.writeFileSync(bundle, 'exports.first = () => 1;\n');
    expect(await load(bundle, true)).toEqual({ given: false, rejected: null, exports: ['first'] });
    expect(await load(bundle)).toEqual({ given: true, rejected: false, exports: ['first'] });
  });

  it('compiles from source a bundle that changed since its cache was written, even at the same length', async () => {
    const bundle = path.join(dir, 'bundle.js');
    fs.writeFileSync(bundle, 'exports.first = () => 1;\n');
    await load(bundle, true);
    fs.writeFileSync(bundle, 'exports.other = () => 2;\n');
    expect(await load(bundle)).toEqual({ given: false, rejected: null, exports: ['other'] });
  });

  it('compiles from source when there is no cache', async () => {
    const bundle = path.join(dir, 'bundle.js');
    fs.writeFileSync(bundle, 'module.exports = { only: true };\n');
    expect(await load(bundle)).toEqual({ given: false, rejected: null, exports: ['only'] });
  });
});
