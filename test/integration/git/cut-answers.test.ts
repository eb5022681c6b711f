// Answers of the git server cut off midway, as when a proxy in front of it starts refusing and drops the
// connections it holds: the cut is an unavailable server, waited out within the outage budget, and never read as
// the request's own failure (a missing branch or tag, a server that does not speak git) from what did arrive.
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import {
  checkoutRepo,
  GitUnreachableError,
  RefNotFoundError,
  resolveSourceCommit,
  type Checkout,
  type GitContext,
} from '../../../src/git';
import { nopLogger } from '../../../src/log';
import type { RetryNotice } from '../../../src/outage';
import {
  cuttingProxy,
  freshFixturePerTest,
  gitCli,
  isProtocolV2Command,
  isRefAdvertisement,
  remote,
  throughProxy,
  type CutPoint,
} from './helpers';

const fixture = freshFixturePerTest('cut-answers');

/** The cut point for the first `count` requests that `picks` selects; the ones after them pass whole. */
function firstOnes(
  count: number,
  picks: (req: http.IncomingMessage) => boolean,
  at: CutPoint,
): (req: http.IncomingMessage) => CutPoint | undefined {
  let left = count;
  return (req) => {
    if (!picks(req) || left === 0) return undefined;
    left -= 1;
    return at;
  };
}

// The ref advertisement opens with `# service=git-upload-pack` and a flush-pkt; the refs follow it.
const afterServiceLine: CutPoint = (body) => body.indexOf('0000') + 4;

interface Attempted<T> {
  readonly result: T | undefined;
  readonly error: unknown;
  readonly notices: readonly RetryNotice[];
}

/** Runs `operation` through a proxy that cuts the answers `cutAt` picks, with a short outage budget. */
async function throughCuts<T>(
  cutAt: (req: http.IncomingMessage) => CutPoint | undefined,
  operation: (url: string, dir: string, ctx: GitContext) => Promise<T>,
): Promise<Attempted<T>> {
  const proxy = await cuttingProxy(new URL(fixture.repo.url).origin, cutAt);
  const notices: RetryNotice[] = [];
  const ctx: GitContext = {
    signal: new AbortController().signal,
    log: nopLogger,
    outage: {
      budgetMs: 10_000,
      initialDelayMs: 20,
      maxDelayMs: 100,
      onRetry: (n) => notices.push(n),
    },
  };
  try {
    const url = throughProxy(proxy.url, fixture.repo.url);
    const dir = path.join(fixture.scratch, 'deployment');
    const result = await operation(url, dir, ctx).then(
      (value) => ({ value, error: undefined }),
      (error: unknown) => ({ value: undefined, error }),
    );
    return { result: result.value, error: result.error, notices };
  } finally {
    await proxy.close();
  }
}

const tipOfMaster = (): Promise<string> => gitCli(['rev-parse', 'master'], fixture.repo.dir);

function expectOneRetryAfterACut(notices: readonly RetryNotice[]): void {
  expect(notices).toHaveLength(1);
  expect(notices[0]?.error).toBeInstanceOf(GitUnreachableError);
  expect(String(notices[0]?.error)).toContain('ECONNRESET');
}

describe('a clone whose ref advertisement is cut off', () => {
  it('after the service line is retried from a clean directory and checks out the branch', async () => {
    const { result, error, notices } = await throughCuts<Checkout>(
      firstOnes(1, isRefAdvertisement, afterServiceLine),
      (url, dir, ctx) => checkoutRepo({ remote: remote(url), ref: 'master', dir }, ctx),
    );
    expect(error).toBeUndefined();
    expect(result).toMatchObject({ kind: 'branch', branch: 'master', commit: await tipOfMaster() });
    expect(fs.existsSync(path.join(result?.dir ?? '', 'docker.json'))).toBe(true);
    expectOneRetryAfterACut(notices);
  });

  it('before its first byte is retried, not reported as a server that does not speak git', async () => {
    const { result, error, notices } = await throughCuts<Checkout>(
      firstOnes(1, isRefAdvertisement, 0),
      (url, dir, ctx) => checkoutRepo({ remote: remote(url), ref: 'master', dir }, ctx),
    );
    expect(error).toBeUndefined();
    expect(result).toMatchObject({ kind: 'branch', commit: await tipOfMaster() });
    expectOneRetryAfterACut(notices);
  });

  it('in a fetch of the source branch is retried and resolves the branch tip', async () => {
    const { result, error, notices } = await throughCuts(
      firstOnes(1, isRefAdvertisement, afterServiceLine),
      (url, dir, ctx) => resolveSourceCommit({ remote: remote(url), ref: 'master', dir }, ctx),
    );
    expect(error).toBeUndefined();
    expect(result).toEqual({ commit: await tipOfMaster(), resolvedBy: 'fetch' });
    expectOneRetryAfterACut(notices);
  });
});

describe('a ref listing cut off before its first ref', () => {
  it('is retried and finds the tag, not taken as a tag that does not exist', async () => {
    const work = path.join(fixture.scratch, 'tagging');
    await gitCli(['clone', '-q', fixture.repo.url, work]);
    await gitCli(['tag', 'v1'], work);
    await gitCli(['push', '-q', 'origin', 'v1'], work);
    // Both listings of the lookup (branches and tags of that name) are cut, so the tag cannot arrive by either.
    const { result, error, notices } = await throughCuts<Checkout>(
      firstOnes(2, isProtocolV2Command, 0),
      (url, dir, ctx) => checkoutRepo({ remote: remote(url), ref: 'v1', dir }, ctx),
    );
    expect(error).toBeUndefined();
    expect(result).toMatchObject({ kind: 'tag', branch: null, commit: await tipOfMaster() });
    expectOneRetryAfterACut(notices);
  });
});

describe('a branch that does not exist, through the same proxy with nothing cut', () => {
  it('still fails at once with the ref lookup message and no retry', async () => {
    const { error, notices } = await throughCuts<Checkout>(
      () => undefined,
      (url, dir, ctx) => checkoutRepo({ remote: remote(url), ref: 'no-such-branch', dir }, ctx),
    );
    expect(error).toBeInstanceOf(RefNotFoundError);
    expect(String(error)).toContain(`ref "no-such-branch" not found in`);
    expect(notices).toHaveLength(0);
  });
});
