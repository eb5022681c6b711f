import fs from 'node:fs';
import path from 'node:path';
import {
  checkoutRepo,
  GitPushRejectedError,
  KeyedMutex,
  renderCommitPush,
  type Checkout,
  type PublishInput,
} from '../../../src/git';
import { renderTemplates } from '../../../src/templates';
import {
  author,
  FIXTURE,
  gitCli,
  pushFromOutside,
  quiet,
  remote,
  scratchDir,
  seedFromDirectory,
  type SeededRepo,
} from './helpers';

const commitA = 'a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1';
const commitB = 'b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2';
const now = new Date(Date.UTC(2015, 9, 6, 14, 3, 12));
/** The fixture rendered for `goldenCommit` at `now`, kept beside it. */
const GOLDEN = path.join(FIXTURE, '..', 'deployment-repo-rendered');
const goldenCommit = 'c0ffee5d1f0e4a8b9c7d6e5f4a3b2c1d0e9f8a7b';

let repo: SeededRepo;
let scratch: string;

beforeEach(async () => {
  repo = await seedFromDirectory('deploy', FIXTURE);
  scratch = scratchDir();
});

afterEach(() => {
  fs.rmSync(scratch, { recursive: true, force: true });
  fs.rmSync(repo.dir, { recursive: true, force: true });
});

let checkouts = 0;
function checkout(ref = 'master'): Promise<Checkout> {
  checkouts += 1;
  return checkoutRepo(
    { remote: remote(repo.url), ref, dir: path.join(scratch, `deployment-${checkouts}`) },
    quiet,
  );
}

function renderFor(commitHash: string): PublishInput['render'] {
  return async (dir) => (await renderTemplates({ dir, commitHash, now }, quiet)).changed;
}

function publish(c: Checkout, sourceCommit: string, extra: Partial<PublishInput> = {}) {
  return renderCommitPush(
    {
      remote: remote(repo.url),
      checkout: c,
      sourceCommit,
      author,
      render: renderFor(sourceCommit),
      ...extra,
    },
    quiet,
  );
}

const serverHead = (branch = 'master'): Promise<string> => gitCli(['rev-parse', branch], repo.dir);
const serverLog = async (): Promise<string[]> =>
  (await gitCli(['log', '--format=%s', 'master'], repo.dir)).split('\n');
const serverFile = (file: string): Promise<string> => gitCli(['show', `master:${file}`], repo.dir);

