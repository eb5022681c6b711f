// The checkout and config steps as plain functions against the test git server: what the checkout step
// fetches ahead for the config step, and that a failed fetch ahead changes nothing the config step reports.
import fs from 'node:fs';
import path from 'node:path';
import { stepDeps } from '../../../src/app';
import { loadConfig } from '../../../src/config';
import { nopLogger } from '../../../src/log';
import { parseBuildRequest } from '../../../src/messages';
import { jsonRequestTerm } from '../../../src/messages/request-file';
import { checkoutStep, configStep, type StepContext, type StepDeps } from '../../../src/workflow/steps';
import { removeBareRepo } from '../../harness/env';
import {
  buildRequest,
  headOf,
  localEnv,
  removeSeededRepos,
  scratchDir,
  seedRepos,
  type RequestJson,
} from './helpers';

let workDir: string;
let deps: StepDeps;
let events: string[];

beforeEach(() => {
  workDir = scratchDir('oa-steps-it-');
  // These steps never build: an engine source that is asked would fail the test.
  deps = stepDeps(loadConfig({ mode: 'local', env: localEnv(workDir) }), {
    acquire: () => Promise.reject(new Error('the checkout and config steps asked for a docker engine')),
  });
  events = [];
});

afterEach(() => fs.rmSync(workDir, { recursive: true, force: true }));
afterAll(() => removeSeededRepos());

const ctx = (): StepContext => ({
  signal: new AbortController().signal,
  log: nopLogger,
  report: { event: (_kind, message) => events.push(message), save: () => undefined, line: () => undefined },
});

const parsed = (json: RequestJson) => parseBuildRequest(jsonRequestTerm(json)).request;

describe('the checkout step', () => {
  it('fetches the source commit while it checks out the deployment repo when the request names the source', async () => {
    const repos = await seedRepos();
    const request = parsed(buildRequest(repos));

    const checkout = await checkoutStep({ request, workDir }, deps, ctx());

    expect(checkout.sourceFetch).toEqual({ commit: await headOf(repos.source) });
    expect(checkout.commit).toBe(await headOf(repos.deployment));
    expect(fs.readdirSync(path.join(workDir, 'source'))).toEqual(['.git']);
  });

  it('leaves the source to the config step when the request does not name its ref', async () => {
    const repos = await seedRepos({ 'source.json': '{ "source_repo_git_ref": "main" }\n' });
    const request = parsed(buildRequest(repos, { source_repo_git_ref: null }));

    const checkout = await checkoutStep({ request, workDir }, deps, ctx());

    expect(checkout.source).toEqual({ repo: request.source_repo, ref: 'main' });
    expect(checkout.sourceFetch).toBeNull();
    expect(fs.existsSync(path.join(workDir, 'source'))).toBe(false);
  });

  it('still checks out when the source cannot be fetched, and the config step reports that without trying again', async () => {
    const repos = await seedRepos();
    const request = parsed(buildRequest(repos, { source_repo_git_ref: 'no-such-branch' }));

    const checkout = await checkoutStep({ request, workDir }, deps, ctx());
    expect(checkout.sourceFetch).toEqual({ error: expect.stringMatching(/no-such-branch/) as string });
    // Asked again, the server would now answer that the repository is gone.
    await removeBareRepo(repos.source);

    await expect(configStep({ request, workDir, checkout }, deps, ctx())).rejects.toThrow(/no-such-branch/);
  });
});

describe('the config step after a fetch ahead', () => {
  it('uses the fetched source commit without asking the source server again', async () => {
    const repos = await seedRepos();
    const sourceHead = await headOf(repos.source);
    const request = parsed(buildRequest(repos));
    const checkout = await checkoutStep({ request, workDir }, deps, ctx());
    await removeBareRepo(repos.source);

    const config = await configStep({ request, workDir, checkout }, deps, ctx());

    expect(config.commit).toBe(sourceHead);
    expect(config.notificationsConfig).toMatchObject({ hipchat: { room_names: ['builds'] } });
    expect(events).toContain(`Git commit hash resolved from checkout: main -> ${sourceHead}`);
  });
});
