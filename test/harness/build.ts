// For the tests that run the compiled CLI: CI builds before the tests, but a working tree may be ahead of its
// build.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './env';

const run = promisify(execFile);

/** `dist/oa-builder.js`, the bundle of the compiled CLI that bin/oa-builder.js runs; made last by the build. */
export const COMPILED_CLI = path.join(REPO_ROOT, 'dist', 'oa-builder.js');

/** The newest modification time of the sources `npm run build` compiles. */
function newestSourceMs(dir: string): number {
  return fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .reduce(
      (newest, entry) => Math.max(newest, fs.statSync(path.join(entry.parentPath, entry.name)).mtimeMs),
      0,
    );
}

/** Runs `npm run build` when a source is newer than the compiled CLI. */
export async function buildIfStale(): Promise<void> {
  const built = fs.existsSync(COMPILED_CLI) ? fs.statSync(COMPILED_CLI).mtimeMs : 0;
  if (
    built <
    Math.max(newestSourceMs(path.join(REPO_ROOT, 'src')), newestSourceMs(path.join(REPO_ROOT, 'actors')))
  )
    await run('npm', ['run', 'build'], { cwd: REPO_ROOT });
}
