// Local mode end to end: requests run through the real actor tree (workflow actor, step children, reporter)
// against the test git server, dockerd and registries, and what the services hold afterwards is read back
// through their own interfaces (the registry API, the git CLI on the bare repositories).
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { main } from '../../../src/cli/main';
import { testEnv } from '../../harness/env';
import { lookupManifest } from '../../harness/registry';
import { recordingLogger } from '../../fakes/logger';
import { engine, exists } from '../docker/helpers';
import {
  BUILDER_HOSTNAME,
  buildRequest,
  builderMessages,
  filesOf,
  DEPLOYMENT_EXAMPLE,
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
const SHA = /^[0-9a-f]{40}$/;
const escaped = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

let workRoot: string;
let builder: TestBuilder;

beforeAll(async () => {
  workRoot = scratchDir();
  builder = await startTestBuilder(localEnv(workRoot));
});

afterAll(async () => {
  await builder?.stop();
  await removeSeededRepos();
  fs.rmSync(workRoot, { recursive: true, force: true });
});

/** The reference the builder gives `<docker_url>:<commit>` in the open registry. */
const imageOf = (dockerUrl: string, commit: string): string => `${env.registry.host}/${dockerUrl}:${commit}`;

describe('a build milestone in local mode', () => {
  it('checks out, renders, commits, builds, pushes and verifies an image from scratch', async () => {
    const repos = await seedRepos();
    const sourceSha = await headOf(repos.source);
    expect(sourceSha).toMatch(SHA);
    const seedCommit = await headOf(repos.deployment);
    const request = buildRequest(repos);
    const image = imageOf(repos.dockerUrl, sourceSha);

    const { result, exit } = await builder.run(request);

    expect(result).toMatchObject({
      workflowId: request.id,
      status: 'succeeded',
      message: null,
      reason: null,
      image,
      imageFound: false,
    });
    expect(exit.exit.kind).toBe('normal');
    expect(Object.keys(result.stepDurations).sort()).toEqual(['build', 'checkout', 'config', 'verify']);

    for (const tag of [sourceSha, 'latest']) {
      const manifest = await lookupManifest(env.registry.url, repos.dockerUrl, tag);
      expect({ tag, status: manifest.status }).toEqual({ tag, status: 200 });
    }
    // Pushed, so the build's own tags are gone from the build host.
    const docker = await engine();
    for (const local of [image, imageOf(repos.dockerUrl, 'latest')])
      expect({ local, exists: await exists(docker, 'images', local) }).toEqual({ local, exists: false });

    const { update } = result;
    expect(update.source_repo_git_ref).toBe(sourceSha);
    expect(update.etcd_token).toBe('example-discovery-token');
    expect(update.notifications_config).toMatchObject({ hipchat: { room_names: ['builds'] } });
    expect(update.deployable_units).toEqual([
      {
        name: 'hello@.service',
        options: [
          { section: 'Unit', name: 'Description', value: `hello example (${sourceSha})` },
          { section: 'Unit', name: 'After', value: 'docker.service' },
          { section: 'Service', name: 'TimeoutStartSec', value: '0' },
          { section: 'Service', name: 'ExecStartPre', value: '-/usr/bin/docker rm -f hello-%i' },
          {
            section: 'Service',
            name: 'ExecStartPre',
            value: `/usr/bin/docker pull examples/hello:${sourceSha}`,
          },
          {
            section: 'Service',
            name: 'ExecStart',
            // The deployer fills in the port per instance, so the placeholder must survive rendering.
            value: `/usr/bin/docker run --name hello-%i -p <%= dst_port %>:8080 examples/hello:${sourceSha}`,
          },
          { section: 'Service', name: 'ExecStop', value: '/usr/bin/docker stop hello-%i' },
          { section: 'X-Fleet', name: 'Conflicts', value: 'hello@*.service' },
        ],
        desiredState: null,
        currentState: null,
        machineID: null,
      },
    ]);
    expect(JSON.parse(update.ecs_task_definition ?? 'null')).toMatchObject({
      family: 'hello',
      containerDefinitions: [{ name: 'hello', image: `examples/hello:${sourceSha}` }],
    });

    expect(update.event_log?.[0]).toBe(`[OpenAperture Workflow][${request.id}] Starting workflow...`);
    expect(update.event_log?.[1]).toBe(
      `[OA][${request.id}] Build/Config request is being processed by Builder ${BUILDER_HOSTNAME}`,
    );
    expect(builderMessages(result)).toEqual([
      `Build/Config request is being processed by Builder ${BUILDER_HOSTNAME}`,
      `Git commit hash resolved from checkout: main -> ${sourceSha}`,
      `Requesting configuration of repository anon/${repos.deployment.name}...`,
      `The docker image ${image} does not exist, requesting docker build`,
      `Beginning docker image build of ${repos.dockerUrl}:${sourceSha} on docker host ${env.dockerHost}...`,
      `Executing a docker build for ${image}...`,
      expect.stringMatching(/^Successfully created image [0-9a-f]{12}, tagging image [0-9a-f]{12}\.\.\.$/),
      expect.stringMatching(
        new RegExp(
          `^Successfully tagging image [0-9a-f]{12}, pushing to docker registry ${escaped(env.registry.url)}\\.\\.\\.$`,
        ),
      ),
      expect.stringMatching(/^Successfully pushed image [0-9a-f]{12}$/),
      `Verified ${image} exists in docker repo`,
    ]);

    const head = await headOf(repos.deployment);
    expect(await gitIn(repos.deployment.dir, ['log', '-1', '--format=%s|%P|%an <%ae>', head])).toBe(
      `Deployment for commit ${sourceSha}|${seedCommit}|Workflow Test Builder <builder@workflow-test.invalid>`,
    );
    expect(
      (await gitIn(repos.deployment.dir, ['diff-tree', '--no-commit-id', '--name-only', '-r', head])).split(
        '\n',
      ),
    ).toEqual(['Dockerfile', 'ecs_task_definition.json', 'hello@.service', 'install.sh']);
    const dockerfile = await gitIn(repos.deployment.dir, ['show', `${head}:Dockerfile`]);
    expect(dockerfile).toContain(`RUN /bin/sh /build/install.sh ${sourceSha}`);
    expect(dockerfile).not.toContain('<%');

    expect(fs.readdirSync(workRoot)).toEqual([]);
  });

  it('skips the build when the registry already has the image, and commits nothing for an unchanged render', async () => {
    // The example's install.sh stamps the render time, which would make every render differ; without it a
    // second render of the same source commit is byte-for-byte the first.
    const installSh = filesOf(DEPLOYMENT_EXAMPLE)['install.sh.eex'] ?? '';
    expect(installSh).toContain('<%= timestamp %>');
    const repos = await seedRepos({ 'install.sh.eex': installSh.replace(/^.*timestamp.*\n/m, '') });
    const request = buildRequest(repos);
    const first = await builder.run(request);
    expect(first.result.status).toBe('succeeded');
    const headAfterFirst = await headOf(repos.deployment);

    const second = await builder.run(request);

    const sourceSha = await headOf(repos.source);
    const image = imageOf(repos.dockerUrl, sourceSha);
    expect(second.result).toMatchObject({ status: 'succeeded', image, imageFound: true });
    expect(second.exit.exit.kind).toBe('normal');
    const messages = builderMessages(second.result);
    expect(messages).toContain(`The docker image ${image} already exists, skipping docker build`);
    expect(messages.filter((m) => m.startsWith('Executing a docker build'))).toEqual([]);
    // With the image found by the build step the verify step has nothing to do.
    expect(messages.filter((m) => m.startsWith('Verified'))).toEqual([]);
    expect(Object.keys(second.result.stepDurations).sort()).toEqual(['build', 'checkout', 'config']);
    expect(await headOf(repos.deployment)).toBe(headAfterFirst);
    expect(await gitIn(repos.deployment.dir, ['rev-list', '--count', repos.deployment.branch])).toBe('2');
    expect(fs.readdirSync(workRoot)).toEqual([]);
  });

  it('skips the build without waiting for a build host when the registry already has the image', async () => {
    const repos = await seedRepos();
    const request = buildRequest(repos);
    expect((await builder.run(request)).result.status).toBe('succeeded');
    // The only build host takes connections and closes them at once: it never passes the farm's probe, so a
    // build would wait for it until the step timed out.
    const host = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => host.listen(0, '127.0.0.1', resolve));
    const hostRoot = scratchDir();
    const endpoint = `tcp://127.0.0.1:${(host.address() as net.AddressInfo).port}`;
    const hostless = await startTestBuilder(localEnv(hostRoot, { BUILD_HOSTS: endpoint }));
    try {
      const { result } = await hostless.run(request);

      const image = imageOf(repos.dockerUrl, await headOf(repos.source));
      expect(result).toMatchObject({ status: 'succeeded', image, imageFound: true });
      expect(builderMessages(result).at(-1)).toBe(
        `The docker image ${image} already exists, skipping docker build`,
      );
      expect(builderMessages(result).filter((m) => /docker host|build slot/.test(m))).toEqual([]);
      expect((await hostless.builder.farm()).engines).toMatchObject([{ endpoint, healthy: false, inUse: 0 }]);
    } finally {
      await hostless.stop();
      await new Promise((resolve) => host.close(resolve));
      fs.rmSync(hostRoot, { recursive: true, force: true });
    }
  });

  it('rebuilds and pushes again when force_build is set although the image exists', async () => {
    const repos = await seedRepos();
    const first = await builder.run(buildRequest(repos));
    expect(first.result).toMatchObject({ status: 'succeeded', imageFound: false });

    const forced = await builder.run(buildRequest(repos, { force_build: true }));

    const image = imageOf(repos.dockerUrl, await headOf(repos.source));
    expect(forced.result).toMatchObject({ status: 'succeeded', image, imageFound: false });
    const messages = builderMessages(forced.result);
    const index = (prefix: string) => messages.findIndex((m) => m.startsWith(prefix));
    expect(messages).toContain('The force_build flag has been set, requesting docker build');
    expect(messages.filter((m) => m.includes('already exists'))).toEqual([]);
    expect(index('The force_build flag')).toBeLessThan(index('Executing a docker build'));
    expect(index('Executing a docker build')).toBeLessThan(index('Successfully pushed image'));
    expect(messages.at(-1)).toBe(`Verified ${image} exists in docker repo`);
  });

  it('fails the build milestone with the daemon message and the step output when a Dockerfile step exits non-zero', async () => {
    const repos = await seedRepos({
      'Dockerfile.eex': `FROM ${env.baseImage}\nRUN echo about to fail && exit 3\n`,
    });
    const request = buildRequest(repos);

    const { result, exit, collected } = await builder.run(request);

    const sourceSha = await headOf(repos.source);
    expect(result).toMatchObject({ status: 'failed', message: 'Milestone has failed', imageFound: false });
    expect(result.reason).toContain(`Failed to build docker image ${repos.dockerUrl}:${sourceSha}:`);
    // BuildKit's words (BUILD_BACKEND is auto, and the test engine offers BuildKit), with the step's output.
    expect(result.reason).toContain(
      'executor failed running [/bin/sh -c echo about to fail && exit 3]: exit code: 3\n' +
        ' > [2/2] RUN echo about to fail && exit 3:\nabout to fail',
    );
    expect(result.update).toMatchObject({ workflow_error: true, workflow_completed: true });
    expect(builderMessages(result).slice(-2)).toEqual([result.reason, 'Milestone has failed']);
    expect(collected.steps).toContainEqual({ step: 'build', outcome: 'failed' });
    expect(collected.lines.some((line) => line.includes('about to fail'))).toBe(true);
    expect(exit.exit.kind).toBe('failed');
    const manifest = await lookupManifest(env.registry.url, repos.dockerUrl, sourceSha);
    expect(manifest.status).toBe(404);
    expect(fs.readdirSync(workRoot)).toEqual([]);
  });

  it('runs two workflows of different repositories at the same time and both succeed', async () => {
    const [a, b] = await Promise.all([seedRepos(), seedRepos()]);
    const [ra, rb] = await Promise.all([builder.run(buildRequest(a)), builder.run(buildRequest(b))]);

    for (const [repos, outcome] of [
      [a, ra],
      [b, rb],
    ] as const) {
      const sourceSha = await headOf(repos.source);
      expect(outcome.result).toMatchObject({
        status: 'succeeded',
        image: imageOf(repos.dockerUrl, sourceSha),
      });
      expect((await lookupManifest(env.registry.url, repos.dockerUrl, sourceSha)).status).toBe(200);
      expect(await gitIn(repos.deployment.dir, ['log', '-1', '--format=%s', repos.deployment.branch])).toBe(
        `Deployment for commit ${sourceSha}`,
      );
    }
    // Each event log holds only its own workflow's entries, though both reporters were busy at once.
    expect(ra.result.update.event_log?.every((e) => e.includes(ra.result.workflowId))).toBe(true);
    expect(rb.result.update.event_log?.every((e) => e.includes(rb.result.workflowId))).toBe(true);
    expect(fs.readdirSync(workRoot)).toEqual([]);
  });
});

