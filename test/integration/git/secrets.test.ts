// Git errors end up in the workflow's event log, which users read, and the log lines of the builder. So
// every failure a workflow can meet with credentials configured is searched for the secret in each form an
// error can be printed in (message, stack, util.inspect with causes) and in everything logged on the way.
import fs from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import {
  checkoutRepo,
  GitAuthError,
  GitPushRejectedError,
  InvalidRepoError,
  renderCommitPush,
  resolveRemote,
  resolveSourceCommit,
  type GitContext,
  type GitCredentials,
} from '../../../src/git';
import { renderTemplates } from '../../../src/templates';
import { recordingLogger } from '../../fakes/logger';
import { author, freshFixturePerTest, gitCli, remote, serverCredentials } from './helpers';

const right = serverCredentials();
const wrong: GitCredentials = { username: right.username, password: 'Wr0ng-but-still-secret-7f3a' };
const basic = (c: GitCredentials): string => Buffer.from(`${c.username}:${c.password}`).toString('base64');
const SECRETS = [right.password, wrong.password, basic(right), basic(wrong)];
const sourceCommit = 'a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1';

const fixture = freshFixturePerTest('secrets');

/** Checks out with the right credentials, then pushes a render with `pushWith`. */
async function publishWith(pushWith: GitCredentials, ctx: GitContext): Promise<unknown> {
  const checkout = await checkoutRepo(
    {
      remote: remote(fixture.repo.authUrl, right),
      ref: 'master',
      dir: path.join(fixture.scratch, 'deployment'),
    },
    ctx,
  );
  return renderCommitPush(
    {
      remote: remote(fixture.repo.authUrl, pushWith),
      checkout,
      sourceCommit,
      author,
      render: async (dir) => (await renderTemplates({ dir, commitHash: sourceCommit }, ctx)).changed,
    },
    ctx,
  );
}

type Failure = [string, (ctx: GitContext) => Promise<unknown>, new (...args: never[]) => Error, string];

const failures: Failure[] = [
  [
    'a ref lookup with a wrong password',
    (ctx) =>
      resolveSourceCommit(
        {
          remote: remote(fixture.repo.authUrl, wrong),
          ref: 'refs/heads/master',
          dir: path.join(fixture.scratch, 'source'),
        },
        ctx,
      ),
    GitAuthError,
    'git ls-remote of <auth url> failed: the server rejected the configured credentials',
  ],
  [
    'a branch fetch with a wrong password',
    (ctx) =>
      resolveSourceCommit(
        {
          remote: remote(fixture.repo.authUrl, wrong),
          ref: 'master',
          dir: path.join(fixture.scratch, 'source'),
        },
        ctx,
      ),
    GitAuthError,
    'git fetch of <auth url> failed: the server rejected the configured credentials',
  ],
  [
    'a clone by commit id with a wrong password',
    async (ctx) =>
      checkoutRepo(
        {
          remote: remote(fixture.repo.authUrl, wrong),
          ref: await gitCli(['rev-parse', 'master'], fixture.repo.dir),
          dir: path.join(fixture.scratch, 'deployment'),
        },
        ctx,
      ),
    GitAuthError,
    'git clone of <auth url> failed: the server rejected the configured credentials',
  ],
  [
    'a push with a wrong password after a clone with the right one',
    (ctx) => publishWith(wrong, ctx),
    GitAuthError,
    'git push of <auth url> failed: the server rejected the configured credentials',
  ],
  [
    'a push that a server hook refuses after accepting the right password',
    (ctx) => {
      const hook = '#!/bin/sh\necho "refused for user $REMOTE_USER" >&2\nexit 1\n';
      fs.writeFileSync(path.join(fixture.repo.dir, 'hooks/pre-receive'), hook, { mode: 0o755 });
      return publishWith(right, ctx);
    },
    GitPushRejectedError,
    'push of branch master to <auth url> was rejected: pre-receive hook declined',
  ],
  [
    'a repository URL with the password written into it',
    () => {
      const { host } = new URL(fixture.repo.authUrl);
      const access = { baseUrl: 'https://github.com/', credentials: () => undefined, timeoutMs: 1000 };
      return Promise.resolve().then(() =>
        resolveRemote(`http://${right.username}:${right.password}@${host}/auth/x.git`, access),
      );
    },
    InvalidRepoError,
    'repository URLs must not contain credentials',
  ],
];

describe('git failures with credentials configured', () => {
  it.each(failures)(
    'never show the password after %s, in the error or in the log',
    async (_name, run, type, message) => {
      const log = recordingLogger();
      const failure = run({ signal: new AbortController().signal, log });
      await expect(failure).rejects.toThrow(type);
      const err = (await failure.catch((e: unknown) => e)) as Error;
      expect(err.message).toContain(message.replace('<auth url>', fixture.repo.authUrl));
      const printed = [err.message, String(err.stack), inspect(err, { depth: 10 }), inspect(log.lines)];
      expect(SECRETS.filter((secret) => printed.some((text) => text.includes(secret)))).toEqual([]);
    },
  );
});
