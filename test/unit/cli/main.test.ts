import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { main, type CliIo } from '../../../src/cli/main';

const EXAMPLE = path.join(__dirname, '../../../examples/etf/build-request.etf');

function run(
  argv: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks = { out: '', err: '' };
  stdout.on('data', (c: Buffer) => (chunks.out += c.toString()));
  stderr.on('data', (c: Buffer) => (chunks.err += c.toString()));
  const io: CliIo = { stdin: new PassThrough(), stdout, stderr, env };
  return main(argv, io).then((code) => ({ code, ...chunks }));
}

describe('oa-builder', () => {
  it('exits 2 with one line naming the key when a setting is wrong', async () => {
    const result = await run(['config'], { BUILDER_CONCURRENCY: 'lots' });
    expect(result.code).toBe(2);
    expect(result.err).toBe(
      'oa-builder: invalid configuration: BUILDER_CONCURRENCY must be integer (got "lots")\n',
    );
  });

  it('exits 2 naming the Manager settings a service needs', async () => {
    const result = await run(['config', '--service']);
    expect(result.code).toBe(2);
    expect(result.err).toContain('MANAGER_URL is required in service mode');
    expect(result.err.trim().split('\n')).toHaveLength(1);
  });

  it('prints the effective configuration with secrets masked', async () => {
    const result = await run(['config'], { GITHUB_OAUTH_TOKEN: 'ghp_secret_token_value' });
    expect(result.code).toBe(0);
    const shown = JSON.parse(result.out) as Record<string, unknown>;
    expect(shown.GITHUB_OAUTH_TOKEN).toBe('********');
    expect(result.out).not.toContain('ghp_secret_token_value');
  });

  it('prints the settings table for the documentation', async () => {
    const result = await run(['config', '--doc']);
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/^\| variable \| type \| default \| meaning \|/);
  });

  it('exits 2 on an unknown command and shows the usage', async () => {
    const result = await run(['frobnicate']);
    expect(result.code).toBe(2);
    expect(result.err).toContain('unknown command "frobnicate"');
    expect(result.err).toContain('usage: oa-builder');
  });

  it('exits 2 when an option is missing its value', async () => {
    const result = await run(['config', '--config']);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(
      /^oa-builder: --config needs a value \(--config VALUE or --config=VALUE\)\n\nusage: oa-builder config/,
    );
  });

  it('exits 2 on an unexpected argument, with the usage of the command', async () => {
    const result = await run(['config', 'extra']);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/^oa-builder: unexpected argument "extra"\n\nusage: oa-builder config/);
  });

  it('exits 2 on an unknown option, with the usage of the command', async () => {
    const result = await run(['config', '--frobnicate']);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/^oa-builder: unknown option --frobnicate\n\nusage: oa-builder config/);
  });

  it('exits 2 on an unknown option before any command, with the usage', async () => {
    const result = await run(['--frobnicate']);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/^oa-builder: unknown option "--frobnicate"\n\nusage: oa-builder/);
  });

  it('reads --option=value as well as --option value', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'oa-main-config-'));
    try {
      const file = path.join(dir, 'builder.json');
      writeFileSync(file, JSON.stringify({ QUEUE_NAME: 'from-the-file' }));
      for (const argv of [
        ['config', `--config=${file}`],
        ['config', '--config', file],
      ]) {
        const result = await run(argv);
        expect(result.code).toBe(0);
        expect((JSON.parse(result.out) as Record<string, unknown>).QUEUE_NAME).toBe('from-the-file');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([[['--help']], [['-h']], [['help']], [['config', '--help']], [['config', '-h']]])(
    'prints a usage on standard output and exits 0 for %p',
    async (argv) => {
      const result = await run(argv);
      expect({ code: result.code, err: result.err }).toEqual({ code: 0, err: '' });
      expect(result.out).toMatch(/^usage: oa-builder/);
    },
  );

  it('prints its version for --version', async () => {
    const { version } = JSON.parse(readFileSync(path.join(__dirname, '../../../package.json'), 'utf8')) as {
      version: string;
    };
    const result = await run(['--version']);
    expect(result).toEqual({ code: 0, out: `oa-builder ${version}\n`, err: '' });
  });
});

describe('oa-builder etf', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'oa-main-etf-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints the example build request as JSON and exits 0', async () => {
    const result = await run(['etf', 'decode', EXAMPLE]);
    expect({ code: result.code, err: result.err }).toEqual({ code: 0, err: '' });
    expect(JSON.parse(result.out)).toMatchObject({ current_step: 'build', workflow_id: null });
  });

  it('exits 2 with one line naming the file when the message is truncated', async () => {
    const file = path.join(dir, 'truncated.etf');
    const whole = readFileSync(EXAMPLE);
    writeFileSync(file, whole.subarray(0, whole.length - 10));
    const result = await run(['etf', 'decode', file]);
    expect(result.code).toBe(2);
    expect(result.out).toBe('');
    expect(result.err).toMatch(/^oa-builder etf: .*truncated\.etf: .+\n$/);
  });

  it('lists both etf commands in the usage', async () => {
    const result = await run(['help']);
    expect(result.out).toContain('etf decode [--raw] [FILE|-]');
    expect(result.out).toContain('etf encode [FILE|-]');
  });
});
