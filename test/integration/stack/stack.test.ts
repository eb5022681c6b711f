// The shipped image and docker-compose.yml, run for real: scripts/stack.sh builds openaperture-builder:local on
// the test engine and starts the compose project with docker-compose.loopback.yml, two builder replicas and the
// fake Manager in containers on the host's network, against the test environment's RabbitMQ, registry, git
// server and engine. Requests go in as the orchestrator publishes them; replies, the Manager's records, the
// registry and the engine are read from outside, as an operator would.
import { execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Term } from '../../../src/etf';
import { lookupManifest } from '../../harness/registry';
import { REPO_ROOT, testEnv, uniqueName } from '../../harness/env';
import { freeLoopbackPort } from '../../harness/ports';
import { BrokerAdmin, eventually } from '../amqp/topology';
import {
  processedBy,
  requestBytes,
  serviceRequest,
  slowBuild,
  tap,
  withField,
  type Tapped,
} from '../service/helpers';
import { removeSeededRepos, seedRepos, type RequestJson } from '../workflow/helpers';

const run = promisify(execFile);
const env = testEnv();
const STACK = path.join(REPO_ROOT, 'scripts', 'stack.sh');
const IMAGE = 'openaperture-builder:local';
/** Making the base image on a fresh machine (debootstrap) and building both images from scratch. */
const UP_MS = 15 * 60_000;
const BUILD_MS = 120_000;
/** A test's own limit: a build, a redelivered build, and a drain of up to the stop grace period. */
const TEST_MS = 8 * 60_000;
const PROJECT = 'oa-builder-stack-it';

/** The settings stack.sh takes, with names and ports of this run only. */
let stackEnv: NodeJS.ProcessEnv;

/** Runs `stack.sh <command>`, its figures and progress going to the test's output; rejects on failure. */
function stack(command: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [STACK, command], { env: stackEnv, stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`stack.sh ${command} exited with ${String(code)}`)),
    );
  });
}

async function docker(...args: string[]): Promise<string> {
  const { stdout } = await run('docker', args, { env: { ...process.env, DOCKER_HOST: env.dockerHost } });
  return stdout.trim();
}

/** What the engine holds of the project, by the labels Compose puts on it. */
async function projectObjects(): Promise<{ containers: string; networks: string; volumes: string }> {
  const filter = `label=com.docker.compose.project=${PROJECT}`;
  return {
    containers: await docker('ps', '-aq', '--filter', filter),
    networks: await docker('network', 'ls', '-q', '--filter', filter),
    volumes: await docker('volume', 'ls', '-q', '--filter', filter),
  };
}

const containerOf = (service: string): Promise<string> =>
  docker(
    'ps',
    '-aq',
    '--filter',
    `label=com.docker.compose.project=${PROJECT}`,
    '--filter',
    `label=com.docker.compose.service=${service}`,
  );

async function inspect(container: string, format: string): Promise<string> {
  return docker('inspect', '--format', format, container);
}

