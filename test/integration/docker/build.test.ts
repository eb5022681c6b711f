import {
  buildImage,
  connectEngine,
  DockerBuildError,
  DockerTimeoutError,
  engineJson,
  type BuildInput,
  type Engine,
  type RecordedImage,
} from '../../../src/docker';
import { testEnv, uniqueName } from '../../harness/env';
import {
  cleanUp,
  context,
  engine,
  engineProxy,
  exists,
  filesInImage,
  imageId,
  noAbort,
  ourImage,
} from './helpers';

const env = testEnv();
const STEP_IMAGE = /^ ---> ([0-9a-f]{12})$/;
const RUNNING_IN = /^ ---> Running in ([0-9a-f]{12})$/;

let docker: Engine;
let baseId: string;
beforeAll(async () => {
  docker = await engine();
  baseId = (await imageId(docker, env.baseImage)).replace('sha256:', '').slice(0, 12);
});
afterAll(cleanUp);

async function input(files: Record<string, string>, extra: Partial<BuildInput> = {}): Promise<BuildInput> {
  const name = ourImage(`${uniqueName('it-build')}/app`);
  return {
    engine: docker,
    contextDir: await context(files),
    tags: [`${name}:1`, `${name}:latest`],
    ...extra,
  };
}

/** What a build's output says it made: the images of its steps (not the base) and its containers. */
function madeBy(lines: string[]): { images: string[]; containers: string[] } {
  const ids = (pattern: RegExp) => lines.flatMap((l) => pattern.exec(l)?.[1] ?? []);
  return { images: ids(STEP_IMAGE).filter((id) => id !== baseId), containers: ids(RUNNING_IN) };
}

async function leftovers(made: { images: string[]; containers: string[] }): Promise<string[]> {
  const found: string[] = [];
  for (const id of made.images) if (await exists(docker, 'images', id)) found.push(`image ${id}`);
  for (const id of made.containers) if (await exists(docker, 'containers', id)) found.push(`container ${id}`);
  return found;
}

describe('buildImage against dockerd', () => {
  it('builds in exactly the Dockerfile steps, without a LABEL step, and tells each image it commits as it commits it', async () => {
    const lines: string[] = [];
    const heard: { image: RecordedImage; linesBefore: number }[] = [];
    const build = await input({
      Dockerfile: `FROM ${env.baseImage}\nRUN echo one > /one\nRUN echo two > /two\n`,
    });
    const built = await buildImage(build, {
      signal: noAbort(),
      onLine: (l) => lines.push(l),
      onImage: (image) => heard.push({ image, linesBefore: lines.length }),
    });
    // Each as soon as its step's " ---> <id>" line is read, before the line is passed on.
    expect(heard).toEqual(
      madeBy(lines).images.map((id) => ({
        image: { endpoint: docker.endpoint, id },
        linesBefore: lines.indexOf(` ---> ${id}`),
      })),
    );
    expect(heard).toHaveLength(2);
    expect(built.id).toContain(heard[1]?.image.id);
    expect(lines.filter((l) => l.startsWith('Step '))).toEqual([
      `Step 1/3 : FROM ${env.baseImage}`,
      'Step 2/3 : RUN echo one > /one',
      'Step 3/3 : RUN echo two > /two',
    ]);
    const inspected = (await engineJson(
      docker,
      { method: 'GET', path: `/images/${built.id}/json` },
      noAbort(),
    )) as { Config: { Labels?: Record<string, string> | null } };
    expect(inspected.Config.Labels ?? {}).toEqual({});
    const history = (await engineJson(
      docker,
      { method: 'GET', path: `/images/${built.id}/history` },
      noAbort(),
    )) as { CreatedBy: string }[];
    expect(history.filter((layer) => layer.CreatedBy.includes('LABEL'))).toEqual([]);
  });

  it('leaves out what .dockerignore excludes and sends the Dockerfile and .dockerignore', async () => {
    const build = await input({
      Dockerfile: `FROM ${env.baseImage}\nCOPY . /ctx\n`,
      '.dockerignore': '*.eex\nREADME.md\nsecrets\n',
      'Dockerfile.eex': 'FROM <%= base %>\n',
      'README.md': 'not for the image\n',
      'secrets/token': 'do-not-ship\n',
      'app/greeting': 'hello\n',
    });
    const built = await buildImage(build, { signal: noAbort() });
    expect(await filesInImage(docker, built.id, '/ctx')).toEqual([
      'ctx',
      'ctx/.dockerignore',
      'ctx/Dockerfile',
      'ctx/app',
      'ctx/app/greeting',
    ]);
  });

  it('fails a failing RUN step with its message and leaves none of its containers or images', async () => {
    const lines: string[] = [];
    const build = await input({
      Dockerfile: `FROM ${env.baseImage}\nRUN echo first > /first\nRUN echo about to fail && exit 3\n`,
    });
    await expect(buildImage(build, { signal: noAbort(), onLine: (l) => lines.push(l) })).rejects.toThrow(
      new DockerBuildError(
        "The command '/bin/sh -c echo about to fail && exit 3' returned a non-zero code: 3",
      ),
    );
    expect(lines).toContain('about to fail');
    const made = madeBy(lines);
    expect(made.images).toHaveLength(1);
    expect(await leftovers(made)).toEqual([]);
  });

  it("fails a Dockerfile the daemon cannot parse with the daemon's message", async () => {
    const build = await input({ Dockerfile: `FROM ${env.baseImage}\nFOO bar\n` });
    await expect(buildImage(build, { signal: noAbort() })).rejects.toThrow(
      new DockerBuildError('dockerfile parse error line 2: unknown instruction: FOO'),
    );
  });

  it('closes the build request when aborted mid-step, stops quickly and leaves no image or container', async () => {
    const proxy = await engineProxy();
    try {
      const lines: string[] = [];
      const controller = new AbortController();
      const reason = new Error('workflow cancelled');
      const build = await input(
        { Dockerfile: `FROM ${env.baseImage}\nRUN echo first > /first\nRUN echo sleeping && sleep 30\n` },
        { engine: await connectEngine(proxy.endpoint, {}, { signal: noAbort() }) },
      );
      let abortedAt = 0;
      const pending = buildImage(build, {
        signal: controller.signal,
        onLine: (line) => {
          lines.push(line);
          if (line === 'sleeping') {
            abortedAt = Date.now();
            controller.abort(reason);
          }
        },
      });
      await expect(pending).rejects.toBe(reason);
      expect(Date.now() - abortedAt).toBeLessThan(10_000);
      expect(proxy.calls.filter((c) => c.url.includes('/build?')).map((c) => c.closedEarly)).toEqual([true]);
      const made = madeBy(lines);
      expect(made.containers).toHaveLength(2);
      expect(await leftovers(made)).toEqual([]);
      for (const tag of build.tags)
        expect({ tag, exists: await exists(docker, 'images', tag) }).toEqual({ tag, exists: false });
    } finally {
      await proxy.close();
    }
  });

  it('cancels a build that outlives its deadline', async () => {
    const build = await input({ Dockerfile: `FROM ${env.baseImage}\nRUN sleep 30\n` }, { timeoutMs: 1500 });
    const lines: string[] = [];
    const started = Date.now();
    await expect(buildImage(build, { signal: noAbort(), onLine: (l) => lines.push(l) })).rejects.toThrow(
      new DockerTimeoutError('build', 1.5),
    );
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await leftovers(madeBy(lines))).toEqual([]);
  });
});
