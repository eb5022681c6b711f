import {
  buildImage,
  connectEngine,
  DockerBuildError,
  engineJson,
  type BuildInput,
  type Engine,
} from '../../../src/docker';
import { testEnv, uniqueName } from '../../harness/env';
import {
  authRegistryAccess,
  cleanUp,
  context,
  engine,
  filesInImage,
  noAbort,
  ourImage,
  privateBaseImage,
  processesRunning,
} from './helpers';

const env = testEnv();

let docker: Engine;
beforeAll(async () => {
  docker = await engine();
});
afterAll(cleanUp);

async function input(files: Record<string, string>, extra: Partial<BuildInput> = {}): Promise<BuildInput> {
  const name = ourImage(`${uniqueName('it-bk')}/app`);
  return {
    engine: docker,
    contextDir: await context(files),
    tags: [`${name}:1`, `${name}:latest`],
    backend: 'buildkit',
    networkMode: env.buildNetwork,
    ...extra,
  };
}

async function until(condition: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return condition();
}

const MULTI_STAGE = `FROM ${env.baseImage} AS tools
RUN --mount=type=cache,target=/cache echo compiled > /cache/out && cp /cache/out /tool && echo "tool ready"
FROM ${env.baseImage}
COPY --from=tools /tool /opt/tool
RUN cat /opt/tool
`;

