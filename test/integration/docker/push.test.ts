import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildImage, pushImage, type Engine } from '../../../src/docker';
import {
  imageName,
  imageReference,
  manifestExists,
  RegistryAuthError,
  type ImageName,
  type RegistryAccess,
} from '../../../src/registry';
import { testEnv, uniqueName } from '../../harness/env';
import { lookupManifest } from '../../harness/registry';
import { recordingLogger } from '../../fakes/logger';
import { cleanUp, context, engine, noAbort, workflow } from './helpers';

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
      tags: [imageReference(image, tag)],
      workflowId: workflow(uniqueName('wf')),
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

/** A proxy on loopback in front of the open registry that answers 503 to the first `failures` manifest uploads. */
async function flakyRegistry(
  failures: number,
): Promise<{ host: string; manifestPuts: () => number; close: () => Promise<void> }> {
  const upstream = new URL(env.registry.url);
  let puts = 0;
  const proxy = http.createServer((req, res) => {
    if (req.method === 'PUT' && /\/manifests\//.test(req.url ?? '')) {
      puts += 1;
      if (puts <= failures) {
        req.resume();
        res.writeHead(503, { 'Content-Type': 'application/json' });
        res.end('{"errors":[{"code":"UNAVAILABLE","message":"try again"}]}');
        return;
      }
    }
    const forward = http.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        path: req.url,
        method: req.method,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    host: `127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    manifestPuts: () => puts,
    close: () => new Promise((resolve) => proxy.close(() => resolve())),
  };
}

describe('pushing through a registry that fails twice', () => {
  it('retries the 5xx with backoff and succeeds', async () => {
    const flaky = await flakyRegistry(2);
    try {
      const path = `${uniqueName('it-flaky')}/app`;
      const image = imageName(`${flaky.host}/${path}`, env.registry.url);
      await built(image, 'v1');
      const log = recordingLogger();
      const retry = { attempts: 4, initialDelayMs: 100, maxDelayMs: 400 };
      await pushImage(
        { engine: docker, image, tags: ['v1'], access: { url: env.registry.url }, retry },
        { signal: noAbort(), log },
      );
      expect(flaky.manifestPuts()).toBe(3);
      expect(log.lines.filter((l) => l.message === 'docker push failed; retrying')).toHaveLength(2);
      expect((await lookupManifest(env.registry.url, path, 'v1')).status).toBe(200);
    } finally {
      await flaky.close();
    }
  });
});
