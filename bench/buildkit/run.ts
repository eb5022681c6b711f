/**
 * The same multi-stage Dockerfile built with the classic builder and with BuildKit through the builder's own
 * docker adapter, cold (no cache) and warm (every step cached), on one engine. Run from the repository root
 * with the test environment up:
 *   npx tsc -p bench/tsconfig.json && eval "$(bash scripts/test-env.sh env)" && node dist-bench/bench/buildkit/run.js [ROUNDS]
 * The engine is DOCKER_HOST, RUN steps use BUILD_NETWORK (none on the test environment's bridge-less engine).
 * Each round builds with both backends, alternating which goes first; medians are printed with the ratio
 * BuildKit / classic. Goal: BuildKit no slower than classic cold (ratio <= 1.0), since its stages run in
 * parallel. Every image it tags is removed at the end.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildImage, connectEngine, engineStatus, type BuildInput, type Engine } from '../../src/docker';

const rounds = Number(process.argv[2] ?? 3);
const never = new AbortController().signal;

// Two independent stages with real work each, and a final stage that takes from both: the classic builder
// runs them one after the other, BuildKit side by side.
const DOCKERFILE = `FROM busybox:latest AS left
RUN i=0; while [ $i -lt 150000 ]; do i=$((i+1)); done; echo left $i > /left
FROM busybox:latest AS right
RUN i=0; while [ $i -lt 150000 ]; do i=$((i+1)); done; echo right $i > /right
FROM busybox:latest
COPY --from=left /left /left
COPY --from=right /right /right
RUN cat /left /right > /both
`;

type Backend = 'classic' | 'buildkit';
const tags: string[] = [];

async function timed(engine: Engine, contextDir: string, backend: Backend, cached: boolean): Promise<number> {
  const tag = `oa-bench-buildkit/${backend}:${process.pid}-${tags.length}`;
  tags.push(tag);
  const input: BuildInput = {
    engine,
    contextDir,
    tags: [tag],
    backend,
    noCache: !cached,
    ...(process.env.BUILD_NETWORK ? { networkMode: process.env.BUILD_NETWORK } : {}),
  };
  const started = process.hrtime.bigint();
  await buildImage(input, { signal: never });
  return Number(process.hrtime.bigint() - started) / 1e6;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

async function main(): Promise<void> {
  const host = process.env.DOCKER_HOST;
  if (!host) throw new Error('DOCKER_HOST is not set: eval "$(bash scripts/test-env.sh env)" first');
  const engine = await connectEngine(host, {}, { signal: never });
  const contextDir = await mkdtemp(path.join(os.tmpdir(), 'oa-bench-buildkit-'));
  const times: Record<string, number[]> = {};
  try {
    await writeFile(path.join(contextDir, 'Dockerfile'), DOCKERFILE);
    const backends: Backend[] = ['classic', 'buildkit'];
    // Untimed: loads the base image's layers into the page cache and fills each builder's cache for warm.
    for (const backend of backends) await timed(engine, contextDir, backend, true);
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? backends : [...backends].reverse();
      for (const cached of [false, true])
        for (const backend of order)
          (times[`${backend} ${cached ? 'warm' : 'cold'}`] ??= []).push(
            await timed(engine, contextDir, backend, cached),
          );
    }
  } finally {
    for (const tag of tags) await engineStatus(engine, { method: 'DELETE', path: `/images/${tag}` }, never);
    await rm(contextDir, { recursive: true, force: true });
  }
  console.log(`engine ${host}, API ${engine.apiVersion}, ${rounds} rounds, median ms:`);
  for (const [name, values] of Object.entries(times))
    console.log(
      `  ${name.padEnd(14)} ${median(values).toFixed(0).padStart(7)}   (${values.map((v) => v.toFixed(0)).join(' ')})`,
    );
  const ratio = (kind: string) =>
    median(times[`buildkit ${kind}`] ?? []) / median(times[`classic ${kind}`] ?? []);
  console.log(`  buildkit / classic cold = ${ratio('cold').toFixed(2)}`);
  console.log(`  buildkit / classic warm = ${ratio('warm').toFixed(2)}`);
  console.log(`goal buildkit <= 1.0 x classic cold: ${ratio('cold') <= 1 ? 'met' : 'NOT met'}`);
}

main().catch((err: unknown) => {
  console.error(`buildkit bench: FAILED: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
