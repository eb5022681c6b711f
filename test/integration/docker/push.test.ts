import http from 'node:http';
import { buildImage, connectEngine, createImage, pushImage, type Engine } from '../../../src/docker';
import {
  imageName,
  imageReference,
  manifestExists,
  RegistryAuthError,
  registryHost,
  type ImageName,
  type RegistryAccess,
} from '../../../src/registry';
import { testEnv, uniqueName } from '../../harness/env';
import { lookupManifest } from '../../harness/registry';
import { registryProxy } from '../../harness/registry-proxy';
import { recordingLogger } from '../../fakes/logger';
import { cleanUp, context, engine, engineProxy, noAbort, ourImage, type EngineProxy } from './helpers';

const env = testEnv();
const auth = env.authRegistry;
const rightAccess: RegistryAccess = {
  url: auth.url,
  credentials: { username: auth.username, password: auth.password },
};
const wrongAccess: RegistryAccess = {
  url: auth.url,
  credentials: { username: auth.username, password: 'not-the-password' },
};
// Slow enough that a retry would show in the elapsed time.
const patient = { attempts: 4, initialDelayMs: 2000, maxDelayMs: 4000 };

let docker: Engine;
beforeAll(async () => {
  docker = await engine();
});
afterAll(cleanUp);

/** Builds a small image tagged `<image>:<tag>` locally. */
async function built(image: ImageName, tag: string): Promise<void> {
  const contextDir = await context({ Dockerfile: `FROM ${env.baseImage}\nRUN echo ${tag} > /tag\n` });
  await buildImage(
    {
      engine: docker,
      contextDir,
      tags: [imageReference(ourImage(image), tag)],
    },
    { signal: noAbort() },
  );
}

describe('pushing to the htpasswd registry', () => {
  const image = imageName(`${uniqueName('it-auth')}/app`, auth.url);

  beforeAll(() => built(image, 'v1'));

  it('pushes with the configured credentials and finds the tag by a Basic-authenticated manifest lookup', async () => {
    await expect(
      pushImage({ engine: docker, image, tags: ['v1'], access: rightAccess }, { signal: noAbort() }),
    ).resolves.toEqual([{ tag: 'v1', digest: expect.stringMatching(/^sha256:/) as unknown }]);
    await expect(
      manifestExists({ image, tag: 'v1', access: rightAccess }, { signal: noAbort() }),
    ).resolves.toBe(true);
    expect((await lookupManifest(auth.url, image.repository, 'v1', auth)).status).toBe(200);
  });

  it('fails the exists check fast with RegistryAuthError when the password is wrong', async () => {
    const log = recordingLogger();
    const started = Date.now();
    const failure = manifestExists(
      { image, tag: 'v1', access: wrongAccess, retry: patient },
      { signal: noAbort(), log },
    );
    await expect(failure).rejects.toThrow(new RegistryAuthError(auth.host, 'the credentials were rejected'));
    expect(Date.now() - started).toBeLessThan(1000);
    expect(log.lines).toEqual([]);
  });

  it('fails the push fast with RegistryAuthError when the password is wrong, without retrying', async () => {
    const log = recordingLogger();
    const started = Date.now();
    const failure = pushImage(
      { engine: docker, image, tags: ['v1'], access: wrongAccess, retry: patient },
      { signal: noAbort(), log },
    );
    await expect(failure).rejects.toThrow(
      new RegistryAuthError(auth.host, 'unauthorized: authentication required'),
    );
    expect(Date.now() - started).toBeLessThan(1000);
    expect(log.lines.filter((l) => l.level === 'warn')).toEqual([]);
  });
});

const isManifest = (req: http.IncomingMessage, method: string): boolean =>
  req.method === method && /\/manifests\//.test(req.url ?? '');

/**
 * A proxy on loopback in front of the open registry that answers 503 to the first `failures` requests that
 * `fails` picks, and forwards everything else.
 */
async function flakyRegistry(
  failures: number,
  fails: (req: http.IncomingMessage) => boolean,
): Promise<{ host: string; picked: () => number; close: () => Promise<void> }> {
  let picked = 0;
  const proxy = await registryProxy(env.registry.url, (req, res) => {
    if (!fails(req) || ++picked > failures) return false;
    req.resume();
    res.writeHead(503, { 'Content-Type': 'application/json' });
    res.end('{"errors":[{"code":"UNAVAILABLE","message":"try again"}]}');
    return true;
  });
  return { host: proxy.host, picked: () => picked, close: () => proxy.close() };
}

