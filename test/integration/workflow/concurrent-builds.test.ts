// Two workflows building one image from different commits on one engine at the same time, through the build
// step as a workflow runs it (build, push, latest, cleanup), with both builders: neither fails the other.
import fs from 'node:fs';
import { stepDeps } from '../../../src/app';
import { loadConfig } from '../../../src/config';
import { nopLogger } from '../../../src/log';
import { buildStep, type ImageStepInput, type StepContext } from '../../../src/workflow/steps';
import { testEnv, uniqueName } from '../../harness/env';
import { lookupManifest } from '../../harness/registry';
import { registryProxy, type RegistryProxy } from '../../harness/registry-proxy';
import { cleanUp, context, engine, exists, ourImage } from '../docker/helpers';
import { localEnv, scratchDir } from './helpers';

const env = testEnv();

let workDir: string;
let proxy: RegistryProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  fs.rmSync(workDir, { recursive: true, force: true });
});
afterAll(cleanUp);

const ctx = (): StepContext => ({
  signal: new AbortController().signal,
  log: nopLogger,
  report: { event: () => undefined, save: () => undefined, line: () => undefined },
});

/** A promise and the function that settles it. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe.each(['classic', 'buildkit'])(
  'two builds of one image on one engine with the %s builder',
  (backend) => {
    it('both succeed when the first is held at its push until the second has finished, and latest names the first', async () => {
      workDir = scratchDir('oa-concurrent-it-');
      const path = `${uniqueName(`it-concurrent-${backend}`)}/app`;
      const [first, second] = ['1111111', '2222222'];
      // The first build's manifest upload waits until the second workflow is done: by then the second has built
      // (after the first), pushed and cleaned up, the interleaving that used to take the first's `latest` away.
      const pushed = gate();
      const secondDone = gate();
      proxy = await registryProxy(env.registry.url, async (req) => {
        if (req.method === 'PUT' && req.url?.endsWith(`/manifests/${first}`)) {
          pushed.open();
          await secondDone.promise;
        }
        return false;
      });
      const config = loadConfig({
        mode: 'local',
        env: localEnv(workDir, { DOCKER_REGISTRY_URL: proxy.url, BUILD_BACKEND: backend }),
      });
      const docker = await engine();
      const deps = stepDeps(config, {
        acquire: () =>
          Promise.resolve({
            engine: docker,
            reason: 'test',
            waitedMs: 0,
            release: () => undefined,
            fault: () => Promise.resolve(undefined),
          }),
      });
      ourImage(`${proxy.host}/${path}`);
      const step = async (commit: string): Promise<ImageStepInput> => ({
        forceBuild: false,
        docker: { dockerUrl: path, registry: null },
        commit,
        contextDir: await context({ Dockerfile: `FROM ${env.baseImage}\nRUN echo ${commit} > /commit\n` }),
        workflowId: `${path}-${commit}`,
      });

      const one = buildStep(await step(first), deps, ctx());
      await pushed.promise;
      const two = await buildStep(await step(second), deps, ctx()).finally(secondDone.open);
      const oneResult = await one;

      expect([oneResult.imageFound, two.imageFound]).toEqual([false, false]);
      const lookup = (tag: string) => lookupManifest(env.registry.url, path, tag);
      const [firstManifest, secondManifest, latest] = [
        await lookup(first),
        await lookup(second),
        await lookup('latest'),
      ];
      expect([firstManifest.status, secondManifest.status, latest.status]).toEqual([200, 200, 200]);
      expect(firstManifest.digest).not.toBe(secondManifest.digest);
      // The first build finished last, so latest is its image.
      expect(latest.digest).toBe(firstManifest.digest);
      // Each build removed what it made on the engine.
      for (const tag of [first, second, 'latest']) {
        const local = `${proxy.host}/${path}:${tag}`;
        expect({ local, exists: await exists(docker, 'images', local) }).toEqual({ local, exists: false });
      }
      for (const id of [oneResult.imageId, two.imageId])
        expect({ id, exists: await exists(docker, 'images', String(id)) }).toEqual({ id, exists: false });
    });
  },
);
