// What the benches that drive the real services share.
import fs from 'node:fs';
import path from 'node:path';

/** `work` over `items`, at most `limit` at a time, results in the order of the items. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

/**
 * The test helpers find the example repositories and the seeding script relative to where their compiled
 * code lies; compiled into dist-bench, that is dist-bench itself, so the two folders are linked there.
 */
export function linkRepositoryFiles(): string {
  const compiledRoot = path.resolve(__dirname, '..');
  const repoRoot = path.resolve(compiledRoot, '..');
  for (const name of ['scripts', 'examples']) {
    const link = path.join(compiledRoot, name);
    if (fs.existsSync(link)) continue;
    fs.symlinkSync(path.relative(compiledRoot, path.join(repoRoot, name)), link);
  }
  return repoRoot;
}
