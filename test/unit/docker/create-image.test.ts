import {
  createImage,
  DockerPushError,
  shortImageId,
  statusMessages,
  type CreateImageInput,
  type Engine,
} from '../../../src/docker';
import { STEP_BEGINS } from '../../../src/docker/create-image';
import { imageName, RegistryAuthError, type RegistryAccess } from '../../../src/registry';
import { startFakeHttpServer, type FakeHttpServer } from '../registry/fake-http-server';
import { apiPath, buildFixture, BUILT_IMAGE_ID, startFakeEngine, streamLines } from './fake-engine';

const { contextDir, track } = buildFixture();

const MANIFEST = '{"schemaVersion":2}';
const MANIFEST_TYPE = 'application/vnd.docker.distribution.manifest.v2+json';

/**
 * A registry holding `tags` of org/app (401 for everything when `locked`), which serves the pushed manifest
 * `sha256:d` and takes manifest PUTs, and an engine that builds and pushes.
 */
async function world(
  tags: string[],
  locked = false,
): Promise<{ engine: Engine; registry: FakeHttpServer; daemon: FakeHttpServer }> {
  const registry = await startFakeHttpServer((req, res) => {
    const path = decodeURIComponent(req.url.pathname);
    const held = [...tags, 'sha256:d'].some((t) => path === `/v2/org/app/manifests/${t}`);
    if (locked) res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="r"' });
    else if (req.method === 'PUT') res.writeHead(201);
    else if (held) return void res.writeHead(200, { 'Content-Type': MANIFEST_TYPE }).end(MANIFEST);
    else res.writeHead(404);
    res.end();
  });
  const { server: daemon, engine } = await startFakeEngine((req, res) => {
    if (apiPath(req.url.pathname) === '/build') return streamLines(res, [{ aux: { ID: BUILT_IMAGE_ID } }]);
    streamLines(res, [{ aux: { Tag: req.url.searchParams.get('tag'), Digest: 'sha256:d' } }]);
  });
  track(registry, daemon);
  return { engine, registry, daemon };
}

/** The inputs of one createImage; `connects` counts the calls of its `connect`. */
function input(
  engine: Engine,
  access: RegistryAccess,
  forceBuild = false,
): CreateImageInput & { connects: number } {
  const counted = {
    connects: 0,
    connect: () => {
      counted.connects++;
      return Promise.resolve(engine);
    },
    image: imageName('org/app', access.url),
    commit: 'abc123',
    contextDir: contextDir(),
    forceBuild,
    access,
    registryRetry: { attempts: 1 },
  };
  return counted;
}

