/**
 * ETF codec throughput next to JSON.parse/JSON.stringify of the same data. Run from the repository root:
 *   npx tsc -p bench/tsconfig.json && node dist-bench/bench/etf/run.js [SECONDS]
 * Goal: decode at least half as fast as JSON.parse.
 */
import { readFileSync } from 'node:fs';
import { decode, encode, mapOf, toJson, type Term } from '../../src/etf';

const seconds = Number(process.argv[2] ?? 1);
let sink = 0;

interface Rate {
  ops: number;
  mbps: number;
}

// Runs fn in growing batches until `seconds` have passed, after a warm-up of a fifth of that.
function measure(fn: () => number, bytes: number): Rate {
  const run = (budgetNs: bigint): number => {
    let ops = 0;
    let batch = 16;
    const start = process.hrtime.bigint();
    while (process.hrtime.bigint() - start < budgetNs) {
      for (let i = 0; i < batch; i++) sink += fn();
      ops += batch;
      batch = Math.min(batch * 2, 4096);
    }
    return ops / (Number(process.hrtime.bigint() - start) / 1e9);
  };
  run(BigInt(Math.round(seconds * 2e8)));
  const ops = run(BigInt(Math.round(seconds * 1e9)));
  return { ops, mbps: (ops * bytes) / 1e6 };
}

const fmt = (r: Rate): string =>
  `${Math.round(r.ops).toLocaleString('en-US').padStart(11)} ops/s ${r.mbps.toFixed(1).padStart(8)} MB/s`;

function compare(name: string, term: Term): number {
  const etf = encode(term);
  const json = JSON.stringify(toJson(term));
  const plain: unknown = JSON.parse(json);
  const jsonBytes = Buffer.byteLength(json);
  const decodeRate = measure(() => (decode(etf) === null ? 0 : 1), etf.length);
  const parseRate = measure(() => (JSON.parse(json) === null ? 0 : 1), jsonBytes);
  const encodeRate = measure(() => encode(term).length, etf.length);
  const stringifyRate = measure(() => JSON.stringify(plain).length, jsonBytes);
  const ratio = decodeRate.ops / parseRate.ops;
  console.log(`\n${name}: ${etf.length} bytes of ETF, ${jsonBytes} bytes of JSON`);
  console.log(`  etf.decode      ${fmt(decodeRate)}`);
  console.log(`  JSON.parse      ${fmt(parseRate)}`);
  console.log(`  etf.encode      ${fmt(encodeRate)}`);
  console.log(`  JSON.stringify  ${fmt(stringifyRate)}`);
  console.log(`  decode / JSON.parse     = ${ratio.toFixed(2)}`);
  console.log(`  encode / JSON.stringify = ${(encodeRate.ops / stringifyRate.ops).toFixed(2)}`);
  return ratio;
}

const request = decode(readFileSync('examples/etf/build-request.etf'));
const lines = Array.from(
  { length: 100 },
  (_, i) => `Step ${i}/100 : RUN npm ci --omit=dev && npm run build # layer ${i}`,
);
const buildLog = mapOf({ workflow_id: 'aecc9150-6c0c-11e5-8b8a-0242ac110002', logs: lines });

console.log(`node ${process.version}, ${seconds} s per figure`);
const ratio = compare('build request (examples/etf/build-request.etf)', request);
compare('build log batch (100 lines)', buildLog);
console.log(`\ngoal decode >= 0.5 x JSON.parse on the build request: ${ratio >= 0.5 ? 'met' : 'NOT met'}`);
if (sink === 0) console.log('(no work measured)');
