import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { decode, encode, equals, mapOf, type Term } from '../../../src/etf';
import { randomTerm, Rng } from '../../unit/etf/term-generator';

const run = promisify(execFile);
const SEED = 20251125;
const COUNT = 300;

function frames(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < buf.length;) {
    const len = buf.readUInt32BE(at);
    out.push(buf.subarray(at + 4, at + 4 + len));
    at += 4 + len;
  }
  return out;
}

function framed(items: Buffer[]): Buffer {
  return Buffer.concat(
    items.flatMap((b) => {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(b.length);
      return [len, b];
    }),
  );
}

// Erlang orders a map of more than 32 keys by an internal hash; those are compared as maps, not as bytes.
const bigMap = mapOf(
  Object.fromEntries(Array.from({ length: 35 }, (_, i): [string, Term] => [`key_${i}`, i])),
);

describe('the codec against a real Erlang node', () => {
  let dir: string;
  let ours: Term[];
  let sent: Buffer[];
  let back: Buffer[];
  let theirs: Buffer[];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'etf-erl-'));
    const rng = new Rng(SEED);
    ours = Array.from({ length: COUNT }, () => randomTerm(rng, { exoticAtoms: false, hashMaps: false }));
    ours.push(bigMap);
    sent = ours.map((t) => encode(t));
    await writeFile(path.join(dir, 'ts.bin'), framed(sent));
    await run('escript', [path.join(__dirname, 'erl-peer.escript'), dir, String(SEED), String(COUNT)], {
      timeout: 120_000,
    });
    back = frames(await readFile(path.join(dir, 'ts-back.bin')));
    theirs = frames(await readFile(path.join(dir, 'erl.bin')));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('re-encodes every term Erlang writes to exactly the bytes Erlang wrote', () => {
    const plain = theirs.filter((_, i) => i % 2 === 0);
    expect(plain).toHaveLength(COUNT);
    const mismatches = plain
      .filter((bytes) => !encode(decode(bytes)).equals(bytes))
      .map((b) => b.toString('hex'));
    expect(mismatches).toEqual([]);
  });

  it("decodes Erlang's compressed terms to the same terms as the plain ones", () => {
    const mismatches = theirs
      .filter((_, i) => i % 2 === 1)
      .filter((zipped, i) => !encode(decode(zipped)).equals(theirs[i * 2] as Buffer))
      .map((b) => b.toString('hex'));
    expect(mismatches).toEqual([]);
  });

  it('writes terms that Erlang accepts and writes back byte for byte', () => {
    expect(back).toHaveLength(sent.length);
    const mismatches = sent
      .slice(0, COUNT)
      .filter((bytes, i) => !bytes.equals(back[i] as Buffer))
      .map((b) => b.toString('hex'));
    expect(mismatches).toEqual([]);
  });

  it('writes a map of more than 32 keys that Erlang reads as the same map', () => {
    const returned = back[COUNT] as Buffer;
    expect(returned.length).toBeGreaterThan(0);
    expect(equals(decode(returned), bigMap)).toBe(true);
  });
});
