import { readFile } from 'node:fs/promises';
import { decode, encode, EtfDecodeError, EtfEncodeError, fromRawJson, toJson, toRawJson } from '../etf';
import { parseCommandLine, UsageError } from './options';

/** The streams a command talks through; the process's own in production, buffers in tests. */
export interface CommandIo {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

const OK = 0;
const IO_FAILURE = 1;
const BAD_INPUT = 2;

const USAGE = `usage: oa-builder etf decode [--raw] [FILE|-]
       oa-builder etf encode [FILE|-]

  decode   print the Erlang term in FILE (default: standard input) as JSON: maps as objects,
           atoms as strings, nil as null, tuples and lists as arrays, binaries as text or
           {"$binary": "<base64>"}, big integers as strings
    --raw  print the exact typed form instead, which encode reads back
  encode   read the typed form (decode --raw) and write the term's bytes to standard output

exit status: 0 done, 1 cannot read or write, 2 bad input or usage
`;

/** A usage or input problem: reported in one line, exit status 2. */
class BadInput extends Error {}

async function readSource(source: string, stdin: NodeJS.ReadableStream): Promise<Buffer> {
  if (source !== '-') return readFile(source);
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}

// Waiting for the write callback matters: the caller may exit the process right after, dropping piped output.
// A failed write also emits 'error', which would crash the process without a listener.
function write(stream: NodeJS.WritableStream, data: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.once('error', reject);
    stream.write(data, (err) => {
      if (err) return reject(err);
      stream.removeListener('error', reject);
      resolve();
    });
  });
}

function parseArgs(args: readonly string[]): { action: string; raw: boolean; source: string } | 'help' {
  const line = parseCommandLine(args, { usage: USAGE, flags: ['raw'], maxOperands: 2 });
  if (line.help) return 'help';
  const [action = '', source = '-'] = line.operands;
  if (action !== 'decode' && action !== 'encode') {
    throw new BadInput(action === '' ? 'missing command: decode or encode' : `unknown command "${action}"`);
  }
  if (line.flags.raw && action === 'encode') throw new BadInput('unknown option --raw for encode');
  return { action, raw: line.flags.raw === true, source };
}

function convert(action: string, raw: boolean, input: Buffer): string | Buffer {
  if (action === 'decode') {
    const term = decode(input);
    return `${JSON.stringify(raw ? toRawJson(term) : toJson(term), null, 2)}\n`;
  }
  let json: unknown;
  try {
    json = JSON.parse(input.toString('utf8'));
  } catch (err) {
    throw new BadInput(`not JSON: ${(err as Error).message}`);
  }
  return encode(fromRawJson(json));
}

const isBadInput = (err: unknown): err is Error =>
  err instanceof BadInput || err instanceof EtfDecodeError || err instanceof EtfEncodeError;

/**
 * `oa-builder etf decode|encode`: shows an ETF payload (an AMQP message body) as JSON, or builds one from the
 * typed JSON form to craft test messages. Resolves to the exit status; problems are reported on one line.
 */
export async function etfCommand(args: string[], io: CommandIo): Promise<number> {
  const report = (line: string): Promise<void> =>
    write(io.stderr, `oa-builder etf: ${line}\n`).catch(() => undefined);
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs(args);
  } catch (err) {
    if (err instanceof UsageError) {
      await report(err.message);
      return BAD_INPUT;
    }
    if (!(err instanceof BadInput)) throw err;
    await report(`${err.message} (see --help)`);
    return BAD_INPUT;
  }
  if (parsed === 'help') {
    await write(io.stdout, USAGE);
    return OK;
  }
  const where = parsed.source === '-' ? 'standard input' : parsed.source;
  let input: Buffer;
  try {
    input = await readSource(parsed.source, io.stdin);
  } catch (err) {
    await report(`${where}: cannot read: ${(err as Error).message}`);
    return IO_FAILURE;
  }
  let output: string | Buffer;
  try {
    output = convert(parsed.action, parsed.raw, input);
  } catch (err) {
    if (!isBadInput(err)) throw err;
    await report(`${where}: ${err.message}`);
    return BAD_INPUT;
  }
  try {
    await write(io.stdout, output);
    return OK;
  } catch (err) {
    await report(`cannot write: ${(err as Error).message}`);
    return IO_FAILURE;
  }
}