describe('a config milestone in local mode', () => {
  it('succeeds without building when the image of the source commit is already in the registry', async () => {
    const repos = await seedRepos();
    expect((await builder.run(buildRequest(repos))).result.status).toBe('succeeded');

    const { result } = await builder.run(buildRequest(repos, { current_step: 'config' }));

    const sourceSha = await headOf(repos.source);
    const image = imageOf(repos.dockerUrl, sourceSha);
    expect(result).toMatchObject({ status: 'succeeded', image, imageFound: false });
    expect(result.update.source_repo_git_ref).toBe(sourceSha);
    expect(result.update.etcd_token).toBe('example-discovery-token');
    const messages = builderMessages(result);
    expect(messages.filter((m) => m.startsWith('Beginning docker image build'))).toEqual([]);
    expect(messages.at(-1)).toBe(`Verified ${image} exists in docker repo`);
    expect(Object.keys(result.stepDurations).sort()).toEqual(['checkout', 'config', 'verify']);
  });

  it('fails with "Milestone has failed" when the image of the source commit is not in the registry', async () => {
    const repos = await seedRepos();

    const { result, exit } = await builder.run(buildRequest(repos, { current_step: 'config' }));

    const sourceSha = await headOf(repos.source);
    expect(result).toMatchObject({ status: 'failed', message: 'Milestone has failed' });
    expect(result.reason).toMatch(/^Docker image \(/);
    expect(result.reason).toContain(
      `Docker image (${imageOf(repos.dockerUrl, sourceSha)}) not found in docker repo`,
    );
    expect(result.update).toMatchObject({ workflow_error: true, workflow_completed: true });
    expect(builderMessages(result).filter((m) => m.startsWith('Beginning docker image build'))).toEqual([]);
    expect(exit.exit.kind).toBe('failed');
    // The config step still rendered and pushed: only the image is missing.
    expect(await gitIn(repos.deployment.dir, ['log', '-1', '--format=%s', repos.deployment.branch])).toBe(
      `Deployment for commit ${sourceSha}`,
    );
  });
});

describe('a checkout failure in local mode', () => {
  it('fails with "Failed to create DeploymentRepo!" naming the ref, and leaves no work directory', async () => {
    const repos = await seedRepos();
    const seedCommit = await headOf(repos.deployment);

    const { result, exit, collected } = await builder.run(
      buildRequest(repos, { deployment_repo_git_ref: 'no-such-branch' }),
    );

    expect(result).toMatchObject({
      status: 'failed',
      message: 'Failed to create DeploymentRepo!',
      image: null,
      update: { workflow_error: true, workflow_completed: true },
    });
    expect(result.reason).toContain('no-such-branch');
    expect(builderMessages(result).slice(-2)).toEqual([result.reason, 'Failed to create DeploymentRepo!']);
    expect(collected.steps).toEqual([{ step: 'checkout', outcome: 'failed' }]);
    expect(exit.exit.kind).toBe('failed');
    expect(await headOf(repos.deployment)).toBe(seedCommit);
    expect(fs.readdirSync(workRoot)).toEqual([]);
  });
});

describe('a registry that refuses the configured credentials', () => {
  it('fails the build milestone within seconds with a reason naming the refusal, without retrying', async () => {
    const authRoot = scratchDir();
    const log = recordingLogger();
    const authBuilder = await startTestBuilder(
      localEnv(authRoot, {
        DOCKER_REGISTRY_URL: env.authRegistry.url,
        DOCKER_REGISTRY_USERNAME: env.authRegistry.username,
        DOCKER_REGISTRY_PASSWORD: 'not-the-password',
      }),
      log,
    );
    try {
      const repos = await seedRepos();

      const { result, elapsedMs } = await authBuilder.run(buildRequest(repos));

      expect(result).toMatchObject({ status: 'failed', message: 'Milestone has failed', image: null });
      expect(result.reason).toContain(`Failed to build docker image ${repos.dockerUrl}:`);
      expect(result.reason).toContain(`registry ${env.authRegistry.host} refused access`);
      expect(result.reason).toContain('the credentials were rejected');
      expect(result.reason).not.toContain('not-the-password');
      expect(builderMessages(result).filter((m) => m.startsWith('Executing a docker build'))).toEqual([]);
      // The logger reaches the workflow's actors, so a retried lookup would have left a line here.
      expect(log.lines.map((l) => l.message)).toContain('workflow failed');
      expect(log.lines.filter((l) => l.message.includes('retrying'))).toEqual([]);
      // The backoffs of the default retry policy alone would add up to more than this.
      expect(result.stepDurations.build).toBeLessThan(3_000);
      expect(elapsedMs).toBeLessThan(10_000);
      expect(fs.readdirSync(authRoot)).toEqual([]);
    } finally {
      await authBuilder.stop();
      fs.rmSync(authRoot, { recursive: true, force: true });
    }
  });
});

/** Standard streams that keep what is written to them. */
function bufferedIo(cliEnv: NodeJS.ProcessEnv) {
  const out: string[] = [];
  const err: string[] = [];
  const sink = (into: string[]) =>
    new Writable({
      write(chunk: Buffer | string, _encoding, done) {
        into.push(chunk.toString());
        done();
      },
    });
  return {
    io: { stdin: Readable.from([]), stdout: sink(out), stderr: sink(err), env: cliEnv },
    stdout: () => out.join(''),
    stderr: () => err.join(''),
  };
}

describe('oa-builder run', () => {
  let cliRoot: string;
  let requestDir: string;

  beforeAll(() => {
    cliRoot = scratchDir();
    requestDir = scratchDir('oa-wf-it-requests-');
  });

  afterAll(() => {
    for (const dir of [cliRoot, requestDir]) fs.rmSync(dir, { recursive: true, force: true });
  });

  const requestFile = (name: string, content: string): string => {
    const file = path.join(requestDir, name);
    fs.writeFileSync(file, content);
    return file;
  };

  it('exits 0 and prints the reply for the orchestrator as JSON on standard output', async () => {
    const repos = await seedRepos();
    // The orchestrator sends both flags; on success the reply echoes them untouched.
    const request = buildRequest(repos, { workflow_error: false, workflow_completed: false });
    const file = requestFile('build.json', JSON.stringify(request));
    const { io, stdout, stderr } = bufferedIo(localEnv(cliRoot));

    const code = await main(['run', file, '--json'], io);

    expect({ code, stderr: code === 0 ? '' : stderr() }).toEqual({ code: 0, stderr: '' });
    const sourceSha = await headOf(repos.source);
    const reply = JSON.parse(stdout()) as Record<string, unknown>;
    expect(reply).toMatchObject({
      id: request.id,
      current_step: 'build',
      workflow_error: false,
      workflow_completed: false,
      source_repo_git_ref: sourceSha,
      etcd_token: 'example-discovery-token',
      deployment_repo: `anon/${repos.deployment.name}`,
    });
    expect(reply.event_log).toEqual(
      expect.arrayContaining([
        `[OA][${request.id}] Verified ${imageOf(repos.dockerUrl, sourceSha)} exists in docker repo`,
      ]),
    );
    expect(stderr()).toContain(`workflow ${request.id} succeeded`);
    expect((await lookupManifest(env.registry.url, repos.dockerUrl, sourceSha)).status).toBe(200);
    expect(fs.readdirSync(cliRoot)).toEqual([]);
  });

  it('exits 1 for a request whose workflow fails, still printing the reply', async () => {
    const repos = await seedRepos();
    const request = buildRequest(repos, { deployment_repo_git_ref: 'no-such-branch' });
    const file = requestFile('failing.json', JSON.stringify(request));
    const { io, stdout, stderr } = bufferedIo(localEnv(cliRoot));

    const code = await main(['run', file, '--json'], io);

    expect(code).toBe(1);
    expect(JSON.parse(stdout())).toMatchObject({
      id: request.id,
      workflow_error: true,
      workflow_completed: true,
    });
    expect(stderr()).toContain('Failed to create DeploymentRepo!');
    // The reason is the last line, after whatever the builder logged while it stopped.
    const lines = stderr().trimEnd().split('\n');
    expect(lines.at(-1)).toMatch(
      new RegExp(
        `workflow ${request.id} failed in [0-9.]+s: Failed to create DeploymentRepo!: .*no-such-branch`,
      ),
    );
    // Standard error is no terminal here: still readable lines throughout, no JSON records among them.
    expect(lines.filter((line) => line.startsWith('{'))).toEqual([]);
    expect(fs.readdirSync(cliRoot)).toEqual([]);
  });

  it("masks the registry password of the deployment repository's docker.json in the build output", async () => {
    const password = 'docker-json-registry-password';
    const dockerJson = {
      docker_url: `it-wf/docker-json-secret-${process.pid}-${Date.now()}`,
      docker_registry_url: env.registry.url,
      docker_registry_username: 'someone',
      docker_registry_password: password,
    };
    const withPassword = await seedRepos({
      'Dockerfile.eex': `FROM busybox:latest\nRUN echo "the build saw ${password}" <%= commit_hash %>\n`,
      'docker.json': `${JSON.stringify(dockerJson)}\n`,
    });
    const request = buildRequest(withPassword);
    const file = requestFile('docker-json-password.json', JSON.stringify(request));
    const { io, stderr } = bufferedIo(localEnv(cliRoot));

    const code = await main(['run', file, '--verbose'], io);

    expect({ code, stderr: code === 0 ? '' : stderr() }).toEqual({ code: 0, stderr: '' });
    expect(stderr()).toContain('the build saw ********');
    expect(stderr()).not.toContain(password);
  });

  it('exits 2 with one line on standard error for a request file that is not JSON', async () => {
    const file = requestFile('malformed.json', '{ "id": "half a request",');
    const { io, stdout, stderr } = bufferedIo(localEnv(cliRoot));

    const code = await main(['run', file, '--json'], io);

    expect(code).toBe(2);
    expect(stdout()).toBe('');
    const lines = stderr().split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^oa-builder: .*malformed\.json is not valid JSON: /);
  });
});
