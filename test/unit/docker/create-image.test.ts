import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  createImage,
  shortImageId,
  statusMessages,
  type CreateImageInput,
  type Engine,
} from '../../../src/docker';
import { imageName, RegistryAuthError, type RegistryAccess } from '../../../src/registry';
import { startFakeHttpServer, type FakeHttpServer } from '../registry/fake-http-server';
import { apiPath, startFakeEngine, streamLines } from './fake-engine';

const imageId = 'sha256:0dc8d91103f776bc10c7337578132e46fe256133c581573519676628398a5ef0';
let contextDir: string;
let servers: FakeHttpServer[] = [];

beforeAll(async () => {
  contextDir = await fs.mkdtemp(path.join(os.tmpdir(), 'oa-create-'));
  await fs.writeFile(path.join(contextDir, 'Dockerfile'), 'FROM busybox:latest\n');
});
afterAll(async () => {
  await fs.rm(contextDir, { recursive: true, force: true });
});
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

/** A registry holding `tags` of org/app (401 for everything when `locked`) and an engine that builds and pushes. */
async function world(
  tags: string[],
  locked = false,
): Promise<{ engine: Engine; registry: FakeHttpServer; daemon: FakeHttpServer }> {
  const registry = await startFakeHttpServer((req, res) => {
    if (locked) res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="r"' });
    else res.writeHead(tags.some((t) => req.url.pathname === `/v2/org/app/manifests/${t}`) ? 200 : 404);
    res.end();
  });
  const { server: daemon, engine } = await startFakeEngine((req, res) => {
    if (apiPath(req.url.pathname) === '/build') return streamLines(res, [{ aux: { ID: imageId } }]);
    streamLines(res, [{ aux: { Tag: req.url.searchParams.get('tag'), Digest: 'sha256:d' } }]);
  });
  servers.push(registry, daemon);
  return { engine, registry, daemon };
}

function input(engine: Engine, access: RegistryAccess, forceBuild = false): CreateImageInput {
  return {
    engine,
    image: imageName('org/app', access.url),
    commit: 'abc123',
    contextDir,
    workflowId: 'wf-1',
    forceBuild,
    access,
    registryRetry: { attempts: 1 },
  };
}

describe('createImage', () => {
  it('skips the build when the image for the commit already exists', async () => {
    const { engine, registry, daemon } = await world(['abc123']);
    const statuses: string[] = [];
    const result = await createImage(input(engine, { url: registry.url }), {
      signal: new AbortController().signal,
      onStatus: (m) => statuses.push(m),
    });
    const tag = `${registry.host}/org/app:abc123`;
    expect(result).toEqual({
      imageFound: true,
      reference: tag,
      imageId: undefined,
      messages: [`The docker image ${tag} already exists, skipping docker build`],
    });
    expect(statuses).toEqual(result.messages);
    expect(daemon.requests.some((r) => apiPath(r.url.pathname) === '/build')).toBe(false);
  });

  it('builds, tags and pushes both tags when the image does not exist, in the original words', async () => {
    const { engine, registry, daemon } = await world([]);
    const result = await createImage(input(engine, { url: registry.url }), {
      signal: new AbortController().signal,
    });
    const tag = `${registry.host}/org/app:abc123`;
    expect(result.imageFound).toBe(false);
    expect(result.imageId).toBe(imageId);
    expect(result.messages).toEqual([
      `The docker image ${tag} does not exist, requesting docker build`,
      `Executing a docker build for ${tag}...`,
      'Successfully created image 0dc8d91103f7, tagging image 0dc8d91103f7...',
      `Successfully tagging image 0dc8d91103f7, pushing to docker registry ${registry.url}...`,
      'Successfully pushed image 0dc8d91103f7',
    ]);
    const build = daemon.requests.find((r) => apiPath(r.url.pathname) === '/build');
    expect(build?.url.searchParams.getAll('t')).toEqual([tag, `${registry.host}/org/app:latest`]);
    const pushes = daemon.requests.filter((r) => apiPath(r.url.pathname).endsWith('/push'));
    expect(pushes.map((r) => r.url.searchParams.get('tag'))).toEqual(['abc123', 'latest']);
  });

  it('rebuilds without asking the registry when force_build is set', async () => {
    const { engine, registry } = await world(['abc123']);
    const result = await createImage(input(engine, { url: registry.url }, true), {
      signal: new AbortController().signal,
    });
    expect(result.messages[0]).toBe('The force_build flag has been set, requesting docker build');
    expect(result.imageFound).toBe(false);
    expect(registry.requests).toHaveLength(0);
  });

  it('fails before building when the registry refuses the credentials', async () => {
    const { engine, registry, daemon } = await world([], true);
    const access = { url: registry.url, credentials: { username: 'u', password: 'wrong' } };
    await expect(
      createImage(input(engine, access), { signal: new AbortController().signal }),
    ).rejects.toThrow(RegistryAuthError);
    expect(daemon.requests.some((r) => apiPath(r.url.pathname) === '/build')).toBe(false);
  });
});

describe('statusMessages', () => {
  it('keeps the verify text and short ids of the original', () => {
    expect(statusMessages.verified('reg/app:abc')).toBe('Verified reg/app:abc exists in docker repo');
    expect(shortImageId(imageId)).toBe('0dc8d91103f7');
    expect(shortImageId('0dc8d91103f7')).toBe('0dc8d91103f7');
  });
});