describe('buildImage with BuildKit against dockerd', () => {
  it('builds a multi-stage Dockerfile with a cache mount and COPY --from, logging steps and output', async () => {
    const lines: string[] = [];
    const build = await input({ Dockerfile: MULTI_STAGE });
    const built = await buildImage(build, { signal: noAbort(), onLine: (l) => lines.push(l) });
    expect(built.id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(built.tags).toEqual(build.tags);
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^#\d+ \[tools 2\/2\] RUN --mount=type=cache,target=\/cache echo compiled/),
        expect.stringMatching(/^#\d+ \[stage-1 2\/3\] COPY --from=tools \/tool \/opt\/tool$/),
        expect.stringMatching(/^#\d+ \d+\.\d{3} tool ready$/),
        expect.stringMatching(/^#\d+ \d+\.\d{3} compiled$/),
        expect.stringMatching(/^#\d+ DONE \d+\.\ds$/),
      ]),
    );
    expect(await filesInImage(docker, built.id, '/opt')).toEqual(['opt', 'opt/tool']);
    for (const tag of build.tags) {
      const inspected = (await engineJson(
        docker,
        { method: 'GET', path: `/images/${tag}/json` },
        noAbort(),
      )) as {
        Id: string;
      };
      expect(inspected.Id).toBe(built.id);
    }
  });

  it('reports the steps it finds in the cache as CACHED when the cache is on', async () => {
    const first = await input({ Dockerfile: MULTI_STAGE }, { noCache: false });
    await buildImage(first, { signal: noAbort() });
    const lines: string[] = [];
    await buildImage(
      { ...first, tags: [`${first.tags[0] ?? ''}-again`] },
      {
        signal: noAbort(),
        onLine: (l) => lines.push(l),
      },
    );
    expect(lines).toEqual(expect.arrayContaining([expect.stringMatching(/^#\d+ CACHED$/)]));
  });

  it('fails a failing RUN with the daemon message and the output of the command', async () => {
    const lines: string[] = [];
    const build = await input({
      Dockerfile: `FROM ${env.baseImage}\nRUN echo "about to fail" && echo "disk on fire" >&2 && exit 3\n`,
    });
    const failure = buildImage(build, { signal: noAbort(), onLine: (l) => lines.push(l) });
    await expect(failure).rejects.toThrow(DockerBuildError);
    const message = ((await failure.catch((err: unknown) => err)) as Error).message;
    expect(message).toMatch(/exit code: 3/);
    expect(message).toContain('[2/2] RUN echo "about to fail"');
    expect(message).toContain('disk on fire');
    expect(lines).toEqual(expect.arrayContaining([expect.stringMatching(/^#\d+ ERROR: .*exit code: 3/)]));
  });

  it('stops the build in the engine when aborted mid-step, so its RUN process ends', async () => {
    const seconds = String(700 + Math.floor(Math.random() * 200));
    const build = await input({ Dockerfile: `FROM ${env.baseImage}\nRUN sleep ${seconds}\n` });
    const controller = new AbortController();
    const running = buildImage(build, { signal: controller.signal });
    running.catch(() => undefined);
    expect(await until(async () => (await processesRunning(['sleep', seconds])) === 1, 30_000)).toBe(true);
    controller.abort(new Error('workflow cancelled'));
    await expect(running).rejects.toThrow('workflow cancelled');
    expect(await until(async () => (await processesRunning(['sleep', seconds])) === 0, 30_000)).toBe(true);
  });

  it('picks BuildKit for auto on the test engine and classic on an engine that speaks only API 1.38', async () => {
    const auto = await input({ Dockerfile: `FROM ${env.baseImage}\nRUN echo auto\n` }, { backend: 'auto' });
    const bkLines: string[] = [];
    await buildImage(auto, { signal: noAbort(), onLine: (l) => bkLines.push(l) });
    expect(bkLines).toEqual(expect.arrayContaining([expect.stringMatching(/^#\d+ \[2\/2\] RUN echo auto$/)]));

    const old = await connectEngine(env.dockerHost, { maxApiVersion: '1.38' }, { signal: noAbort() });
    const classicLines: string[] = [];
    await buildImage({ ...auto, engine: old }, { signal: noAbort(), onLine: (l) => classicLines.push(l) });
    expect(classicLines).toEqual(expect.arrayContaining(['Step 2/2 : RUN echo auto']));
  });
});

describe('BuildKit sessions', () => {
  const access = authRegistryAccess();
  let baseRef: string;

  beforeAll(async () => {
    baseRef = await privateBaseImage(docker);
  });

  it('pulls a private base image with the credentials the session gives for its registry', async () => {
    const build = await input({ Dockerfile: `FROM ${baseRef}\nRUN echo private base\n` }, { access });
    const built = await buildImage(build, { signal: noAbort() });
    expect(built.id).toMatch(/^sha256:/);
  });

  it('cannot pull that base image when the session has no credentials for its registry', async () => {
    const build = await input(
      { Dockerfile: `FROM ${baseRef}\nRUN echo private base\n` },
      { access: { url: env.registry.url, credentials: access.credentials } },
    );
    const failure = buildImage(build, { signal: noAbort() });
    await expect(failure).rejects.toThrow(DockerBuildError);
    await expect(failure).rejects.toThrow(/401 Unauthorized/);
  });

  it('mounts a secret into a RUN step without it reaching a layer, the history or the log', async () => {
    const secret = `s3cret-${uniqueName('value')}`;
    const lines: string[] = [];
    const build = await input(
      {
        Dockerfile:
          `FROM ${env.baseImage}\n` +
          'RUN --mount=type=secret,id=registry_password wc -c < /run/secrets/registry_password > /length\n' +
          'RUN --mount=type=secret,id=registry_password ls /run/secrets && cat /length\n',
      },
      { secrets: { registry_password: secret } },
    );
    const built = await buildImage(build, { signal: noAbort(), onLine: (l) => lines.push(l) });
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^#\d+ \d+\.\d{3} registry_password$/),
        expect.stringMatching(new RegExp(`^#\\d+ \\d+\\.\\d{3} ${secret.length}$`)),
      ]),
    );
    expect(lines.filter((l) => l.includes(secret))).toEqual([]);
    const history = await engineJson(
      docker,
      { method: 'GET', path: `/images/${built.id}/history` },
      noAbort(),
    );
    expect(JSON.stringify(history)).not.toContain(secret);
    const saved = await imageTar(built.id);
    expect(saved.includes(Buffer.from(secret))).toBe(false);
    expect(await filesInImage(docker, built.id, '/run')).not.toContain('run/secrets/registry_password');
  });

  it('fails a build that mounts a secret the builder does not give', async () => {
    const build = await input({
      Dockerfile: `FROM ${env.baseImage}\nRUN --mount=type=secret,id=git_token,required cat /run/secrets/git_token\n`,
    });
    await expect(buildImage(build, { signal: noAbort() })).rejects.toThrow(/git_token/);
  });
});

/** The whole image as `docker save` writes it: every layer and the config. */
async function imageTar(id: string): Promise<Buffer> {
  const res = await new Promise<NodeJS.ReadableStream>((resolve, reject) => {
    docker.modem.dial(
      { path: `/images/${id}/get?`, method: 'GET', options: {}, isStream: true, statusCodes: { 200: true } },
      (err, stream) => (err ? reject(err) : resolve(stream as NodeJS.ReadableStream)),
    );
  });
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
