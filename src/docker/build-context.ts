import fs from 'node:fs/promises';
import path from 'node:path';
import dockerignore, { type Ignore } from '@balena/dockerignore';
import tar from 'tar-fs';
import { DockerBuildError } from './errors';

const DOCKERIGNORE = '.dockerignore';

function toPosix(relative: string): string {
  return relative.split(path.sep).join('/');
}

function withAncestors(included: Set<string>, entry: string): void {
  const parts = entry.split('/');
  for (let i = 1; i <= parts.length; i++) included.add(parts.slice(0, i).join('/'));
}

async function readPatterns(dir: string): Promise<string[]> {
  try {
    return (await fs.readFile(path.join(dir, DOCKERIGNORE), 'utf8')).split(/\r?\n/);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

// Walks without following symlinks: a link is sent as a link, so nothing outside the context is ever read.
// An ignored directory is still walked when some `!` pattern may re-include something below it.
async function walk(
  dir: string,
  relative: string,
  ig: Ignore,
  descendIgnored: boolean,
  out: Set<string>,
): Promise<void> {
  for (const entry of await fs.readdir(path.join(dir, relative), { withFileTypes: true })) {
    const name = relative ? `${relative}/${entry.name}` : entry.name;
    const ignored = ig.ignores(name);
    if (entry.isDirectory()) {
      if (!ignored) withAncestors(out, name);
      if (!ignored || descendIgnored) await walk(dir, name, ig, descendIgnored, out);
    } else if ((entry.isFile() || entry.isSymbolicLink()) && !ignored) {
      withAncestors(out, name);
    }
  }
}

async function selectEntries(dir: string): Promise<{ included: Set<string>; patterns: string[] }> {
  const included = new Set<string>();
  try {
    const patterns = await readPatterns(dir);
    const hasExceptions = patterns.some((p) => p.trim().startsWith('!'));
    await walk(dir, '', dockerignore().add(patterns), hasExceptions, included);
    return { included, patterns };
  } catch (err) {
    throw new DockerBuildError(`the build context could not be read: ${(err as Error).message}`);
  }
}

function dockerfileEntry(dockerfile: string): string {
  const normalized = path.posix.normalize(dockerfile.replace(/\\/g, '/'));
  if (path.posix.isAbsolute(normalized) || normalized === '..' || normalized.startsWith('../')) {
    throw new DockerBuildError(`the Dockerfile path ${dockerfile} leaves the build context`);
  }
  return normalized;
}

/**
 * The build context of `dir` as a tar stream, as `docker build` would send it: entries matched by the
 * context's `.dockerignore` are left out, except the Dockerfile and the `.dockerignore` itself, which the
 * daemon needs and which are always sent. Symlinks are sent as symlinks and never followed. Owners are sent
 * as root (0:0), as the docker CLI does, so the host's uids do not leak into images. Throws {@link
 * DockerBuildError} when the Dockerfile is not a regular file inside the context, or the context cannot be
 * read.
 */
export async function buildContext(dir: string, dockerfile: string): Promise<NodeJS.ReadableStream> {
  const entry = dockerfileEntry(dockerfile);
  const stat = await fs.lstat(path.join(dir, entry)).catch(() => undefined);
  if (!stat?.isFile()) throw new DockerBuildError(`the build context has no Dockerfile at ${entry}`);
  const { included, patterns } = await selectEntries(dir);
  withAncestors(included, entry);
  if (patterns.length > 0) included.add(DOCKERIGNORE);
  const pack = tar.pack(dir, {
    ignore: (name) => !included.has(toPosix(path.relative(dir, name))),
    map: (header) => ({ ...header, uid: 0, gid: 0 }),
  });
  // tar-stream packs are streamx streams: they lack a few rarely used Node stream methods in their types, but
  // pipe() and 'error', all that docker-modem and tests use, behave as Node's.
  return pack as unknown as NodeJS.ReadableStream;
}
