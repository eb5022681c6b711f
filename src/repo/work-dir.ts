import fs from 'node:fs/promises';
import path from 'node:path';

/** A workflow's private directory. */
export interface WorkDir {
  /** Absolute path, unique to this workflow run even when two runs share a workflow id. */
  readonly path: string;
  /**
   * Removes the directory and everything in it (symbolic links are removed, not followed). Idempotent:
   * later calls return the first call's promise.
   */
  dispose(): Promise<void>;
}

/**
 * No directory could be made under the work root (unwritable, read-only, full, out of file handles, or
 * something other than a directory in its place): the replica's own fault, whatever the request, so it says
 * nothing about the request that met it.
 */
export class WorkDirError extends Error {
  override readonly name = 'WorkDirError';
  /** The system's error code (`EACCES`, `ENOSPC`...), when it had one. */
  readonly code: string | undefined;
  constructor(root: string, cause: unknown) {
    const code = (cause as NodeJS.ErrnoException | undefined)?.code;
    super(
      `cannot make a work directory under ${root}: ${(cause as Error | undefined)?.message ?? String(cause)}`,
      {
        cause,
      },
    );
    this.code = typeof code === 'string' ? code : undefined;
  }
}

const MAX_ID_LENGTH = 64;

// Workflow ids come from the message queue: whatever they hold, they must stay one harmless path component.
function safeComponent(workflowId: string): string {
  const cleaned = workflowId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, MAX_ID_LENGTH);
  return cleaned === '' ? 'workflow' : cleaned;
}

/**
 * Creates a fresh directory for one workflow under `root` (created with mode 0700 if missing), named after
 * the sanitised workflow id plus a random suffix from mkdtemp, so no two runs ever share a path. The owner
 * calls `dispose()` in a `finally` whatever happened.
 */
export async function createWorkDir(root: string, workflowId: string): Promise<WorkDir> {
  const base = path.resolve(root);
  let dir: string;
  try {
    await fs.mkdir(base, { recursive: true, mode: 0o700 });
    dir = await fs.mkdtemp(path.join(base, `${safeComponent(workflowId)}-`));
  } catch (err) {
    throw new WorkDirError(base, err);
  }
  let removal: Promise<void> | undefined;
  return {
    path: dir,
    dispose: () => (removal ??= fs.rm(dir, { recursive: true, force: true, maxRetries: 3 })),
  };
}

// What createWorkDir names its directories: the cleaned id, a dash, mkdtemp's six characters.
const WORK_DIR_NAME = /^[A-Za-z0-9_-]{1,64}-[A-Za-z0-9]{6}$/;

/**
 * The work directories a previous run of this replica left under `root` (it was killed, so its workflows never
 * cleaned up), as absolute paths. Only entries named as `createWorkDir` names them count, so a mistaken `root`
 * costs nothing else; but `root` must belong to this replica alone, as a second replica's running workflows
 * live there too otherwise.
 */
export async function staleWorkDirs(root: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(path.resolve(root));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names.filter((name) => WORK_DIR_NAME.test(name)).map((name) => path.resolve(root, name));
}

/** Removes `dirs` (what {@link staleWorkDirs} found), and returns their names. */
export async function removeWorkDirs(dirs: readonly string[]): Promise<string[]> {
  await Promise.all(dirs.map((dir) => fs.rm(dir, { recursive: true, force: true })));
  return dirs.map((dir) => path.basename(dir));
}
