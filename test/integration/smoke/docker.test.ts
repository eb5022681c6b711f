import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  buildImage,
  type BuildResult,
  dockerModem,
  imageExists,
  pushImage,
  removeImage,
  tagImage,
} from '../../harness/docker';
import { testEnv, uniqueName } from '../../harness/env';
import { lookupManifest } from '../../harness/registry';

const env = testEnv();
const modem = dockerModem();
const tag = '1';
const madeRefs: string[] = [];
const contexts: string[] = [];

async function buildContext(dockerfile: string, files: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'oa-smoke-docker-'));
  contexts.push(dir);
  await writeFile(path.join(dir, 'Dockerfile'), dockerfile);
  for (const [name, content] of Object.entries(files)) await writeFile(path.join(dir, name), content);
  return dir;
}

function streamText(result: BuildResult): string {
  return result.lines.map((line) => line.stream ?? line.status ?? line.raw ?? '').join('');
}

const name = uniqueName('smoke-image');
let built: BuildResult;

beforeAll(async () => {
  const context = await buildContext(
    [
      `FROM ${env.baseImage}`,
      'COPY hello.txt /hello.txt',
      'RUN echo "built from $(cat /hello.txt)" > /built.txt && cat /built.txt /proc/net/dev',
      'CMD ["cat", "/built.txt"]',
      '',
    ].join('\n'),
    { 'hello.txt': 'the smoke test\n' },
  );
  madeRefs.push(`${name}:${tag}`);
  built = await buildImage(modem, context, `${name}:${tag}`);
});

afterAll(async () => {
  // Tags go first; removing the last tag of an image removes the image itself.
  for (const ref of madeRefs.reverse()) await removeImage(modem, ref);
  await Promise.all(contexts.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('the test dockerd and registries', () => {
  it('builds an image FROM the local busybox whose RUN step runs with no network but loopback', async () => {
    expect(built.statusCode).toBe(200);
    expect(built.error).toBeUndefined();
    expect(built.imageId).toMatch(/^sha256:[0-9a-f]{64}$/);
    const output = streamText(built);
    expect(output).toContain('built from the smoke test');
    expect(output).toMatch(/^\s*lo:/m);
    expect(output).not.toMatch(/eth\d:/);
    expect(await imageExists(modem, `${name}:${tag}`)).toBe(true);
  });

  it('pushes to the open registry with an empty X-Registry-Auth, and the registry then serves the manifest', async () => {
    const repo = `${env.registry.host}/${name}`;
    madeRefs.push(`${repo}:${tag}`);
    await tagImage(modem, `${name}:${tag}`, repo, tag);

    const pushed = await pushImage(modem, repo, tag);
    expect(pushed.statusCode).toBe(200);
    expect(pushed.error).toBeUndefined();
    const digest = pushed.lines.find((line) => line.aux?.Digest)?.aux?.Digest;
    expect(digest).toMatch(/^sha256:/);

    const manifest = await lookupManifest(env.registry.url, name, tag);
    expect(manifest.status).toBe(200);
    expect(manifest.digest).toBe(digest);
    expect(manifest.mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
  });

  it('pushes to the auth registry with credentials, which then serves the manifest only with Basic auth', async () => {
    const { authRegistry } = env;
    const repo = `${authRegistry.host}/${name}`;
    madeRefs.push(`${repo}:${tag}`);
    await tagImage(modem, `${name}:${tag}`, repo, tag);

    const pushed = await pushImage(modem, repo, tag, {
      username: authRegistry.username,
      password: authRegistry.password,
      serveraddress: authRegistry.host,
    });
    expect(pushed.statusCode).toBe(200);
    expect(pushed.error).toBeUndefined();

    const withAuth = await lookupManifest(authRegistry.url, name, tag, authRegistry);
    expect(withAuth.status).toBe(200);
    expect(withAuth.digest).toMatch(/^sha256:/);
    expect((await lookupManifest(authRegistry.url, name, tag)).status).toBe(401);
  });

  it('reports a push with a wrong password as an in-band error in a 200 stream', async () => {
    const { authRegistry } = env;
    const repo = `${authRegistry.host}/${name}-denied`;
    madeRefs.push(`${repo}:${tag}`);
    await tagImage(modem, `${name}:${tag}`, repo, tag);

    const pushed = await pushImage(modem, repo, tag, {
      username: authRegistry.username,
      password: 'not-the-password',
      serveraddress: authRegistry.host,
    });
    expect(pushed.statusCode).toBe(200);
    expect(pushed.error).toMatch(/unauthorized|authentication required/);
    const lookup = await lookupManifest(authRegistry.url, `${name}-denied`, tag, authRegistry);
    expect(lookup.status).toBe(404);
  });

  it('reports a failing RUN step as an in-band errorDetail in a 200 stream and tags nothing', async () => {
    const failing = uniqueName('smoke-failing');
    const context = await buildContext(`FROM ${env.baseImage}\nRUN exit 3\n`);
    madeRefs.push(`${failing}:${tag}`);

    const result = await buildImage(modem, context, `${failing}:${tag}`);

    expect(result.statusCode).toBe(200);
    expect(result.error).toMatch(/returned a non-zero code: 3/);
    expect(result.lines.find((line) => line.errorDetail)?.errorDetail?.code).toBe(3);
    expect(result.imageId).toBeUndefined();
    expect(await imageExists(modem, `${failing}:${tag}`)).toBe(false);
  });
});
