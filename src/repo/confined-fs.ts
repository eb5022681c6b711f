import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * File access inside a checked-out repository, which is only partly trusted: git stores symbolic links,
 * so a repository can hold `Dockerfile -> /etc/shadow` or a template linking to a secret on the build host.
 * Only plain names in the repository's top directory are accepted, and the final component is opened with
 * O_NOFOLLOW, so a symlink is refused by the kernel itself rather than by an lstat that could race.
 */

/** A repository file that cannot be used as one: not a regular file, unreadable, ... */
export class RepoFileError extends Error {
  override name = 'RepoFileError';
  constructor(
    /** The name inside the repository. */
    readonly file: string,
    reason: string,
  ) {
    super(`${file}: ${reason}`);
  }
}

/** A path that would leave the repository: `..`, an absolute path, a separator, or a symbolic link. */
export class PathEscapeError extends RepoFileError {
  override name = 'PathEscapeError';
}

/** A file's text and permission bits. */
export interface RepoFile {
  readonly text: string;
  readonly mode: number;
}

/** The absolute path of top-level entry `name` of `root`; throws `PathEscapeError` for anything else. */
export function topLevelPath(root: string, name: string): string {
  if (name === '' || name === '.' || name === '..' || /[/\\\0]/.test(name) || path.isAbsolute(name)) {
    throw new PathEscapeError(
      name,
      'only plain file names in the top directory of the repository are allowed',
    );
  }
  return path.join(root, name);
}

async function openInside(
  root: string,
  name: string,
  flags: number,
  mode?: number,
): Promise<fs.FileHandle | null> {
  const file = topLevelPath(root, name);
  try {
    return await fs.open(file, flags | constants.O_NOFOLLOW, mode);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'ELOOP') {
      throw new PathEscapeError(
        name,
        'is a symbolic link, which could point outside the repository; refused',
      );
    }
    throw new RepoFileError(name, `cannot be opened (${code ?? 'unknown error'})`);
  }
}

/** Reads top-level file `name`, or returns `null` when it does not exist. */
export async function readRepoFile(root: string, name: string): Promise<RepoFile | null> {
  // O_NONBLOCK: a FIFO planted under a template's name must fail the type check below, not hang the open.
  const handle = await openInside(root, name, constants.O_RDONLY | constants.O_NONBLOCK);
  if (handle === null) return null;
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new RepoFileError(name, 'is not a regular file');
    return { text: await handle.readFile('utf8'), mode: stat.mode & 0o777 };
  } finally {
    await handle.close();
  }
}

/** Writes top-level file `name`, replacing its content; a new file gets `mode` (before the umask). */
export async function writeRepoFile(root: string, name: string, text: string, mode: number): Promise<void> {
  const handle = await openInside(
    root,
    name,
    constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC,
    mode,
  );
  if (handle === null) throw new RepoFileError(name, 'cannot be created: the repository directory is gone');
  try {
    await handle.writeFile(text, 'utf8');
  } finally {
    await handle.close();
  }
}
