import fs from 'node:fs';
import git, { Errors } from 'isomorphic-git';
import { RefNotFoundError } from './errors';
import type { Remote } from './remote';
import { withRemote, type GitContext } from './transport';

/**
 * Clone strategies, cheapest first:
 * - a branch: depth 1, that branch only, no tags;
 * - a commit (also a tag, through the commit it points to): depth 1 by commit id, which GitHub and
 *   `git http-backend` allow for commits reachable from a ref; a server that refuses gets a full clone;
 * - an abbreviated commit id: a full clone of every branch and tag, because only local objects can be
 *   searched by prefix.
 */

async function hasCommit(dir: string, oid: string, cache: object): Promise<boolean> {
  try {
    await git.readCommit({ fs, dir, oid, cache });
    return true;
  } catch {
    return false;
  }
}

/** Empties `dir` before each clone attempt, so that a retry does not meet what a broken one left. */
function empty(dir: string): Promise<void> {
  return fs.promises.rm(dir, { recursive: true, force: true });
}

/**
 * Depth-1 clone of one branch, that branch only, no tags, checked out on it unless `checkout` is false.
 * Resolves with the branch's commit, or `null` when the server has no such branch (nothing is left in `dir`
 * then). The branch is named in full, so the clone's own two requests are all it costs: a ref lookup first
 * would add two round trips to every checkout of a branch, the usual case.
 */
export async function cloneBranch(
  remote: Remote,
  dir: string,
  branch: string,
  ctx: GitContext,
  checkout = true,
): Promise<string | null> {
  const ref = `refs/heads/${branch}`;
  try {
    await withRemote(checkout ? 'clone' : 'fetch', remote, ctx, async (io) => {
      await empty(dir);
      await git.clone({
        fs,
        ...io,
        dir,
        url: remote.url,
        ref,
        singleBranch: true,
        depth: 1,
        noTags: true,
        noCheckout: !checkout,
      });
    });
  } catch (err) {
    // The server's refs lack the branch; any other missing object is a broken answer, not a missing branch.
    if (err instanceof Errors.NotFoundError && err.data.what === ref) return null;
    throw err;
  }
  return git.resolveRef({ fs, dir, ref: 'HEAD' });
}

/** Clone of every branch and tag with full history, nothing checked out. */
export async function cloneEverything(remote: Remote, dir: string, ctx: GitContext): Promise<void> {
  await withRemote('clone', remote, ctx, async (io) => {
    await empty(dir);
    await git.clone({ fs, ...io, dir, url: remote.url, noCheckout: true });
  });
}

/**
 * Makes `commit` available in `dir` (cloning if needed) without checking it out. Throws `RefNotFoundError`
 * when the server does not have it reachable from any branch or tag. `cache` is isomorphic-git's: the caller
 * that reads from the commit next passes the same one, so the pack is read, verified and indexed once.
 */
export async function fetchCommit(
  remote: Remote,
  dir: string,
  commit: string,
  ctx: GitContext,
  cache: object = {},
): Promise<void> {
  if (await hasCommit(dir, commit, cache)) return;
  try {
    await withRemote('clone', remote, ctx, async (io) => {
      await empty(dir);
      await git.clone({
        fs,
        ...io,
        dir,
        url: remote.url,
        ref: commit,
        singleBranch: true,
        depth: 1,
        noTags: true,
        noCheckout: true,
      });
    });
    if (await hasCommit(dir, commit, cache)) return;
  } catch (err) {
    // The server answered without the commit ("not our ref"); the clone noticed when pointing HEAD at it.
    if (!(err instanceof Errors.CommitNotFetchedError)) throw err;
  }
  ctx.log.info('server refused a shallow fetch by commit id; cloning the whole repository', {
    url: remote.url,
  });
  await cloneEverything(remote, dir, ctx);
  if (!(await hasCommit(dir, commit, cache))) {
    throw new RefNotFoundError(remote.url, commit, 'no such commit reachable from a branch or tag');
  }
}

/** The full commit id that `prefix` abbreviates among the objects of `dir`. */
export async function expandCommit(remote: Remote, dir: string, prefix: string): Promise<string> {
  try {
    const oid = await git.expandOid({ fs, dir, oid: prefix });
    await git.readCommit({ fs, dir, oid });
    return oid;
  } catch (err) {
    if (err instanceof Errors.AmbiguousError) {
      throw new RefNotFoundError(remote.url, prefix, 'the abbreviated commit id is ambiguous');
    }
    if (err instanceof Errors.NotFoundError || err instanceof Errors.ObjectTypeError) {
      throw new RefNotFoundError(remote.url, prefix);
    }
    throw err;
  }
}
