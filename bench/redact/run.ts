/**
 * Redaction throughput on build-log-like lines, fed through the line stream as build output is, with 5, 100 and
 * 1,000 secrets known. Run from the repository root:
 *   npx tsc -p bench/tsconfig.json && node dist-bench/bench/redact/run.js [MEGABYTES]
 * Figures are MB per CPU second of the process. Goal: at least 50 MB/s with 1,000 secrets, and within 2x of the speed with 5.
 * Baseline in the same run: the former redactor, which tried every secret at every position.
 */
import { MASK, Redactor } from '../../src/redact';

const megabytes = Number(process.argv[2] ?? 8);

/** A small deterministic generator, so every run reads the same text. */
function generator(seed: number) {
  let state = seed >>> 0 || 1;
  const int = (n: number): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return Math.floor(((state >>> 0) / 2 ** 32) * n);
  };
  const text = (length: number, alphabet: string): string =>
    Array.from({ length }, () => alphabet[int(alphabet.length)]).join('');
  return { int, text };
}

const g = generator(17);
const hex = '0123456789abcdef';
const token = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const secretsOf = (count: number): string[] =>
  Array.from({ length: count }, () => g.text(24 + g.int(40), token));
const allSecrets = secretsOf(1000);

// Docker build output as the classic builder streams it, with a secret echoed now and then.
const templates = [
  (): string => `Step ${1 + g.int(20)}/20 : RUN npm ci --omit=dev && npm run build`,
  (): string => ` ---> Running in ${g.text(12, hex)}`,
  (): string => ` ---> ${g.text(12, hex)}`,
  (): string => `Removing intermediate container ${g.text(12, hex)}`,
  (): string =>
    `npm WARN deprecated ${g.text(8, 'abcdefghijklmnop')}@${g.int(9)}.${g.int(20)}.${g.int(9)}: use something else`,
  (): string => `added ${g.int(900)} packages, and audited ${g.int(900)} packages in ${g.int(30)}s`,
  (): string => `#${g.int(30)} [build ${g.int(9)}/9] COPY . /app sha256:${g.text(64, hex)}`,
  (): string => `curl -H 'Authorization: Bearer ${allSecrets[g.int(5)] ?? ''}' https://127.0.0.1/x`,
];
const lines: string[] = [];
let bytes = 0;
while (bytes < megabytes * 1e6) {
  const line = (templates[g.int(templates.length)] ?? (() => ''))();
  lines.push(line);
  bytes += Buffer.byteLength(line) + 1;
}

/** The former redactor: at every position, every secret tried in turn, longest first. */
function formerScan(secrets: readonly string[], text: string, until: number): { out: string; end: number } {
  let out = '';
  let i = 0;
  let plain = 0;
  while (i < until) {
    const found = secrets.find((s) => text.startsWith(s, i));
    if (found === undefined) {
      i += 1;
      continue;
    }
    out += text.slice(plain, i) + MASK;
    i += found.length;
    plain = i;
  }
  return { out: out + text.slice(plain, i), end: i };
}

/** The former line stream over `formerScan`, holding back `longest - 1` characters as it did. */
function formerLines(secrets: readonly string[], input: readonly string[]): number {
  const sorted = [...secrets].sort((a, b) => b.length - a.length);
  const holdBack = (sorted[0]?.length ?? 1) - 1;
  let pending = '';
  let written = 0;
  for (const line of input) {
    pending += `${line}\n`;
    const { out, end } = formerScan(sorted, pending, Math.max(pending.length - holdBack, 0));
    pending = pending.slice(end);
    written += out.length;
  }
  return written + formerScan(sorted, pending, pending.length).out.length;
}

function newLines(secrets: readonly string[], input: readonly string[]): number {
  const stream = new Redactor(secrets).lines();
  let written = 0;
  for (const line of input) for (const out of stream.push(line)) written += out.length;
  for (const out of stream.end()) written += out.length;
  return written;
}

/**
 * MB per CPU second of `redact` over `input`, best of three runs after one to warm up. CPU time rather than
 * the clock's, since on a shared machine the clock also counts the time other processes held the core.
 */
function rate(redact: (input: readonly string[]) => number, input: readonly string[]): number {
  const size = input.reduce((n, line) => n + Buffer.byteLength(line) + 1, 0);
  let best = Infinity;
  for (let run = 0; run < 4; run++) {
    const start = process.cpuUsage();
    if (redact(input) === 0) throw new Error('nothing written');
    const used = process.cpuUsage(start);
    const seconds = (used.user + used.system) / 1e6;
    if (run > 0) best = Math.min(best, seconds);
  }
  return size / 1e6 / best;
}

// The former redactor slows down with the secrets; it reads a slice sized to take about a second.
const formerSlice = (count: number): string[] => lines.slice(0, Math.ceil(lines.length / (4 * count)));

console.log(
  `node ${process.version}, ${(bytes / 1e6).toFixed(1)} MB of build output in ${lines.length} lines`,
);
console.log('secrets   now (MB/s)   former (MB/s)   now / former');
const figures = new Map<number, number>();
for (const count of [5, 100, 1000]) {
  const secrets = allSecrets.slice(0, count);
  const now = rate((input) => newLines(secrets, input), lines);
  const former = rate((input) => formerLines(secrets, input), formerSlice(count));
  figures.set(count, now);
  console.log(
    `${String(count).padStart(7)} ${now.toFixed(1).padStart(12)} ${former.toFixed(2).padStart(15)} ${(now / former).toFixed(1).padStart(14)}`,
  );
}
const at1000 = figures.get(1000) ?? 0;
const at5 = figures.get(5) ?? 0;
console.log(
  `\ngoal >= 50 MB/s with 1,000 secrets: ${at1000.toFixed(1)} MB/s, ${at1000 >= 50 ? 'met' : 'NOT met'}`,
);
console.log(
  `goal within 2x of 5 secrets: ${(at5 / at1000).toFixed(2)}x slower, ${at5 / at1000 <= 2 ? 'met' : 'NOT met'}`,
);
