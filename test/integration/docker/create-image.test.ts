import {
  createImage,
  DockerBuildError,
  type CreateImageInput,
  type CreateImageResult,
  type Engine,
} from '../../../src/docker';
import { nopLogger } from '../../../src/log';
import path from 'node:path';
import { imageName, ImageNotFoundError, imageReference, verifyImage } from '../../../src/registry';
import { renderTemplates } from '../../../src/templates';
import { REPO_ROOT, testEnv, uniqueName } from '../../harness/env';
import { lookupManifest } from '../../harness/registry';
import {
  authRegistryAccess,
  cleanUp,
  context,
  contextFrom,
  engine,
  exists,
  filesInImage,
  noAbort,
  ourImage,
} from './helpers';

const env = testEnv();
const access = { url: env.registry.url };
const dockerfile = `FROM ${env.baseImage}\nCOPY greeting /greeting\nRUN echo "built from $(cat /greeting)" > /built\n`;

let docker: Engine;
beforeAll(async () => {
  docker = await engine();
});
afterAll(cleanUp);

async function run(dockerUrl: string, commit: string, forceBuild = false): Promise<CreateImageResult> {
  const input: CreateImageInput = {
    connect: () => Promise.resolve(docker),
    image: ourImage(imageName(dockerUrl, access.url)),
    commit,
    contextDir: await context({ Dockerfile: dockerfile, greeting: commit }),
    forceBuild,
    access,
  };
  return createImage(input, { signal: noAbort() });
}

describe('createImage of the realistic deployment repository fixture', () => {
  it('builds the rendered fixture FROM the local busybox, runs its install.sh step and pushes both tags', async () => {
    const commit = 'c0ffee5d1f0e4a8b9c7d6e5f4a3b2c1d0e9f8a7b';
    const contextDir = await contextFrom(path.join(REPO_ROOT, 'test/fixtures/deployment-repo'));
    await renderTemplates({ dir: contextDir, commitHash: commit }, { signal: noAbort(), log: nopLogger });
    const image = ourImage(imageName(`${uniqueName('it-fixture')}/webshop`, access.url));
    const lines: string[] = [];
    const result = await createImage(
      {
        connect: () => Promise.resolve(docker),
        image,
        commit,
        contextDir,
        forceBuild: false,
        access,
      },
      { signal: noAbort(), onLine: (l) => lines.push(l) },
    );
    expect(result.imageFound).toBe(false);
    expect(lines[0]).toMatch(new RegExp(`^Step 1/\\d+ : FROM ${env.baseImage}$`));
    expect(lines).toContainEqual(
      expect.stringMatching(
        new RegExp(`^Step \\d+/\\d+ : RUN /build/install.sh ${commit} && rm -rf /build$`),
      ),
    );
    expect(await filesInImage(docker, imageReference(image, commit), '/opt/webshop')).toEqual([
      'webshop',
      'webshop/bin',
      'webshop/bin/start',
    ]);
    expect(await filesInImage(docker, imageReference(image, commit), '/etc/webshop')).toEqual([
      'webshop',
      'webshop/config.xml',
    ]);
    for (const tag of [commit, 'latest']) {
      expect({ tag, status: (await lookupManifest(env.registry.url, image.repository, tag)).status }).toEqual(
        {
          tag,
          status: 200,
        },
      );
    }
  });
});

describe('createImage against dockerd and the open registry', () => {
  const dockerUrl = `${uniqueName('it')}/app`;
  const image = imageName(dockerUrl, access.url);
  let first: CreateImageResult;

  beforeAll(async () => {
    first = await run(dockerUrl, 'c0ffee1');
  });

  it('builds the image from the local base with its RUN step and pushes both tags', async () => {
    expect(first.imageFound).toBe(false);
    expect(first.messages[0]).toBe(
      `The docker image ${env.registry.host}/${dockerUrl}:c0ffee1 does not exist, requesting docker build`,
    );
    expect(first.messages.at(-1)).toMatch(/^Successfully pushed image [0-9a-f]{12}$/);
    for (const tag of ['c0ffee1', 'latest']) {
      expect((await lookupManifest(env.registry.url, image.repository, tag)).status).toBe(200);
    }
    expect(await exists(docker, 'images', imageReference(image, 'c0ffee1'))).toBe(true);
  });

  it('skips the build when the tag already exists in the registry', async () => {
    const again = await run(dockerUrl, 'c0ffee1');
    expect(again).toEqual({
      imageFound: true,
      reference: `${image.name}:c0ffee1`,
      imageId: undefined,
      messages: [`The docker image ${image.name}:c0ffee1 already exists, skipping docker build`],
    });
  });

  it('rebuilds and pushes again when force_build is set', async () => {
    const before = await lookupManifest(env.registry.url, image.repository, 'c0ffee1');
    const forced = await run(dockerUrl, 'c0ffee1', true);
    expect(forced.messages[0]).toBe('The force_build flag has been set, requesting docker build');
    expect(forced.imageId).not.toBe(first.imageId);
    const after = await lookupManifest(env.registry.url, image.repository, 'c0ffee1');
    expect(after.status).toBe(200);
    expect(after.digest).not.toBe(before.digest);
  });

  it('verifies a pushed tag by manifest and refuses one that was never pushed', async () => {
    await expect(
      verifyImage({ image, tag: 'c0ffee1', access }, { signal: noAbort() }),
    ).resolves.toBeUndefined();
    await expect(verifyImage({ image, tag: 'never-pushed', access }, { signal: noAbort() })).rejects.toThrow(
      ImageNotFoundError,
    );
  });

  it('fails the step with the message of a failing RUN step and pushes nothing', async () => {
    const failing = `${uniqueName('it')}/broken`;
    const input: CreateImageInput = {
      connect: () => Promise.resolve(docker),
      image: ourImage(imageName(failing, access.url)),
      commit: 'bad1',
      contextDir: await context({ Dockerfile: `FROM ${env.baseImage}\nRUN echo about to fail && exit 3\n` }),
      forceBuild: false,
      access,
    };
    const statuses: string[] = [];
    await expect(
      createImage(input, { signal: noAbort(), onStatus: (m) => statuses.push(m) }),
    ).rejects.toThrow(
      new DockerBuildError(
        "The command '/bin/sh -c echo about to fail && exit 3' returned a non-zero code: 3",
      ),
    );
    expect(statuses.at(-1)).toBe(`Executing a docker build for ${env.registry.host}/${failing}:bad1...`);
    expect((await lookupManifest(env.registry.url, failing, 'bad1')).status).toBe(404);
  });
});

describe('createImage against the password registry', () => {
  it('pushes the commit and sets latest to the same manifest with the configured credentials', async () => {
    const auth = authRegistryAccess();
    const dockerUrl = `${uniqueName('it-auth')}/app`;
    const image = ourImage(imageName(dockerUrl, auth.url));
    await createImage(
      {
        connect: () => Promise.resolve(docker),
        image,
        commit: 'a0a0a0a',
        contextDir: await context({ Dockerfile: `FROM ${env.baseImage}\nRUN echo auth > /auth\n` }),
        forceBuild: false,
        access: auth,
      },
      { signal: noAbort() },
    );
    const credentials = auth.credentials as { username: string; password: string };
    const [commit, latest] = [
      await lookupManifest(auth.url, image.repository, 'a0a0a0a', credentials),
      await lookupManifest(auth.url, image.repository, 'latest', credentials),
    ];
    expect([commit.status, latest.status]).toEqual([200, 200]);
    expect(latest.digest).toBe(commit.digest);
  });
});
