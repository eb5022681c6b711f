// Short outages of the git server and the registry in the middle of a workflow, made by a proxy in front of
// each that this file controls: the workflow waits them out within the outage budget and succeeds; a longer
// outage fails it naming the dependency and the time waited; the request's own failures still fail at once.
import fs from 'node:fs';
import type http from 'node:http';
import { startFaultyProxy, type FaultyProxy, type ProxyFault } from '../../../bench/soak/proxy';
import { testEnv } from '../../harness/env';
import { lookupManifest } from '../../harness/registry';
import { recordingLogger, type LogLine } from '../../fakes/logger';
import {
  buildRequest,
  builderMessages,
  gitIn,
  headOf,
  localEnv,
  removeSeededRepos,
  scratchDir,
  seedRepos,
  startTestBuilder,
  type TestBuilder,
} from './helpers';

const env = testEnv();
const OUTAGE_MS = 10_000;

/**
 * An outage that starts at the first request `starts` picks out and lasts `ms`: that request and every one
 * until the end get `fault`. `first` is what the starting request itself gets (default: `fault`).
 */
function outageAt(
  starts: (req: http.IncomingMessage) => boolean,
  fault: ProxyFault,
  ms: number,
  first: ProxyFault = fault,
): { faultFor: (req: http.IncomingMessage) => ProxyFault | undefined; began: () => number | undefined } {
  let began: number | undefined;
  return {
    began: () => began,
    faultFor: (req) => {
      if (began === undefined && starts(req)) {
        began = Date.now();
        return first;
      }
      return began !== undefined && Date.now() - began < ms ? fault : undefined;
    },
  };
}

const retryNotice = (dependency: string) =>
  new RegExp(`^${dependency} unavailable, retrying in [0-9.]+ s \\(attempt [0-9]+\\)$`);

const retryLines = (lines: readonly LogLine[]) =>
  lines.filter((l) => / unavailable, retrying in /.test(l.message));

let workRoot: string;
let proxy: FaultyProxy | undefined;
let builder: TestBuilder | undefined;

beforeEach(() => {
  workRoot = scratchDir();
});

afterEach(async () => {
  await builder?.stop();
  await proxy?.close();
  builder = undefined;
  proxy = undefined;
  fs.rmSync(workRoot, { recursive: true, force: true });
});

afterAll(() => removeSeededRepos());

describe('a git server unavailable for 10 s in the middle of a workflow', () => {
  it('waits it out, checks that the push which was cut off had landed, and succeeds', async () => {
    // The push reaches the server but its answer is lost; then the server refuses connections for 10 s.
    const outage = outageAt(
      (req) => req.method === 'POST' && (req.url ?? '').endsWith('/git-receive-pack'),
      { kind: 'refuse' },
      OUTAGE_MS,
      { kind: 'cut-answer' },
    );
    proxy = await startFaultyProxy(env.git.url, outage.faultFor);
    const log = recordingLogger();
    builder = await startTestBuilder(localEnv(workRoot, { GIT_BASE_URL: `${proxy.url}/` }), log);
    const repos = await seedRepos();
    const seed = await headOf(repos.deployment);

    const { result } = await builder.run(buildRequest(repos));

    expect(result.reason).toBeNull();
    expect(result.status).toBe('succeeded');
    expect(outage.began()).toBeDefined();
    const messages = builderMessages(result);
    const notices = messages.filter((m) => retryNotice('git server').test(m));
    expect(notices.length).toBeGreaterThanOrEqual(1);
    expect(notices[0]).toMatch(/\(attempt 2\)$/);
    // Once per attempt: the event log and the process log tell the same retries.
    expect(retryLines(log.lines).map((l) => l.message)).toEqual(notices);
    expect(retryLines(log.lines).every((l) => l.level === 'warn')).toBe(true);
    expect(log.lines.map((l) => l.message)).toContain(
      'the interrupted push had reached the server; not pushing again',
    );
    // One deployment commit on top of the seed, pushed once.
    expect(await gitIn(repos.deployment.dir, ['rev-list', '--count', repos.deployment.branch])).toBe('2');
    expect(await gitIn(repos.deployment.dir, ['rev-parse', `${repos.deployment.branch}~1`])).toBe(seed);
  });

  it('fails the workflow naming the git server and the time waited when the outage outlasts the budget', async () => {
    const outage = outageAt((req) => (req.url ?? '').includes('/info/refs'), { kind: 'refuse' }, 600_000);
    proxy = await startFaultyProxy(env.git.url, outage.faultFor);
    builder = await startTestBuilder(
      localEnv(workRoot, { GIT_BASE_URL: `${proxy.url}/`, OUTAGE_BUDGET_SECONDS: '4' }),
    );
    const repos = await seedRepos();

    const { result, elapsedMs } = await builder.run(buildRequest(repos));

    expect(result).toMatchObject({ status: 'failed', message: 'Failed to create DeploymentRepo!' });
    expect(result.reason).toMatch(
      /^git server unavailable for [0-9.]+ s \([0-9]+ attempts\), giving up: git clone failed: git server 127\.0\.0\.1:[0-9]+ is unreachable \(ECONNRESET\)$/,
    );
    const waited = Number(/unavailable for ([0-9.]+) s/.exec(result.reason ?? '')?.[1]);
    expect(waited).toBeGreaterThan(1);
    expect(waited).toBeLessThanOrEqual(4);
    expect(elapsedMs).toBeLessThan(30_000);
  });
});