describe('createImage', () => {
  it('skips the build when the image for the commit already exists, without connecting to the engine', async () => {
    const { engine, registry, daemon } = await world(['abc123']);
    const calledBefore = daemon.requests.length;
    const statuses: string[] = [];
    const skipping = input(engine, { url: registry.url });
    const result = await createImage(skipping, {
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
    expect(skipping.connects).toBe(0);
    expect(daemon.requests.slice(calledBefore)).toEqual([]);
  });

  it('connects to the engine only once the registry says the image is missing', async () => {
    const { engine, registry } = await world([]);
    const order: string[] = [];
    await createImage(
      {
        ...input(engine, { url: registry.url }),
        connect: () => {
          order.push(`connect after ${registry.requests.length} registry request(s)`);
          return Promise.resolve(engine);
        },
      },
      { signal: new AbortController().signal, onStatus: (m) => order.push(m) },
    );
    const tag = `${registry.host}/org/app:abc123`;
    expect(order.slice(0, 3)).toEqual([
      statusMessages.imageMissing(tag),
      'connect after 1 registry request(s)',
      statusMessages.building(tag),
    ]);
  });

  it('tells the workflow which image it built before pushing it, so a failed push still cleans up', async () => {
    const registry = await startFakeHttpServer((_req, res) => void res.writeHead(404).end());
    const { server: daemon, engine } = await startFakeEngine((req, res) => {
      if (apiPath(req.url.pathname) === '/build') return streamLines(res, [{ aux: { ID: BUILT_IMAGE_ID } }]);
      streamLines(res, [{ error: 'manifest invalid: the registry refused it' }]);
    });
    track(registry, daemon);
    const built: unknown[] = [];
    await expect(
      createImage(input(engine, { url: registry.url }), {
        signal: new AbortController().signal,
        onBuilt: (image) => built.push(image),
      }),
    ).rejects.toThrow(DockerPushError);
    expect(built).toEqual([{ id: BUILT_IMAGE_ID, tags: [`${registry.host}/org/app:abc123`] }]);
  });

  it('builds and pushes the commit tag, then moves latest in the registry, in the original words', async () => {
    const { engine, registry, daemon } = await world([]);
    const result = await createImage(input(engine, { url: registry.url }), {
      signal: new AbortController().signal,
    });
    const tag = `${registry.host}/org/app:abc123`;
    expect(result.imageFound).toBe(false);
    expect(result.imageId).toBe(BUILT_IMAGE_ID);
    expect(result.messages).toEqual([
      `The docker image ${tag} does not exist, requesting docker build`,
      `Executing a docker build for ${tag}...`,
      'Successfully created image 0dc8d91103f7, tagging image 0dc8d91103f7...',
      `Successfully tagging image 0dc8d91103f7, pushing to docker registry ${registry.url}...`,
      'Successfully pushed image 0dc8d91103f7',
    ]);
    const build = daemon.requests.find((r) => apiPath(r.url.pathname) === '/build');
    expect(build?.url.searchParams.getAll('t')).toEqual([tag]);
    const pushes = daemon.requests.filter((r) => apiPath(r.url.pathname).endsWith('/push'));
    expect(pushes.map((r) => r.url.searchParams.get('tag'))).toEqual(['abc123']);
    // latest is the manifest the push stored, by its digest, copied byte for byte.
    const put = registry.requests.find((r) => r.method === 'PUT');
    expect(put?.url.pathname).toBe('/v2/org/app/manifests/latest');
    expect(put?.headers['content-type']).toBe(MANIFEST_TYPE);
    expect(put?.body.toString()).toBe(MANIFEST);
    expect(registry.requests.map((r) => `${r.method} ${decodeURIComponent(r.url.pathname)}`)).toContain(
      'GET /v2/org/app/manifests/sha256:d',
    );
  });

  it('rebuilds without asking the registry when force_build is set', async () => {
    const { engine, registry } = await world(['abc123']);
    const forced = input(engine, { url: registry.url }, true);
    const result = await createImage(forced, { signal: new AbortController().signal });
    expect(result.messages[0]).toBe('The force_build flag has been set, requesting docker build');
    expect(result.imageFound).toBe(false);
    // No lookup before the build: the registry is only used to move latest after the push.
    expect(registry.requests.filter((r) => r.method !== 'PUT' && !r.url.pathname.includes('sha256'))).toEqual(
      [],
    );
    expect(forced.connects).toBe(1);
  });

  it('fails before building when the registry refuses the credentials', async () => {
    const { engine, registry, daemon } = await world([], true);
    const access = { url: registry.url, credentials: { username: 'u', password: 'wrong' } };
    const refused = input(engine, access);
    await expect(createImage(refused, { signal: new AbortController().signal })).rejects.toThrow(
      RegistryAuthError,
    );
    expect(refused.connects).toBe(0);
    expect(daemon.requests.some((r) => apiPath(r.url.pathname) === '/build')).toBe(false);
  });
});

describe('statusMessages', () => {
  it('keeps the verify text and short ids of the original', () => {
    expect(statusMessages.verified('reg/app:abc')).toBe('Verified reg/app:abc exists in docker repo');
    expect(shortImageId(BUILT_IMAGE_ID)).toBe('0dc8d91103f7');
    expect(shortImageId('0dc8d91103f7')).toBe('0dc8d91103f7');
  });
});

describe('the build line that says a step began', () => {
  it('is a step other than FROM, in the classic and the BuildKit words', () => {
    const began = [
      'Step 2/3 : RUN make',
      'Step 3/3 : COPY . /app',
      '#5 [2/2] RUN sleep 20',
      '#7 [builder 2/4] RUN go build',
    ];
    const notYet = [
      'Step 1/3 : FROM busybox:latest',
      ' ---> 4c6bc524f85a',
      '#3 [1/2] FROM docker.io/library/busybox:latest',
      '#6 [builder 1/4] FROM golang:1.22',
      '#1 [internal] load remote build context',
      '#2 [internal] load metadata for docker.io/library/busybox:latest',
    ];

    expect(began.filter((line) => STEP_BEGINS.test(line))).toEqual(began);
    expect(notYet.filter((line) => STEP_BEGINS.test(line))).toEqual([]);
  });
});
