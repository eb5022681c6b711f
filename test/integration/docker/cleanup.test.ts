import {
  buildImage,
  connectEngine,
  createImage,
  DockerUnreachableError,
  removeBuildImages,
  type BuiltImage,
  type Engine,
} from '../../../src/docker';
import type { RetryNotice } from '../../../src/outage';
import { imageName, imageReference } from '../../../src/registry';
import { dockerModem, removeImage, tagImage } from '../../harness/docker';
import { testEnv, uniqueName } from '../../harness/env';
import { recordingLogger } from '../../fakes/logger';
import {
  cleanUp,
  context,
  createContainer,
  engine,
  engineProxy,
  exists,
  imageId,
  noAbort,
  ourImage,
  removeContainer,
} from './helpers';

const env = testEnv();
const STEP_IMAGE = /^ ---> ([0-9a-f]{12})$/;

let docker: Engine;
let baseId: string;
beforeAll(async () => {
  docker = await engine();
  baseId = (await imageId(docker, env.baseImage)).replace('sha256:', '').slice(0, 12);
});
afterAll(cleanUp);

/** Builds `<name>:<commit>` as the builder does; the image and its steps' images. */
async function buildFor(name: string, commit: string): Promise<{ built: BuiltImage; steps: string[] }> {
  const contextDir = await context({
    Dockerfile: `FROM ${env.baseImage}\nRUN echo ${commit} > /commit\nRUN echo ${name} > /name\n`,
  });
  const lines: string[] = [];
  const built = await buildImage(
    { engine: docker, contextDir, tags: [`${name}:${commit}`] },
    { signal: noAbort(), onLine: (line) => lines.push(line) },
  );
  const steps = lines.flatMap((l) => STEP_IMAGE.exec(l)?.[1] ?? []).filter((id) => id !== baseId);
  return { built, steps };
}

describe('removeBuildImages against dockerd', () => {
  it("removes a build's tags after the push, and its image with the intermediate images", async () => {
    const access = { url: env.registry.url };
    const image = ourImage(imageName(`${uniqueName('it-cleanup-pushed')}/app`, access.url));
    const lines: string[] = [];
    let built: BuiltImage | undefined;
    await createImage(
      {
        connect: () => Promise.resolve(docker),
        image,
        commit: 'abc123',
        contextDir: await context({
          Dockerfile: `FROM ${env.baseImage}\nRUN echo one > /one\nRUN echo two > /two\n`,
        }),
        forceBuild: false,
        access,
      },
      { signal: noAbort(), onLine: (line) => lines.push(line), onBuilt: (b) => (built = b) },
    );
    const unrelated = uniqueName('it-unrelated');
    await tagImage(dockerModem(), env.baseImage, unrelated, 'keep');
    try {
      if (!built) throw new Error('createImage reported no built image');
      const removed = await removeBuildImages({ engine: docker, image: built }, { signal: noAbort() });

      expect(removed).toEqual([imageReference(image, 'abc123')]);
      const steps = lines.flatMap((l) => STEP_IMAGE.exec(l)?.[1] ?? []).filter((id) => id !== baseId);
      expect(steps).toHaveLength(2);
      for (const id of [built.id, ...steps])
        expect({ id, exists: await exists(docker, 'images', id) }).toEqual({ id, exists: false });
      expect(await exists(docker, 'images', `${unrelated}:keep`)).toBe(true);
      expect(await exists(docker, 'images', env.baseImage)).toBe(true);
    } finally {
      await removeImage(dockerModem(), `${unrelated}:keep`);
    }
  });

  it('waits out an engine that breaks the connection within the outage budget, and removes the tags', async () => {
    const name = ourImage(uniqueName('it-cleanup-outage'));
    const mine = await buildFor(name, 'ddd444');
    const proxy = await engineProxy();
    try {
      const proxied = await connectEngine(proxy.endpoint, {}, { signal: noAbort() });
      const retries: RetryNotice[] = [];
      proxy.breakNext(3);

      const removed = await removeBuildImages(
        { engine: proxied, image: mine.built },
        { signal: noAbort(), outage: { initialDelayMs: 100, onRetry: (notice) => retries.push(notice) } },
      );

      expect(removed).toEqual([`${name}:ddd444`]);
      expect(retries.map((r) => [r.dependency, r.attempt])).toEqual([
        ['docker engine', 2],
        ['docker engine', 3],
        ['docker engine', 4],
      ]);
      expect(retries[0]?.error).toBeInstanceOf(DockerUnreachableError);
      expect(await exists(docker, 'images', mine.built.id)).toBe(false);
    } finally {
      await proxy.close();
    }
  });

  it('leaves a later build of the same image alone, and removes its own image', async () => {
    const name = ourImage(uniqueName('it-cleanup-retagged'));
    const mine = await buildFor(name, 'aaa111');
    const theirs = await buildFor(name, 'bbb222');

    const removed = await removeBuildImages({ engine: docker, image: mine.built }, { signal: noAbort() });

    expect(removed).toEqual([`${name}:aaa111`]);
    expect(await exists(docker, 'images', mine.built.id)).toBe(false);
    for (const step of mine.steps) expect(await exists(docker, 'images', step)).toBe(false);
    expect(await imageId(docker, `${name}:bbb222`)).toBe(theirs.built.id);
  });

  it('removes an image by id once another build of the same commit has taken its tag', async () => {
    const name = ourImage(uniqueName('it-cleanup-orphan'));
    const mine = await buildFor(name, 'ccc333');
    const theirs = await buildFor(name, 'ccc333');

    const removed = await removeBuildImages({ engine: docker, image: mine.built }, { signal: noAbort() });

    expect(removed).toEqual([mine.built.id]);
    expect(await exists(docker, 'images', mine.built.id)).toBe(false);
    for (const step of mine.steps) expect(await exists(docker, 'images', step)).toBe(false);
    expect(await imageId(docker, `${name}:ccc333`)).toBe(theirs.built.id);
  });

  it('keeps an image a container uses, with the tag the daemon refused, and logs it', async () => {
    const name = ourImage(uniqueName('it-cleanup-in-use'));
    const { built } = await buildFor(name, 'ddd444');
    const container = await createContainer(docker, built.id);
    try {
      const log = recordingLogger();
      const removed = await removeBuildImages({ engine: docker, image: built }, { signal: noAbort(), log });

      expect(removed).toEqual([]);
      expect(await imageId(docker, `${name}:ddd444`)).toBe(built.id);
      expect(log.lines).toContainEqual({
        level: 'warn',
        message: 'image kept: a container uses it',
        fields: { reference: `${name}:ddd444` },
      });
    } finally {
      await removeContainer(docker, container);
    }
  });

  it('finds nothing to remove for an image that is already gone', async () => {
    const name = ourImage(uniqueName('it-cleanup-gone'));
    const { built } = await buildFor(name, 'eee555');
    await removeBuildImages({ engine: docker, image: built }, { signal: noAbort() });
    await expect(removeBuildImages({ engine: docker, image: built }, { signal: noAbort() })).resolves.toEqual(
      [],
    );
  });
});
