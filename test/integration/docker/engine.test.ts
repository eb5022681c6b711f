import os from 'node:os';
import path from 'node:path';
import {
  connectEngine,
  DockerApiVersionError,
  DockerUnreachableError,
  engineJson,
  TESTED_API_VERSION,
  type Engine,
} from '../../../src/docker';
import { testEnv } from '../../harness/env';
import { freeLoopbackPort } from '../../harness/ports';
import { engineProxy, noAbort, type EngineProxy } from './helpers';

describe('connectEngine against dockerd', () => {
  it('negotiates the tested API version with the test daemon and sees a docker engine', async () => {
    const docker = await connectEngine(testEnv().dockerHost, {}, { signal: noAbort() });
    expect(docker).toMatchObject({
      apiVersion: TESTED_API_VERSION,
      flavour: 'docker',
      endpoint: testEnv().dockerHost,
    });
  });

  it('gives DockerUnreachableError for a TCP endpoint nobody listens on', async () => {
    const endpoint = `tcp://127.0.0.1:${await freeLoopbackPort()}`;
    await expect(connectEngine(endpoint, {}, { signal: noAbort() })).rejects.toThrow(
      new DockerUnreachableError(endpoint, 'ECONNREFUSED'),
    );
  });

  it('gives DockerUnreachableError for a socket that does not exist', async () => {
    const endpoint = `unix://${path.join(os.tmpdir(), 'oa-no-daemon', 'docker.sock')}`;
    await expect(connectEngine(endpoint, {}, { signal: noAbort() })).rejects.toThrow(DockerUnreachableError);
  });
});

describe('API version negotiation with dockerd', () => {
  let proxy: EngineProxy;
  beforeEach(async () => {
    proxy = await engineProxy();
  });
  afterEach(() => proxy.close());

  const connect = (maxApiVersion: string): Promise<Engine> =>
    connectEngine(proxy.endpoint, { maxApiVersion }, { signal: noAbort() });
  const daemonVersions = async (docker: Engine) =>
    (await engineJson(docker, { method: 'GET', path: '/version' }, noAbort())) as {
      ApiVersion: string;
      MinAPIVersion: string;
    };
  const requests = (): string[] => proxy.calls.map((c) => `${c.method} ${c.url.split('?')[0] ?? ''}`);

  it('asks the unversioned /version first, then speaks a lower builder maximum on every call', async () => {
    const docker = await connect('1.40');
    expect(docker.apiVersion).toBe('1.40');
    await engineJson(docker, { method: 'GET', path: '/images/json' }, noAbort());
    expect(requests()).toEqual(['GET /version', 'GET /v1.40/images/json']);
  });

  it("speaks the daemon's maximum from /version when the builder would allow a newer one", async () => {
    const docker = await connect('1.99');
    const { ApiVersion } = await daemonVersions(docker);
    expect(docker.apiVersion).toBe(ApiVersion);
    expect(requests()).toEqual(['GET /version', `GET /v${ApiVersion}/version`]);
  });

  it("refuses a daemon whose minimum from /version is above the builder's maximum", async () => {
    const { MinAPIVersion } = await daemonVersions(await connect(TESTED_API_VERSION));
    const [major, minor] = MinAPIVersion.split('.').map(Number);
    const below = `${major}.${(minor ?? 0) - 1}`;
    await expect(connect(below)).rejects.toThrow(
      new DockerApiVersionError(
        proxy.endpoint,
        `it needs API ${MinAPIVersion} or newer, this builder speaks up to ${below}`,
      ),
    );
  });
});
