import fs from 'node:fs';
import path from 'node:path';
import git, { Errors } from 'isomorphic-git';
import { GitPushRejectedError } from './errors';
import { KeyedMutex } from './keyed-mutex';
import type { Remote } from './remote';
import { withRemote, type GitContext } from './transport';

/** Commit author (and committer) of the deployment commits. */
export interface GitAuthor {
  readonly name: string;
  readonly email: string;
}

/**
 * Writes the rendered files into the checkout and returns the paths (relative to `dir`, `/`-separated) of
 * those it created or changed; an empty list means the checkout already matches.
 */
export type RenderStep = (dir: string) => Promise<readonly string[]>;

export interface PublishInput {
  readonly remote: Remote;
  /** The checkout to render into, as `checkoutRepo` returned it. */
  readonly checkout: { readonly dir: string; readonly branch: string | null };
  /** Source commit the rendering is for; named in the commit message. */
  readonly sourceCommit: string;
  readonly author: GitAuthor;
  /** Called once per attempt, on a checkout matching the branch tip of that attempt. */
  readonly render: RenderStep;
  /** Attempts before giving up when other pushes keep moving the branch. Default 3. */
  readonly maxAttempts?: number;
  /** Serialises publishing per repository. Default: one lock table for the whole process. */
  readonly locks?: KeyedMutex;
}

export interface PublishResult {
  /** Files the last attempt created or changed. */
  readonly changed: readonly string[];
  /** The deployment commit pushed, or `null` when nothing was committed. */
  readonly commit: string | null;
  readonly pushed: boolean;
  /**
   * Why nothing was pushed: `unchanged` (no file differs) or `detached` (the checkout is a tag or commit,
   * so there is no branch to push to; files are rendered but not committed). `null` when pushed.
   */
  readonly skipped: 'unchanged' | 'detached' | null;
  /** Renders made: one per push attempt (a detached checkout is rendered once). */
  readonly attempts: number;
}

const DEFAULT_MAX_ATTEMPTS = 3;
const processLocks = new KeyedMutex();

// Server texts that mean "someone else pushed first", as opposed to a hook or permission refusal.
const LOST_RACE =
  /non-fast-forward|fetch first|stale info|failed to (update|lock)|cannot lock ref|incorrect old value/i;

/** The commit message of a deployment commit, as the original builder wrote it. */
export function deploymentCommitMessage(sourceCommit: string): string {
  return `Deployment for commit ${sourceCommit}`;
}

function lockKey(url: string): string {
  return url.toLowerCase().replace(/\.git$/, '');
}

function rejection(err: unknown): { lostRace: boolean; detail: string } | undefined {
  if (err instanceof Errors.PushRejectedError) return { lostRace: true, detail: err.message };
  if (err instanceof Errors.GitPushError) {
    const detail = Object.values(err.data.result.refs)
      .map((r) => r.error)
      .filter((e): e is string => typeof e === 'string' && e !== '')
      .join('; ');
    return { lostRace: LOST_RACE.test(detail), detail: detail || err.message };
  }
  return undefined;
}

/** Moves the checkout to the branch's current tip on the server, dropping the local commit and files. */
async function refresh(remote: Remote, dir: string, branch: string, ctx: GitContext): Promise<void> {
  const { fetchHead } = await withRemote('fetch', remote, ctx, (io) =>
    git.fetch({ fs, ...io, dir, url: remote.url, ref: branch, singleBranch: true, depth: 1, tags: false }),
  );
  if (fetchHead === null) {
    throw new GitPushRejectedError(remote.url, branch, 'the branch vanished from the server');
  }
  await git.writeRef({ fs, dir, ref: `refs/heads/${branch}`, value: fetchHead, force: true });
  await git.checkout({ fs, dir, ref: branch, force: true });
  // Files of the abandoned commit that the new tip lacks would otherwise look "already rendered".
  for (const [filepath, head] of await git.statusMatrix({ fs, dir })) {
    if (head !== 0) continue;
    await fs.promises.rm(path.join(dir, filepath), { force: true });
    await git.remove({ fs, dir, filepath });
  }
}

async function commitAndPush(
  input: PublishInput,
  branch: string,
  changed: readonly string[],
  ctx: GitContext,
): Promise<string> {
  const { remote, author } = input;
  const dir = input.checkout.dir;
  // One add for all files and one cache for the calls: the index is read and written once, and the
  // pack the clone left is parsed once, where each call on its own would do both again.
  const cache = {};
  await git.add({ fs, dir, filepath: [...changed], cache });
  const message = deploymentCommitMessage(input.sourceCommit);
  const commit = await git.commit({ fs, dir, message, author, cache });
  await withRemote('push', remote, ctx, async (io, attempt) => {
    // A push cut off mid-way may have updated the branch before the answer was lost: repeating it then
    // would be refused as non-fast-forward by our own commit, so the server is asked first.
    if (attempt > 1) {
      const ref = `refs/heads/${branch}`;
      const refs = await git.listServerRefs({ ...io, url: remote.url, prefix: ref });
      if (refs.some((r) => r.ref === ref && r.oid === commit)) {
        ctx.log.info('the interrupted push had reached the server; not pushing again', { url: remote.url });
        return;
      }
    }
    await git.push({ fs, ...io, dir, url: remote.url, ref: branch, remoteRef: branch, cache });
  });
  return commit;
}

/**
 * Renders, commits and pushes the deployment files for one source commit, holding the repository's lock so
 * that two workflows of this process never push to the same repository at once. A push that loses a race
 * with another client re-fetches the branch, renders again and retries, up to `maxAttempts` times; then,
 * or when the server refuses for another reason, it throws `GitPushRejectedError`.
 */
export async function renderCommitPush(input: PublishInput, ctx: GitContext): Promise<PublishResult> {
  const { remote, checkout } = input;
  const branch = checkout.branch;
  if (branch === null) {
    const changed = await input.render(checkout.dir);
    return { changed, commit: null, pushed: false, skipped: 'detached', attempts: 1 };
  }
  const maxAttempts = input.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  return (input.locks ?? processLocks).run(lockKey(remote.url), ctx.signal, async () => {
    for (let attempt = 1; ; attempt++) {
      const changed = await input.render(checkout.dir);
      if (changed.length === 0) {
        return { changed, commit: null, pushed: false, skipped: 'unchanged', attempts: attempt };
      }
      try {
        const commit = await commitAndPush(input, branch, changed, ctx);
        return { changed, commit, pushed: true, skipped: null, attempts: attempt };
      } catch (err) {
        const refused = rejection(err);
        if (refused === undefined) throw err;
        if (!refused.lostRace) throw new GitPushRejectedError(remote.url, branch, refused.detail);
        if (attempt >= maxAttempts) {
          throw new GitPushRejectedError(remote.url, branch, `other pushes won ${attempt} times in a row`);
        }
        ctx.log.info('push lost a race with another client; re-rendering on the new branch tip', {
          url: remote.url,
          branch,
          attempt,
        });
        await refresh(remote, checkout.dir, branch, ctx);
      }
    }
  });
}
