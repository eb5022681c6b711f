import fs from 'node:fs';
import git from 'isomorphic-git';
import { cloneBranch, cloneEverything, expandCommit, fetchCommit } from './clone';
import { RefNotFoundError } from './errors';
import { mayNameBranch, validateRef } from './ref-name';
import { locateRef } from './refs';
import type { Remote } from './remote';
import type { GitContext } from './transport';

/** The ref checked out when a request names none, as in the original builder. */
export const DEFAULT_REF = 'master';

export interface CheckoutInput {
  readonly remote: Remote;
  /** Branch, tag, full or abbreviated commit id. Default (also for `''`): `master`. */
  readonly ref?: string | undefined;
  /** Directory to clone into; created if missing, and whatever it held is replaced. */
  readonly dir: string;
}

export interface Checkout {
  readonly dir: string;
  readonly url: string;
  /** The ref as requested (after the default was applied). */
  readonly ref: string;
  readonly kind: 'branch' | 'tag' | 'commit';
  /** Full id of the commit checked out. */
  readonly commit: string;
  /** The branch that rendered files can be pushed to; `null` for a tag or commit (detached HEAD). */
  readonly branch: string | null;
}

/**
 * Clones `remote` into `dir` and checks out `ref`, fetching as little as the ref allows (see `./clone`).
 * A plain name is cloned as a branch straight away; only when the server has no such branch is it looked up
 * as a tag or commit. Throws `InvalidRefError`, `RefNotFoundError`, `RepoNotFoundError`, `GitAuthError`,
 * `GitUnreachableError`, `GitTimeoutError`, or the caller's abort reason.
 */
export async function checkoutRepo(input: CheckoutInput, ctx: GitContext): Promise<Checkout> {
  const { remote, dir } = input;
  const ref = validateRef(input.ref || DEFAULT_REF);
  const base = { dir, url: remote.url, ref };
  if (mayNameBranch(ref)) {
    const commit = await cloneBranch(remote, dir, ref, ctx);
    if (commit !== null) return { ...base, kind: 'branch', commit, branch: ref };
  }
  const target = await locateRef(remote, ref, ctx);
  await fs.promises.rm(dir, { recursive: true, force: true });
  if (target.kind === 'branch') {
    const commit = await cloneBranch(remote, dir, target.name, ctx);
    // The branch was listed a moment ago: it has just been deleted.
    if (commit === null) throw new RefNotFoundError(remote.url, target.name);
    return { ...base, kind: 'branch', commit, branch: target.name };
  }
  let commit: string;
  if (target.kind === 'abbreviated') {
    await cloneEverything(remote, dir, ctx);
    commit = await expandCommit(remote, dir, target.prefix);
  } else {
    commit = target.commit;
    await fetchCommit(remote, dir, commit, ctx);
  }
  await git.checkout({ fs, dir, ref: commit, force: true });
  ctx.log.debug('checked out a detached commit', { url: remote.url, ref, commit });
  return { ...base, kind: target.kind === 'tag' ? 'tag' : 'commit', commit, branch: null };
}
