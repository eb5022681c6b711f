// Every git network operation runs under a deadline and stops when the workflow aborts. Clone has its own
// tests in network-failures.test.ts; here a proxy holds the one request that carries each of the other
// operations (ls-remote, fetch, push), so only the deadline or the signal can end it.
import type http from 'node:http';
import path from 'node:path';
import {
  checkoutRepo,
  GitTimeoutError,
  renderCommitPush,
  resolveSourceCommit,
  type GitContext,
  type GitOperation,
} from '../../../src/git';
import { nopLogger } from '../../../src/log';
import { renderTemplates } from '../../../src/templates';
import {
  author,
  freshFixturePerTest,
  gitCli,
  holdingProxy,
  pushFromOutside,
  quiet,
  remote,
  throughProxy,
} from './helpers';

const sourceCommit = 'a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1';
const TIMEOUT_MS = 1000;

const fixture = freshFixturePerTest('deadline');

/**
 * Renders and pushes through `url`; the checkout is cloned straight from the server, and `meanwhile` runs
 * between that clone and the push.
 */
async function publishThrough(
  url: string,
  timeoutMs: number,
  ctx: GitContext,
  meanwhile: () => Promise<unknown> = () => Promise.resolve(),
): Promise<unknown> {
  const checkout = await checkoutRepo(
    { remote: remote(fixture.repo.url), ref: 'master', dir: path.join(fixture.scratch, 'deployment') },
    quiet,
  );
  await meanwhile();
  return renderCommitPush(
    {
      remote: remote(url, undefined, timeoutMs),
      checkout,
      sourceCommit,
      author,
      render: async (dir) => (await renderTemplates({ dir, commitHash: sourceCommit }, ctx)).changed,
    },
    ctx,
  );
}

interface HeldOperation {
  /** The request of this operation that the proxy holds. */
  readonly holds: (req: http.IncomingMessage) => boolean;
  /** Runs the operation against the repository as seen at `url`. */
  readonly run: (url: string, timeoutMs: number, ctx: GitContext) => Promise<unknown>;
}

const isPost = (req: http.IncomingMessage, service: string): boolean =>
  req.method === 'POST' && (req.url ?? '').endsWith(`/${service}`);

const operations: Record<Exclude<GitOperation, 'clone'>, HeldOperation> = {
  // A ref lookup starts with the advertisement of upload-pack; holding it keeps every ref from the client.
  'ls-remote': {
    holds: (req) => req.method === 'GET' && (req.url ?? '').includes('service=git-upload-pack'),
    run: (url, timeoutMs, ctx) =>
      resolveSourceCommit(
        {
          remote: remote(url, undefined, timeoutMs),
          // A full ref name is looked up; a plain branch name would be fetched straight away.
          ref: 'refs/heads/master',
          dir: path.join(fixture.scratch, 'source'),
        },
        ctx,
      ),
  },
  // Another client moves the branch first, so the push is refused and the adapter fetches the new tip.
  fetch: {
    holds: (req) => isPost(req, 'git-upload-pack'),
    run: (url, timeoutMs, ctx) =>
      publishThrough(url, timeoutMs, ctx, () =>
        pushFromOutside(fixture.repo.url, 'master', 'README.md', 'moved on\n'),
      ),
  },
  push: {
    holds: (req) => isPost(req, 'git-receive-pack'),
    run: (url, timeoutMs, ctx) => publishThrough(url, timeoutMs, ctx),
  },
};

const NAMES = Object.keys(operations) as (keyof typeof operations)[];

/**
 * Runs `body` against a proxy that holds `operation`'s request, then checks that the client dropped the held
 * connection and that no deployment commit reached the server.
 */
async function whileHeld(
  operation: keyof typeof operations,
  body: (url: string, held: Promise<void>) => Promise<void>,
): Promise<void> {
  const proxy = await holdingProxy(new URL(fixture.repo.url).origin, operations[operation].holds);
  try {
    await body(throughProxy(proxy.url, fixture.repo.url), proxy.stalled);
    await proxy.clientGone;
    expect(await gitCli(['log', '--format=%s', 'master'], fixture.repo.dir)).not.toContain(
      'Deployment for commit',
    );
  } finally {
    await proxy.close();
  }
}

describe('git network operations that hang', () => {
  it.each(NAMES)('give up a hanging %s with GitTimeoutError once its deadline passes', async (operation) => {
    await whileHeld(operation, async (url, held) => {
      let heldAt = Number.POSITIVE_INFINITY;
      void held.then(() => (heldAt = Date.now()));
      const failure = operations[operation].run(url, TIMEOUT_MS, quiet);
      await expect(failure).rejects.toThrow(GitTimeoutError);
      await expect(failure).rejects.toThrow(
        `git ${operation} from ${new URL(url).host} timed out after ${TIMEOUT_MS / 1000} s`,
      );
      expect(Date.now() - heldAt).toBeLessThan(TIMEOUT_MS + 1500);
    });
  });

  it.each(NAMES)(
    'stop a hanging %s as soon as the workflow aborts, rejecting with its reason',
    async (operation) => {
      await whileHeld(operation, async (url, held) => {
        const controller = new AbortController();
        const reason = new Error('workflow cancelled');
        const pending = operations[operation].run(url, 60_000, { signal: controller.signal, log: nopLogger });
        pending.catch(() => undefined);
        await held;
        const abortedAt = Date.now();
        controller.abort(reason);
        await expect(pending).rejects.toBe(reason);
        expect(Date.now() - abortedAt).toBeLessThan(1000);
      });
    },
  );
});