describe('renderCommitPush', () => {
  it('commits the rendered files with the original message and pushes them to the branch', async () => {
    const result = await publish(await checkout(), commitA);
    expect(result).toMatchObject({ pushed: true, skipped: null, attempts: 1 });
    expect(result.changed).toEqual([
      'Dockerfile',
      'install.sh',
      'webshop@.service',
      'ecs_task_definition.json',
    ]);
    expect(result.commit).toBe(await serverHead());
    expect((await serverLog())[0]).toBe(`Deployment for commit ${commitA}`);
    expect(await gitCli(['log', '-1', '--format=%an <%ae>', 'master'], repo.dir)).toBe(
      'Builder Test <builder@test.invalid>',
    );
    expect(await serverFile('Dockerfile')).toContain(`RUN /build/install.sh ${commitA}`);
    expect(await gitCli(['ls-tree', 'master', 'install.sh'], repo.dir)).toMatch(/^100755 /);
  });

  it('pushes exactly the golden rendering of the realistic fixture, byte for byte', async () => {
    await publish(await checkout(), goldenCommit);
    for (const name of fs.readdirSync(GOLDEN)) {
      const pushed = await gitCli(['rev-parse', `master:${name}`], repo.dir);
      const golden = await gitCli(['hash-object', path.join(GOLDEN, name)]);
      expect({ name, blob: pushed }).toEqual({ name, blob: golden });
    }
  });

  it('makes no commit when a new render changes nothing', async () => {
    await publish(await checkout(), commitA);
    const head = await serverHead();
    const again = await publish(await checkout(), commitA);
    expect(again).toEqual({ changed: [], commit: null, pushed: false, skipped: 'unchanged', attempts: 1 });
    expect(await serverHead()).toBe(head);
  });

  it('renders a tag checkout but neither commits nor pushes, and says why', async () => {
    const work = scratchDir();
    await gitCli(['clone', '-q', repo.url, work]);
    await gitCli(['tag', 'v1'], work);
    await gitCli(['push', '-q', 'origin', 'v1'], work);
    fs.rmSync(work, { recursive: true, force: true });
    const head = await serverHead();
    const tagged = await checkout('v1');
    const result = await publish(tagged, commitA);
    expect(result).toMatchObject({ pushed: false, commit: null, skipped: 'detached' });
    expect(result.changed).toContain('Dockerfile');
    expect(fs.readFileSync(path.join(tagged.dir, 'Dockerfile'), 'utf8')).toContain(commitA);
    expect(await serverHead()).toBe(head);
  });

  it('lets two concurrent workflows on one repository push one after the other, both landing', async () => {
    const [first, second] = await Promise.all([checkout(), checkout()]);
    const locks = new KeyedMutex();
    const headsSeenAtFirstRender: Record<string, string> = {};
    const observed = (name: string, commitHash: string): PublishInput['render'] => {
      const render = renderFor(commitHash);
      return async (dir) => {
        headsSeenAtFirstRender[name] ??= await serverHead();
        return render(dir);
      };
    };
    const seed = await serverHead();
    const [a, b] = await Promise.all([
      publish(first, commitA, { locks, render: observed('a', commitA) }),
      publish(second, commitB, { locks, render: observed('b', commitB) }),
    ]);
    expect(a).toMatchObject({ pushed: true, attempts: 1 });
    // The second workflow only started once the first had pushed, then caught up with that push.
    expect(headsSeenAtFirstRender).toEqual({ a: seed, b: a.commit });
    expect(b).toMatchObject({ pushed: true, attempts: 2 });
    expect((await serverLog()).slice(0, 2)).toEqual([
      `Deployment for commit ${commitB}`,
      `Deployment for commit ${commitA}`,
    ]);
  });

  it('retries a push that lost a race with another client and lands on top of its commit', async () => {
    const c = await checkout();
    const outside = await pushFromOutside(repo.url, 'master', 'README.md', 'changed by someone else\n');
    const result = await publish(c, commitA);
    expect(result).toMatchObject({ pushed: true, attempts: 2 });
    expect(await gitCli(['rev-parse', 'master~1'], repo.dir)).toBe(outside);
    expect(await serverFile('README.md')).toBe('changed by someone else');
    expect(await serverFile('Dockerfile')).toContain(commitA);
    expect(result.changed).toContain('install.sh');
  });

  it('re-renders a file that the other client created in the meantime', async () => {
    const c = await checkout();
    await pushFromOutside(repo.url, 'master', 'install.sh', 'echo stale\n');
    const result = await publish(c, commitA);
    expect(result).toMatchObject({ pushed: true, attempts: 2 });
    expect(await serverFile('install.sh')).toContain(`rendered for ${commitA}`);
  });

  it('gives up with GitPushRejectedError when other pushes keep winning', async () => {
    const c = await checkout();
    let renders = 0;
    const render = renderFor(commitA);
    const unlucky: PublishInput['render'] = async (dir) => {
      renders += 1;
      const changed = await render(dir);
      await pushFromOutside(repo.url, 'master', 'README.md', `outside push ${renders}\n`);
      return changed;
    };
    const failure = publish(c, commitA, { render: unlucky, maxAttempts: 2 });
    await expect(failure).rejects.toThrow(GitPushRejectedError);
    await expect(failure).rejects.toThrow('other pushes won 2 times in a row');
    expect(renders).toBe(2);
    expect(await serverFile('README.md')).toBe('outside push 2');
  });

  it('does not retry a push the server refuses for another reason', async () => {
    const hook = path.join(repo.dir, 'hooks/pre-receive');
    fs.writeFileSync(hook, '#!/bin/sh\necho "deploys are frozen" >&2\nexit 1\n', { mode: 0o755 });
    const head = await serverHead();
    let renders = 0;
    const render = renderFor(commitA);
    const failure = publish(await checkout(), commitA, { render: (dir) => (renders++, render(dir)) });
    await expect(failure).rejects.toThrow(GitPushRejectedError);
    await expect(failure).rejects.toThrow(
      `push of branch master to ${repo.url} was rejected: pre-receive hook declined`,
    );
    expect(renders).toBe(1);
    expect(await serverHead()).toBe(head);
  });
});
