import { deflateSync } from 'node:zlib';
import { decode, encode, EtfDecodeError } from '../../../src/etf';
import { randomTerm, Rng } from './term-generator';

const ITERATIONS = 4000;

// The only acceptable outcomes: a term, or an EtfDecodeError. Anything else is returned as a finding.
function outcome(bytes: Buffer): string | undefined {
  try {
    decode(bytes, { maxInflatedBytes: 1 << 20 });
    return undefined;
  } catch (err) {
    return err instanceof EtfDecodeError ? undefined : `${String(err)} for ${bytes.toString('hex')}`;
  }
}

function mutate(rng: Rng, bytes: Buffer): Buffer {
  const b = Buffer.from(bytes);
  switch (rng.int(0, 3)) {
    case 0:
      for (let n = rng.int(1, 4); n > 0; n--) b[rng.int(0, b.length - 1)] = rng.int(0, 255);
      return b;
    case 1:
      return b.subarray(0, rng.int(0, b.length - 1));
    case 2: {
      const at = rng.int(1, b.length);
      return Buffer.concat([b.subarray(0, at), rng.bytes(rng.int(1, 8)), b.subarray(at)]);
    }
    default: {
      // Lengths are where a decoder is most likely to trust the input too much.
      const at = rng.int(1, Math.max(1, b.length - 4));
      b.writeUInt32BE(rng.chance(0.5) ? 0xffffffff : rng.int(0, 0xffff), Math.min(at, b.length - 4));
      return b;
    }
  }
}

describe('decoding hostile bytes', () => {
  it('throws only EtfDecodeError for random bytes', () => {
    const rng = new Rng(99);
    const findings: string[] = [];
    for (let i = 0; i < ITERATIONS; i++) {
      const bytes = Buffer.concat([Buffer.from([131]), rng.bytes(rng.int(0, 64))]);
      const found = outcome(bytes);
      if (found) findings.push(found);
    }
    expect(findings).toEqual([]);
  });

  it('throws only EtfDecodeError for mutated valid terms', () => {
    const rng = new Rng(100);
    const findings: string[] = [];
    for (let i = 0; i < ITERATIONS; i++) {
      const bytes = encode(randomTerm(rng, { depth: 3 }));
      if (bytes.length < 6) continue;
      const found = outcome(mutate(rng, bytes));
      if (found) findings.push(found);
    }
    expect(findings).toEqual([]);
  });

  it('throws only EtfDecodeError for mutated compressed terms', () => {
    const rng = new Rng(101);
    const findings: string[] = [];
    for (let i = 0; i < ITERATIONS / 4; i++) {
      const inner = encode(randomTerm(rng, { depth: 3 })).subarray(1);
      const head = Buffer.from([131, 80, 0, 0, 0, 0]);
      head.writeUInt32BE(inner.length, 2);
      const found = outcome(mutate(rng, Buffer.concat([head, deflateSync(inner)])));
      if (found) findings.push(found);
    }
    expect(findings).toEqual([]);
  });
});
