import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { etfCommand } from '../../../src/cli/etf';
import { atom, encode, float, mapOf, tuple } from '../../../src/etf';

const EXAMPLE = path.join(__dirname, '../../../examples/etf/build-request.etf');

function sink(fail = false): { stream: Writable; bytes: () => Buffer; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (fail) return done(new Error('EPIPE'));
      chunks.push(Buffer.from(chunk));
      done();
    },
  });
  return { stream, bytes: () => Buffer.concat(chunks), text: () => Buffer.concat(chunks).toString('utf8') };
}

async function run(args: string[], stdin: Buffer = Buffer.alloc(0), failingStdout = false) {
  const out = sink(failingStdout);
  const err = sink();
  const code = await etfCommand(args, {
    stdin: Readable.from([stdin]),
    stdout: out.stream,
    stderr: err.stream,
  });
  return { code, stdout: out.bytes(), text: out.text(), stderr: err.text() };
}

describe('oa-builder etf', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'etf-cli-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints a build request as JSON for operators', async () => {
    const { code, text, stderr } = await run(['decode', EXAMPLE]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(text)).toMatchObject({
      current_step: 'build',
      workflow_id: null,
      workflow_start_time: [1444, 140992, 115862],
      notifications_config: { hipchat: { room_names: ['Deployments'] } },
    });
  });

  it('reads standard input when the file is "-" or missing', async () => {
    const bytes = encode(mapOf({ a: 1 }));
    expect((await run(['decode', '-'], bytes)).text).toBe('{\n  "a": 1\n}\n');
    expect((await run(['decode'], bytes)).text).toBe('{\n  "a": 1\n}\n');
  });

  it('shows bytes that are not UTF-8 as base64 and big integers as strings', async () => {
    const { text } = await run(['decode'], encode([Uint8Array.of(0xff), 2n ** 64n]));
    expect(JSON.parse(text)).toEqual([{ $binary: '/w==' }, '18446744073709551616']);
  });

  it('prints the typed form with --raw, which encode turns back into the same bytes', async () => {
    const original = readFileSync(EXAMPLE);
    const raw = await run(['decode', '--raw', EXAMPLE]);
    expect(raw.code).toBe(0);
    const file = path.join(dir, 'request.json');
    writeFileSync(file, raw.text);
    const back = await run(['encode', file]);
    expect(back.code).toBe(0);
    expect(back.stdout.equals(original)).toBe(true);
  });

  it('encodes the typed form from standard input', async () => {
    const term = tuple(atom('ok'), float(1.5), null);
    const json = Buffer.from(
      JSON.stringify({
        kind: 'tuple',
        items: [{ kind: 'atom', name: 'ok' }, { kind: 'float', value: 1.5 }, null],
      }),
    );
    expect((await run(['encode'], json)).stdout.equals(encode(term))).toBe(true);
  });

  it('refuses bytes that are not a term with one line naming the byte offset', async () => {
    const { code, stdout, stderr } = await run(['decode'], Buffer.from([131, 109, 0, 0, 0, 9, 97]));
    expect(code).toBe(2);
    expect(stdout.length).toBe(0);
    expect(stderr).toBe('oa-builder etf: standard input: length 9 exceeds the 1 byte(s) left at byte 2\n');
  });

  it('refuses input to encode that is not JSON', async () => {
    const { code, stderr } = await run(['encode'], Buffer.from('{'));
    expect(code).toBe(2);
    expect(stderr).toMatch(/^oa-builder etf: standard input: not JSON: .+\n$/);
  });

  it('refuses JSON that is not the typed form, naming where', async () => {
    const { code, stderr } = await run(['encode'], Buffer.from('[1, {"kind": "pid"}]'));
    expect(code).toBe(2);
    expect(stderr).toBe(
      'oa-builder etf: standard input: $[1].kind: must be atom, float, bigint, binary, tuple, improper or map\n',
    );
  });

  it('refuses a typed form that has no term, such as a too long atom', async () => {
    const { code, stderr } = await run(
      ['encode'],
      Buffer.from(JSON.stringify({ kind: 'atom', name: 'a'.repeat(256) })),
    );
    expect(code).toBe(2);
    expect(stderr).toContain('atom longer than 255 characters');
  });

  it('exits 1 when the file cannot be read', async () => {
    const { code, stderr } = await run(['decode', path.join(dir, 'missing.etf')]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/missing\.etf: cannot read: ENOENT/);
  });

  it('exits 1 when the output cannot be written', async () => {
    const { code, stderr } = await run(['decode', EXAMPLE], undefined, true);
    expect(code).toBe(1);
    expect(stderr).toBe('oa-builder etf: cannot write: EPIPE\n');
  });

  it.each([
    [[], 'missing command: decode or encode'],
    [['show'], 'unknown command "show"'],
    [['encode', '--raw'], 'unknown option --raw for encode'],
  ])('refuses the arguments %p', async (args, message) => {
    const { code, stderr } = await run(args);
    expect(code).toBe(2);
    expect(stderr).toBe(`oa-builder etf: ${message} (see --help)\n`);
  });

  it.each([
    [['decode', '--pretty'], 'unknown option --pretty'],
    [['decode', 'a', 'b'], 'unexpected argument "b"'],
  ])('refuses the arguments %p with its usage', async (args, message) => {
    const { code, stderr } = await run(args);
    expect(code).toBe(2);
    expect(stderr).toMatch(new RegExp(`^oa-builder etf: ${message}\n\nusage: oa-builder etf decode`));
  });

  it('prints its usage for -h after a command', async () => {
    const { code, text } = await run(['decode', '-h']);
    expect(code).toBe(0);
    expect(text).toContain('usage: oa-builder etf decode [--raw] [FILE|-]');
  });

  it('prints its usage for --help', async () => {
    const { code, text } = await run(['--help']);
    expect(code).toBe(0);
    expect(text).toContain('usage: oa-builder etf decode [--raw] [FILE|-]');
  });
});
