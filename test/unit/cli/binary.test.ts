// The command line as an operator meets it: bin/oa-builder.js run as a process, on the bundle `npm run build`
// makes (built here when stale).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { buildIfStale } from '../../harness/build';
import { REPO_ROOT } from '../../harness/env';

const BIN = path.join(REPO_ROOT, 'bin', 'oa-builder.js');
const { version } = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
  version: string;
};

function oaBuilder(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { PATH: process.env.PATH ?? '', ...env } },
      (err, out, errOut) => resolve({ code: typeof err?.code === 'number' ? err.code : 0, out, err: errOut }),
    );
  });
}

beforeAll(() => buildIfStale(), 120_000);

describe('bin/oa-builder.js', () => {
  it('prints its version', async () => {
    expect(await oaBuilder(['--version'])).toEqual({ code: 0, out: `oa-builder ${version}\n`, err: '' });
  });

  it.each([['--help'], ['-h'], ['config'], ['run'], ['serve'], ['etf'], ['topology']])(
    'answers %s with -h and --help by a usage on standard output',
    async (command) => {
      const argv = command.startsWith('-')
        ? [[command]]
        : [
            [command, '-h'],
            [command, '--help'],
          ];
      for (const args of argv) {
        const result = await oaBuilder(args);
        expect({ args, code: result.code, err: result.err }).toEqual({ args, code: 0, err: '' });
        expect(result.out).toMatch(/^usage: oa-builder/);
      }
    },
  );

  it('refuses an unknown option of a command with exit 2 and the usage of that command', async () => {
    const result = await oaBuilder(['run', 'request.json', '--frobnicate']);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/^oa-builder: unknown option --frobnicate\n\nusage: oa-builder run REQUEST/);
  });

  it('validates the settings a service would start with, naming each bad one', async () => {
    const result = await oaBuilder(['config', '--service'], {
      HEALTH_LISTEN: 'nope',
      BUILD_HOSTS: 'ftp://x',
      DOCKER_REGISTRY_URL: 'not a url at all',
      LOG_LEVEL: 'loud',
    });
    expect(result.code).toBe(2);
    expect(result.err.trim().split('\n')).toHaveLength(1);
    for (const part of [
      'HEALTH_LISTEN must be host:port',
      'BUILD_HOSTS is not an address',
      'DOCKER_REGISTRY_URL must be an http(s) URL or host[:port]',
      'LOG_LEVEL must be equal to one of the allowed values: error, warn, info, debug',
    ])
      expect(result.err).toContain(part);
  });

  it('refuses timeouts that disagree, saying which rule and how to fix it', async () => {
    const result = await oaBuilder(['config'], { STEP_TIMEOUT_SECONDS: '1800' });
    expect(result.code).toBe(2);
    expect(result.err).toBe(
      'oa-builder: invalid configuration: STEP_TIMEOUT_SECONDS (1800) must cover a build and the push of two ' +
        'tags, BUILD_TIMEOUT_SECONDS + 2 × PUSH_TIMEOUT_SECONDS = 3000: raise STEP_TIMEOUT_SECONDS or lower the ' +
        'build or push timeout\n',
    );
  });

  it('warns on standard error of a secret too short to be masked, and still prints the configuration', async () => {
    const result = await oaBuilder(['config'], { GITHUB_OAUTH_TOKEN: 'abc' });
    expect(result.code).toBe(0);
    expect(result.err).toBe(
      'oa-builder: warning: GITHUB_OAUTH_TOKEN is shorter than 6 characters, too short to be masked in logs ' +
        'and reports: use a longer secret\n',
    );
    expect(JSON.parse(result.out)).toMatchObject({ GITHUB_OAUTH_TOKEN: '********' });
  });
});