/** The fake Manager in its container, asked over its REST API with a token of its own login. */
async function managerWorkflow(id: string): Promise<{ event_log?: string[] }> {
  const base = `http://127.0.0.1:${String(stackEnv.OA_STACK_MANAGER_PORT)}`;
  const login = await fetch(`${base}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      grant_type: 'client_credentials',
      client_id: 'builder',
      client_secret: 'change-me',
    }),
  });
  const { access_token: token } = (await login.json()) as { access_token: string };
  const response = await fetch(`${base}/workflows/${id}`, {
    headers: { authorization: `Bearer access_token=${token}` },
  });
  expect(response.status).toBe(200);
  return (await response.json()) as { event_log?: string[] };
}

/** Resolves with the replica whose docker build of workflow `id` runs, as the Manager's event log says. */
async function buildRunningOn(id: string): Promise<string> {
  let builder: string | undefined;
  await eventually(
    'the docker build started',
    async () => {
      const log = (await managerWorkflow(id)).event_log ?? [];
      builder = log.some((e) => e.includes('Beginning docker image build')) ? processedBy(log) : undefined;
      return builder !== undefined;
    },
    BUILD_MS,
  );
  return builder ?? '';
}

let admin: BrokerAdmin;
let replies: Tapped[];
let requests: { plain: RequestJson; killed: RequestJson; drained: RequestJson };
let dockerUrls: Record<keyof typeof requests, string>;
const startedAt = Date.now();

/** Prints a measured figure the way stack.sh prints its own. */
const figure = (text: string): boolean => process.stdout.write(`stack: figure: ${text}\n`);
const seconds = (ms: number): string => (ms / 1000).toFixed(1);

const repliesTo = (id: string): Record<string, Term>[] => withField(replies, 'id', id);

/** Waits for the reply to workflow `id` and expects it to be the only one, a success from `builder`. */
async function expectOnlyReply(id: string, builder: string): Promise<void> {
  await eventually('the reply arrived', () => repliesTo(id).length > 0, BUILD_MS);
  const [reply, ...more] = repliesTo(id);
  expect(more).toEqual([]);
  expect(reply).toMatchObject({ workflow_error: false });
  expect(processedBy(reply?.event_log)).toBe(builder);
}

/** `<status> <exit code>` of the container of `service`. */
const exitOf = async (service: string): Promise<string> =>
  inspect(await containerOf(service), '{{.State.Status}} {{.State.ExitCode}}');

function publish(request: RequestJson): void {
  admin.channel.publish(
    String(stackEnv.OA_STACK_EXCHANGE),
    `${String(stackEnv.OA_STACK_ROUTING_KEY)}.builder`,
    requestBytes(request),
    { persistent: true },
  );
}

beforeAll(async () => {
  admin = await BrokerAdmin.open(env.amqpUrl);
  const [plain, killed, drained] = await Promise.all([
    seedRepos(),
    seedRepos(slowBuild(8)),
    seedRepos(slowBuild(8)),
  ]);
  if (!plain || !killed || !drained) throw new Error('repositories were not seeded');
  requests = {
    plain: serviceRequest(plain),
    killed: serviceRequest(killed),
    drained: serviceRequest(drained),
  };
  dockerUrls = { plain: plain.dockerUrl, killed: killed.dockerUrl, drained: drained.dockerUrl };
  const routingKey = uniqueName('oastackit').replace(/-/g, '');
  stackEnv = {
    ...process.env,
    OA_STACK_PROJECT: PROJECT,
    OA_STACK_EXCHANGE: uniqueName('oa-stack-it'),
    OA_STACK_ROUTING_KEY: routingKey,
    OA_STACK_QUEUE: `${routingKey}_builder`,
    OA_STACK_WORKFLOW_IDS: Object.values(requests)
      .map((r) => r.id)
      .join(','),
    OA_STACK_MANAGER_PORT: String(await freeLoopbackPort()),
    OA_STACK_BUILDER_1_HEALTH_PORT: String(await freeLoopbackPort()),
    OA_STACK_BUILDER_2_HEALTH_PORT: String(await freeLoopbackPort()),
  };
  // A project a failed run left behind would hold the names; down is a no-op otherwise.
  await stack('down');
  await stack('up');
  replies = await tap(admin.channel, `${routingKey}_workflow_orchestration`);
}, UP_MS);

afterAll(async () => {
  // The test below brings it down; this is for a run that failed before it.
  if ((await projectObjects()).containers !== '') await stack('down');
  await admin?.dispose();
  await removeSeededRepos();
  figure(`the stack test took ${seconds(Date.now() - startedAt)} s`);
}, 5 * 60_000);

describe('the builder image in the compose stack', () => {
  it(
    'runs as a non-root user, without a compiler or git, and reports healthy through its HEALTHCHECK',
    async () => {
      expect(await inspect(IMAGE, '{{.Config.User}}')).toBe('node');
      const missing = await docker(
        'run',
        '--rm',
        '--network',
        'none',
        '--entrypoint',
        'sh',
        IMAGE,
        '-c',
        'for tool in cc gcc g++ c++ clang make git; do command -v "$tool" || true; done; id -u',
      );
      expect(missing).toBe('1000');
      for (const service of ['builder-1', 'builder-2']) {
        const container = await containerOf(service);
        expect({ service, health: await inspect(container, '{{.State.Health.Status}}') }).toEqual({
          service,
          health: 'healthy',
        });
        expect(await docker('exec', container, 'id', '-u')).toBe('1000');
      }
    },
    TEST_MS,
  );

  it(
    'answers a published request with its reply and pushes its image',
    async () => {
      const { id } = requests.plain;
      publish(requests.plain);
      await eventually('the reply arrived', () => repliesTo(id).length > 0, BUILD_MS);
      expect(repliesTo(id)).toEqual([expect.objectContaining({ workflow_error: false })]);
      expect(['builder-1', 'builder-2']).toContain(processedBy(repliesTo(id)[0]?.event_log));
      const latest = await lookupManifest(env.registry.url, dockerUrls.plain, 'latest');
      expect(latest.status).toBe(200);
    },
    TEST_MS,
  );

  it(
    'answers the workflow of a builder killed mid-build from the other builder',
    async () => {
      const { id } = requests.killed;
      publish(requests.killed);
      const victim = await buildRunningOn(id);
      const survivor = victim === 'builder-1' ? 'builder-2' : 'builder-1';
      await docker('kill', await containerOf(victim));

      await expectOnlyReply(id, survivor);
      expect(await exitOf(victim)).toBe('exited 137');
      expect((await lookupManifest(env.registry.url, dockerUrls.killed, 'latest')).status).toBe(200);
    },
    TEST_MS,
  );

  it(
    'drains on docker stop: the build in flight is answered, then the builder exits 0 within its grace',
    async () => {
      const running = ['builder-1', 'builder-2'];
      const states = await Promise.all(
        running.map(async (s) => inspect(await containerOf(s), '{{.State.Status}}')),
      );
      const survivor = running[states.indexOf('running')] ?? '';
      const { id } = requests.drained;
      publish(requests.drained);
      expect(await buildRunningOn(id)).toBe(survivor);

      // docker stop returns once the container has exited, by itself or by the kill after stop_grace_period.
      const stopping = Date.now();
      await docker('stop', await containerOf(survivor));
      figure(`docker stop of ${survivor} returned after ${seconds(Date.now() - stopping)} s, drained`);
      await expectOnlyReply(id, survivor);
      expect(await exitOf(survivor)).toBe('exited 0');
      expect(await admin.ready(String(stackEnv.OA_STACK_QUEUE))).toBe(0);
    },
    TEST_MS,
  );

  it(
    'comes down leaving no containers, networks or volumes',
    async () => {
      await stack('down');
      expect(await projectObjects()).toEqual({ containers: '', networks: '', volumes: '' });
    },
    TEST_MS,
  );
});
