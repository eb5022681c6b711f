// The adapters in the order a config milestone uses them, with the work directory owned the way the
// workflow actor will own it: created first, disposed in `finally` whatever happened.
import fs from 'node:fs';
import path from 'node:path';
import {
  checkoutRepo,
  readSourceFile,
  renderCommitPush,
  resolveSourceCommit,
  type GitContext,
} from '../../../src/git';
import {
  createWorkDir,
  notificationsConfig,
  OPENAPERTURE_FILE,
  readDockerSettings,
  readEcsTaskDefinition,
  readEtcdToken,
  readUnits,
  selectSourceRepo,
} from '../../../src/repo';
import { renderTemplates, TemplateError } from '../../../src/templates';
import { REPO_ROOT } from '../../harness/env';
import {
  author,
  FIXTURE,
  gitCli,
  quiet,
  remote,
  scratchDir,
  seedFromDirectory,
  type SeededRepo,
} from './helpers';

let deployment: SeededRepo;
let source: SeededRepo;
let workRoot: string;

beforeEach(async () => {
  deployment = await seedFromDirectory('workflow-deploy', FIXTURE);
  source = await seedFromDirectory('workflow-source', path.join(REPO_ROOT, 'examples/repos/hello'));
  workRoot = scratchDir('oa-work-root-');
});

afterEach(() => {
  for (const dir of [deployment.dir, source.dir, workRoot]) fs.rmSync(dir, { recursive: true, force: true });
});

/** Runs a config milestone for `workflowId` and returns what the orchestrator reply needs. */
async function configMilestone(workflowId: string, ctx: GitContext) {
  const work = await createWorkDir(workRoot, workflowId);
  try {
    const dir = path.join(work.path, 'deployment');
    const checkout = await checkoutRepo({ remote: remote(deployment.url), ref: 'master', dir }, ctx);
    const docker = await readDockerSettings(dir);
    const etcdToken = await readEtcdToken(dir, ['build', 'deploy']);
    const spec = await selectSourceRepo(dir, { source_repo: source.url, source_repo_git_ref: 'master' });
    if (spec === null) throw new Error('the fixture names a source repository');
    const sourceDir = path.join(work.path, 'source');
    const { commit } = await resolveSourceCommit(
      { remote: remote(spec.repo), ref: spec.ref, dir: sourceDir },
      ctx,
    );
    const info = await readSourceFile(
      { remote: remote(spec.repo), commit, dir: sourceDir, path: OPENAPERTURE_FILE },
      ctx,
    );
    const published = await renderCommitPush(
      {
        remote: remote(deployment.url),
        checkout,
        sourceCommit: commit,
        author,
        render: async (d) => (await renderTemplates({ dir: d, commitHash: commit }, ctx)).changed,
      },
      ctx,
    );
    return {
      workDir: work.path,
      commit,
      docker,
      etcdToken,
      notifications: notificationsConfig(info, ctx.log),
      published,
      units: await readUnits(dir),
      ecsTaskDefinition: await readEcsTaskDefinition(dir),
    };
  } finally {
    await work.dispose();
  }
}

describe('a config milestone built from the adapters', () => {
  it('returns plain data for the orchestrator and leaves no work directory behind', async () => {
    const sourceHead = await gitCli(['rev-parse', 'master'], source.dir);
    const result = await configMilestone('wf-success', quiet);
    expect(result.commit).toBe(sourceHead);
    expect(result.docker.dockerUrl).toBe('registry.example.com/shop/webshop');
    expect(result.etcdToken).toBe('6e0b5a1f2c3d4e5f60718293a4b5c6d7');
    expect(result.notifications).toMatchObject({ hipchat: { room_names: ['builds'] } });
    expect(result.published).toMatchObject({ pushed: true, attempts: 1 });
    expect(result.units.map((u) => u.name)).toEqual(['webshop@.service']);
    expect(result.units[0]?.options).toContainEqual({
      section: 'Service',
      name: 'ExecStartPre',
      value: `/usr/bin/docker pull registry.example.com/shop/webshop:${sourceHead}`,
    });
    expect(JSON.parse(result.ecsTaskDefinition ?? 'null')).toMatchObject({ family: 'webshop' });
    expect(JSON.parse(JSON.stringify(result))).toEqual(result);
    expect(fs.existsSync(result.workDir)).toBe(false);
    expect(fs.readdirSync(workRoot)).toEqual([]);
  });

  it('leaves no work directory behind when a template is broken, and pushes nothing', async () => {
    const work = scratchDir();
    await gitCli(['clone', '-q', deployment.url, work]);
    fs.appendFileSync(path.join(work, 'Dockerfile.eex'), 'LABEL version=<%= app_version %>\n');
    await gitCli(['commit', '-q', '-am', 'use an unknown variable'], work);
    await gitCli(['push', '-q', 'origin', 'master'], work);
    fs.rmSync(work, { recursive: true, force: true });
    const head = await gitCli(['rev-parse', 'master'], deployment.dir);

    const failure = configMilestone('wf-failure', quiet);
    await expect(failure).rejects.toThrow(TemplateError);
    await expect(failure).rejects.toThrow('Dockerfile.eex:10: undefined variable app_version');
    expect(fs.readdirSync(workRoot)).toEqual([]);
    expect(await gitCli(['rev-parse', 'master'], deployment.dir)).toBe(head);
  });

  it('leaves no work directory behind when the workflow is cancelled', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      configMilestone('wf-cancelled', { ...quiet, signal: controller.signal }),
    ).rejects.toMatchObject({
      name: 'AbortError',
    });
    expect(fs.readdirSync(workRoot)).toEqual([]);
  });
});