const fastRetry = { attempts: 4, initialDelayMs: 100, maxDelayMs: 400 };
const retries = (log: ReturnType<typeof recordingLogger>, message: string) =>
  log.lines.filter((l) => l.message === message);

describe('a registry that fails twice', () => {
  it('has a push retried with backoff after two 5xx answers, and the push succeeds', async () => {
    const flaky = await flakyRegistry(2, (req) => isManifest(req, 'PUT'));
    try {
      const path = `${uniqueName('it-flaky')}/app`;
      const image = imageName(`${flaky.host}/${path}`, env.registry.url);
      await built(image, 'v1');
      const log = recordingLogger();
      await pushImage(
        { engine: docker, image, tags: ['v1'], access: { url: env.registry.url }, retry: fastRetry },
        { signal: noAbort(), log },
      );
      expect(flaky.picked()).toBe(3);
      expect(retries(log, 'docker push failed; retrying')).toHaveLength(2);
      expect((await lookupManifest(env.registry.url, path, 'v1')).status).toBe(200);
    } finally {
      await flaky.close();
    }
  });

  it('has the image lookup retried after two 5xx answers, which then finds the image and skips the build', async () => {
    const path = `${uniqueName('it-flaky-lookup')}/app`;
    const direct = imageName(path, env.registry.url);
    await built(direct, 'v1');
    await pushImage(
      { engine: docker, image: direct, tags: ['v1'], access: { url: env.registry.url } },
      { signal: noAbort() },
    );
    const flaky = await flakyRegistry(2, (req) => isManifest(req, 'HEAD'));
    try {
      const log = recordingLogger();
      const result = await createImage(
        {
          connect: () => Promise.resolve(docker),
          image: imageName(`${flaky.host}/${path}`, env.registry.url),
          commit: 'v1',
          contextDir: await context({ Dockerfile: 'FROM scratch\n' }),
          forceBuild: false,
          access: { url: env.registry.url },
          registryRetry: fastRetry,
        },
        { signal: noAbort(), log },
      );
      expect(result).toMatchObject({ imageFound: true, imageId: undefined });
      expect(flaky.picked()).toBe(3);
      expect(retries(log, 'registry manifest lookup failed; retrying')).toHaveLength(2);
    } finally {
      await flaky.close();
    }
  });
});

/** What the daemon received in X-Registry-Auth with each push request that went through `proxy`. */
function pushAuths(proxy: EngineProxy): { tag: string | null; auth: unknown }[] {
  return proxy.calls
    .filter((c) => c.method === 'POST' && /\/push\?/.test(c.url))
    .map((c) => {
      const header = c.headers['x-registry-auth'];
      const auth =
        typeof header === 'string'
          ? (JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as unknown)
          : null;
      return { tag: new URL(c.url, 'http://engine').searchParams.get('tag'), auth };
    });
}

describe('the X-Registry-Auth header', () => {
  let proxy: EngineProxy;
  let proxied: Engine;
  beforeEach(async () => {
    proxy = await engineProxy();
    proxied = await connectEngine(proxy.endpoint, {}, { signal: noAbort() });
  });
  afterEach(() => proxy.close());

  it('goes as {} with the push of each tag when createImage pushes anonymously', async () => {
    const access = { url: env.registry.url };
    await createImage(
      {
        connect: () => Promise.resolve(proxied),
        image: ourImage(imageName(`${uniqueName('it-header')}/app`, access.url)),
        commit: 'h1',
        contextDir: await context({ Dockerfile: `FROM ${env.baseImage}\nRUN echo h1 > /h1\n` }),
        forceBuild: true,
        access,
      },
      { signal: noAbort() },
    );
    // latest is set in the registry, not pushed by the engine.
    expect(pushAuths(proxy)).toEqual([{ tag: 'h1', auth: {} }]);
  });

  it.each([
    [
      'the configured credentials to the configured registry',
      auth.url,
      { username: auth.username, password: auth.password, serveraddress: auth.host },
    ],
    ['{} to another registry, so the password never reaches it', env.registry.url, {}],
  ])('carries %s', async (_name, registryUrl, expected) => {
    const image = imageName(`${registryHost(registryUrl)}/${uniqueName('it-header')}/app`, auth.url);
    await built(image, 'v1');
    await pushImage({ engine: proxied, image, tags: ['v1'], access: rightAccess }, { signal: noAbort() });
    expect(pushAuths(proxy)).toEqual([{ tag: 'v1', auth: expected }]);
  });
});
