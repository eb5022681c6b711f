// docker-modem (and ssh2 with it) is loaded when the first engine is dialled, not when the adapter is: a
// process or workflow that needs no engine never pays for it. The mock only counts the loads.
import { sendJson, startFakeHttpServer } from '../registry/fake-http-server';

let mockModemLoads = 0;
jest.mock('docker-modem', () => {
  mockModemLoads++;
  return jest.requireActual<object>('docker-modem');
});

describe('loading docker-modem', () => {
  it('waits until the first engine is dialled, though the docker adapter and the steps are loaded', async () => {
    /* eslint-disable @typescript-eslint/no-require-imports */
    const docker = require('../../../src/docker') as typeof import('../../../src/docker');
    require('../../../src/workflow/steps');
    /* eslint-enable @typescript-eslint/no-require-imports */
    expect(mockModemLoads).toBe(0);

    const server = await startFakeHttpServer((_req, res) => sendJson(res, 200, { ApiVersion: '1.41' }));
    try {
      const engine = await docker.connectEngine(
        `tcp://${server.host}`,
        {},
        { signal: new AbortController().signal },
      );
      expect(engine.apiVersion).toBe('1.41');
      expect(mockModemLoads).toBe(1);
    } finally {
      await server.close();
    }
  });
});
