import { buildImage, removeBuildImages, type Engine } from '../../../src/docker';
import { dockerModem, removeImage, tagImage } from '../../harness/docker';
import { testEnv, uniqueName } from '../../harness/env';
import { cleanUp, context, engine, exists, noAbort, workflow } from './helpers';

const env = testEnv();

let docker: Engine;
beforeAll(async () => {
  docker = await engine();
});
afterAll(cleanUp);

async function buildFor(workflowId: string, name: string): Promise<string> {
  const contextDir = await context({ Dockerfile: `FROM ${env.baseImage}\nRUN echo ${name} > /name\n` });
  const built = await buildImage(
    { engine: docker, contextDir, tags: [`${name}:abc123`, `${name}:latest`], workflowId },
    { signal: noAbort() },
  );
  return built.id;
}

describe('removeBuildImages against dockerd', () => {
  it("removes only the labelled images of this workflow's build", async () => {
    const mine = workflow(uniqueName('wf-mine'));
    const other = workflow(uniqueName('wf-other'));
    const myName = uniqueName('it-cleanup-mine');
    const otherName = uniqueName('it-cleanup-other');
    const unrelated = uniqueName('it-unrelated');
    const myId = await buildFor(mine, myName);
    const otherId = await buildFor(other, otherName);
    await tagImage(dockerModem(), env.baseImage, unrelated, 'keep');
    try {
      const removed = await removeBuildImages({ engine: docker, workflowId: mine }, { signal: noAbort() });
      expect(removed.sort()).toEqual([`${myName}:abc123`, `${myName}:latest`]);
      expect(await exists(docker, 'images', myId)).toBe(false);
      expect(await exists(docker, 'images', otherId)).toBe(true);
      expect(await exists(docker, 'images', `${otherName}:latest`)).toBe(true);
      expect(await exists(docker, 'images', `${unrelated}:keep`)).toBe(true);
      expect(await exists(docker, 'images', env.baseImage)).toBe(true);
    } finally {
      await removeImage(dockerModem(), `${unrelated}:keep`);
    }
  });

  it('finds nothing to remove for a workflow that built nothing', async () => {
    await expect(
      removeBuildImages({ engine: docker, workflowId: uniqueName('wf-none') }, { signal: noAbort() }),
    ).resolves.toEqual([]);
  });
});
