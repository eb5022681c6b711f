import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { connectEngine, DockerUnreachableError, TESTED_API_VERSION } from '../../../src/docker';
import { testEnv } from '../../harness/env';
import { noAbort } from './helpers';

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

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
    const endpoint = `tcp://127.0.0.1:${await closedPort()}`;
    await expect(connectEngine(endpoint, {}, { signal: noAbort() })).rejects.toThrow(
      new DockerUnreachableError(endpoint, 'ECONNREFUSED'),
    );
  });

  it('gives DockerUnreachableError for a socket that does not exist', async () => {
    const endpoint = `unix://${path.join(os.tmpdir(), 'oa-no-daemon', 'docker.sock')}`;
    await expect(connectEngine(endpoint, {}, { signal: noAbort() })).rejects.toThrow(DockerUnreachableError);
  });
});
