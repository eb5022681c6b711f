import fs from 'node:fs';
import git, { Errors } from 'isomorphic-git';
import { cloneBranch, cloneEverything, expandCommit, fetchCommit } from './clone';
import { mayNameBranch, validateRef } from './ref-name';
import { locateRef } from './refs';
import type { Remote } from './remote';
import type { GitContext } from './transport';

/**
 * The source repository is never built from: the builder only needs the commit id a ref stands for (it
 * becomes the image tag and `commit_hash`) and one small file, `openaperture.json`. So a branch is fetched at
 * depth 1 with nothing checked out, which answers both; other refs are resolved with an ls-remote, and the
 * file read from a depth-1 fetch of that one commit.
 */

export interface SourceCommitInput {
  readonly remote: Remote;
  /** Branch, tag, full or abbreviated commit id. */
  readonly ref: string;
  /** Where a branch tip (or, for an abbreviated commit id, the whole repository) is fetched to. */
  readonly dir: string;
}

export interface SourceCommit {
  /** Full commit id. */
  readonly commit: string;
  /**
   * `as-is`: the ref already was a full id; `fetch`: the branch tip was fetched into `dir`; `ls-remote`:
   * looked up on the server; `clone`: expanded locally.
   */
  readonly resolvedBy: 'as-is' | 'fetch' | 'ls-remote' | 'clone';
}

/**
 * Resolves a source ref to its full commit id, leaving the commit in `dir` when it had to fetch it (which
 * {@link readSourceFile} then reuses). Throws as `locateRef` does, and `RefNotFoundError`.
 */
export async function resolveSourceCommit(input: SourceCommitInput, ctx: GitContext): Promise<SourceCommit> {
  const ref = validateRef(input.ref);
  if (mayNameBranch(ref)) {
    const commit = await cloneBranch(input.remote, input.dir, ref, ctx, false);
    if (commit !== null) return { commit, resolvedBy: 'fetch' };
  }
  const target = await locateRef(input.remote, ref, ctx);
  switch (target.kind) {
    case 'abbreviated':
      await cloneEverything(input.remote, input.dir, ctx);
      return { commit: await expandCommit(input.remote, input.dir, target.prefix), resolvedBy: 'clone' };
    case 'commit':
      return { commit: target.commit, resolvedBy: target.commit === ref ? 'as-is' : 'ls-remote' };
    case 'branch':
    case 'tag':
      return { commit: target.commit, resolvedBy: 'ls-remote' };
  }
}

export interface SourceFileInput {
  readonly remote: Remote;
  /** Full commit id, as `resolveSourceCommit` returns it. */
  readonly commit: string;
  /** Where the commit is fetched to; reused as is when it already holds the commit. */
  readonly dir: string;
  /** Path of the file inside the repository, `/`-separated, e.g. `openaperture.json`. */
  readonly path: string;
}

/** The text of one file at one commit, or `null` when the commit has no such file. */
export async function readSourceFile(input: SourceFileInput, ctx: GitContext): Promise<string | null> {
  // Finding the commit and reading the file both read the pack: one cache parses its index, reads it and
  // checks its checksum once. A depth-1 pack holds the whole tree, so that is the size of the source.
  const cache = {};
  await fetchCommit(input.remote, input.dir, input.commit, ctx, cache);
  try {
    const { blob } = await git.readBlob({
      fs,
      dir: input.dir,
      oid: input.commit,
      filepath: input.path,
      cache,
    });
    return Buffer.from(blob).toString('utf8');
  } catch (err) {
    // A directory of that name is as absent as no entry at all: there is no file to read.
    if (err instanceof Errors.NotFoundError || err instanceof Errors.ObjectTypeError) return null;
    throw err;
  }
}
