// BuildKit through the whole actor tree in local mode: the configuration's BUILD_BACKEND (auto), BUILD_NETWORK
// and BUILD_SECRETS reach the build, whose session pulls a private base image from the password registry and
// mounts the registry password as a secret.
import fs from 'node:fs';
import { testEnv } from '../../harness/env';
import { lookupManifest } from '../../harness/registry';
import { cleanUp, engine, privateBaseImage } from '../docker/helpers';
import {
  buildRequest,
  builderMessages,
  headOf,
  localEnv,
  removeSeededRepos,
  scratchDir,
  seedRepos,
  startTestBuilder,
  type TestBuilder,
} from './helpers';

const env = testEnv();
const auth = env.authRegistry;

let workRoot: string;
let builder: TestBuilder;
let baseRef: string;

beforeAll(async () => {
  baseRef = await privateBaseImage(await engine());
  workRoot = scratchDir();
  builder = await startTestBuilder(
    localEnv(workRoot, {
      DOCKER_REGISTRY_URL: auth.url,
      DOCKER_REGISTRY_USERNAME: auth.username,
      DOCKER_REGISTRY_PASSWORD: auth.password,
      BUILD_SECRETS: 'registry_password',
    }),
  );
});

afterAll(async () => {
  await builder?.stop();
  await removeSeededRepos();
  await cleanUp();
  fs.rmSync(workRoot, { recursive: true, force: true });
});

describe('a BuildKit build milestone in local mode', () => {
  it('builds FROM a private base image with a secret mount, pushes the image and never logs the secret', async () => {
    const repos = await seedRepos({
      'Dockerfile.eex':
        `FROM ${baseRef}\n` +
        'RUN --mount=type=secret,id=registry_password,required ' +
        'test -s /run/secrets/registry_password && echo "secret mounted"\n' +
        'RUN --mount=type=cache,target=/cache echo cached > /cache/x && cp /cache/x /x\n',
    });
    const sourceSha = await headOf(repos.source);

    const { result, collected } = await builder.run(buildRequest(repos));

    expect(result).toMatchObject({ status: 'succeeded' });
    expect(builderMessages(result)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^Successfully pushed image [0-9a-f]{12}$/)]),
    );
    expect(collected.lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^#\d+ \[stage-0 2\/3\] RUN --mount=type=secret,id=registry_password/),
        expect.stringMatching(/^#\d+ \d+\.\d{3} secret mounted$/),
      ]),
    );
    expect(collected.lines.filter((line) => line.includes(auth.password))).toEqual([]);
    const manifest = await lookupManifest(auth.url, repos.dockerUrl, sourceSha, auth);
    expect(manifest.status).toBe(200);
  });
});
