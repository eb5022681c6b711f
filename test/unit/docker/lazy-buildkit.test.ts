// protobufjs (with the BuildKit definitions it parses) is loaded by the first BuildKit build, not with the
// docker adapter: a process that builds with the classic builder never pays for it. The mock only counts.
import { BUILT_IMAGE_ID, buildFixture } from './fake-engine';
import { sessionEngine } from './fake-session-engine';

let mockProtobufLoads = 0;
jest.mock('protobufjs', () => {
  mockProtobufLoads++;
  return jest.requireActual<object>('protobufjs');
});

const fixture = buildFixture();

describe('loading the BuildKit backend', () => {
  it('waits until the first BuildKit build, though the docker adapter and the steps are loaded', async () => {
    /* eslint-disable @typescript-eslint/no-require-imports */
    const docker = require('../../../src/docker') as typeof import('../../../src/docker');
    require('../../../src/workflow/steps');
    /* eslint-enable @typescript-eslint/no-require-imports */
    expect(mockProtobufLoads).toBe(0);

    const fake = await sessionEngine((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(`${JSON.stringify({ id: 'moby.image.id', aux: { ID: BUILT_IMAGE_ID } })}\n`);
      });
    });
    try {
      const built = await docker.buildImage(
        { engine: fake.engine, contextDir: fixture.contextDir(), tags: ['app:1'], backend: 'buildkit' },
        { signal: new AbortController().signal },
      );
      expect(built.id).toBe(BUILT_IMAGE_ID);
      expect(mockProtobufLoads).toBe(1);
    } finally {
      await fake.close();
    }
  });
});