describe('a registry unavailable for 10 s in the middle of a workflow', () => {
  it('waits it out at the image lookup of the build step and builds, pushes and verifies the image', async () => {
    const outage = outageAt(
      (req) => /\/manifests\//.test(req.url ?? ''),
      { kind: 'status', status: 503 },
      OUTAGE_MS,
    );
    proxy = await startFaultyProxy(env.registry.url, outage.faultFor);
    const log = recordingLogger();
    builder = await startTestBuilder(localEnv(workRoot, { DOCKER_REGISTRY_URL: proxy.url }), log);
    const repos = await seedRepos();

    const { result } = await builder.run(buildRequest(repos));

    expect(result.reason).toBeNull();
    expect(result.status).toBe('succeeded');
    const began = outage.began() as number;
    const messages = builderMessages(result);
    const notices = messages.filter((m) => retryNotice('registry').test(m));
    expect(notices.length).toBeGreaterThanOrEqual(1);
    expect(retryLines(log.lines).map((l) => l.message)).toEqual(notices);
    // The build came after the outage, not before it.
    const building = messages.findIndex((m) => m.startsWith('Executing a docker build'));
    expect(building).toBeGreaterThan(messages.indexOf(notices.at(-1) as string));
    expect(Date.now() - began).toBeGreaterThanOrEqual(OUTAGE_MS);
    const manifest = await lookupManifest(env.registry.url, repos.dockerUrl, await headOf(repos.source));
    expect(manifest.status).toBe(200);
  });

  it('fails the build milestone naming the registry and the time waited when the outage outlasts the budget', async () => {
    proxy = await startFaultyProxy(env.registry.url);
    proxy.setFault({ kind: 'status', status: 502 });
    builder = await startTestBuilder(
      localEnv(workRoot, { DOCKER_REGISTRY_URL: proxy.url, OUTAGE_BUDGET_SECONDS: '3' }),
    );
    const repos = await seedRepos();

    const { result } = await builder.run(buildRequest(repos));

    expect(result).toMatchObject({ status: 'failed', message: 'Milestone has failed' });
    expect(result.reason).toMatch(
      /^Failed to build docker image [^ ]+: {2}registry unavailable for [0-9.]+ s \([0-9]+ attempts\), giving up: registry 127\.0\.0\.1:[0-9]+ is unavailable: HTTP 502$/,
    );
    expect(builderMessages(result).filter((m) => retryNotice('registry').test(m)).length).toBeGreaterThan(0);
  });
});

describe("the request's own failures", () => {
  it('fail at once under a minute-long outage budget: a missing ref and a failing Dockerfile', async () => {
    const log = recordingLogger();
    builder = await startTestBuilder(localEnv(workRoot, { OUTAGE_BUDGET_SECONDS: '60' }), log);
    const missing = await seedRepos();
    const failing = await seedRepos({
      'Dockerfile.eex': `FROM ${env.baseImage}\nRUN exit 3\n`,
    });

    const [noRef, badBuild] = await Promise.all([
      builder.run(buildRequest(missing, { deployment_repo_git_ref: 'no-such-branch' })),
      builder.run(buildRequest(failing)),
    ]);

    expect(noRef.result).toMatchObject({ status: 'failed', message: 'Failed to create DeploymentRepo!' });
    expect(noRef.result.reason).toContain('no-such-branch');
    expect(badBuild.result).toMatchObject({ status: 'failed', message: 'Milestone has failed' });
    // In the classic builder's words or BuildKit's, whichever backend `auto` chose.
    expect(badBuild.result.reason).toMatch(/returned a non-zero code: 3|exit code: 3/);
    expect(retryLines(log.lines)).toEqual([]);
    // The first backoff alone would be a second; a retried failure would wait many.
    expect(noRef.elapsedMs).toBeLessThan(10_000);
    expect(badBuild.result.stepDurations.build ?? 0).toBeLessThan(30_000);
  });
});
