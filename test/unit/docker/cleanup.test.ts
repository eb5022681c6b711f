import { DockerEngineError, removeBuildImages, WORKFLOW_LABEL, type Engine } from '../../../src/docker';
import { sendJson, type FakeHttpServer, type ReceivedRequest } from '../registry/fake-http-server';
import { recordingLogger } from '../../fakes/logger';
import { apiPath, startFakeEngine } from './fake-engine';

let server: FakeHttpServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const images = [
  { Id: 'sha256:aaa', RepoTags: ['reg/app:abc123', 'reg/app:latest'] },
  { Id: 'sha256:bbb', RepoTags: ['<none>:<none>'] },
  { Id: 'sha256:ccc', RepoTags: null },
];

async function engineWith(
  deleteStatus: (reference: string) => number,
): Promise<{ fake: FakeHttpServer; engine: Engine }> {
  const { server: fake, engine } = await startFakeEngine((req, res) => {
    const path = apiPath(req.url.pathname);
    if (req.method === 'GET' && path === '/images/json') return sendJson(res, 200, images);
    const status = deleteStatus(path.replace('/images/', ''));
    sendJson(res, status, status === 200 ? [{ Untagged: path }] : { message: `status ${status}` });
  });
  server = fake;
  return { fake, engine };
}

const deletes = (requests: ReceivedRequest[]) =>
  requests.filter((r) => r.method === 'DELETE').map((r) => apiPath(r.url.pathname).replace('/images/', ''));
const ctx = () => ({ signal: new AbortController().signal });

describe('removeBuildImages', () => {
  it("finds the workflow's images by label and removes each tag, and untagged ones by id", async () => {
    const { fake, engine } = await engineWith(() => 200);
    await expect(removeBuildImages({ engine, workflowId: 'wf-7' }, ctx())).resolves.toEqual([
      'reg/app:abc123',
      'reg/app:latest',
      'sha256:bbb',
      'sha256:ccc',
    ]);
    const list = fake.requests.find((r) => apiPath(r.url.pathname) === '/images/json');
    expect(JSON.parse(list?.url.searchParams.get('filters') ?? '{}')).toEqual({
      label: [`${WORKFLOW_LABEL}=wf-7`],
    });
    expect(
      fake.requests
        .filter((r) => r.method === 'DELETE')
        .every((r) => r.url.search === '' || r.url.search === '?'),
    ).toBe(true);
  });

  it('counts an image already gone as nothing to do', async () => {
    const { fake, engine } = await engineWith((ref) => (ref === 'reg/app:latest' ? 404 : 200));
    const removed = await removeBuildImages({ engine, workflowId: 'wf-7' }, ctx());
    expect(removed).not.toContain('reg/app:latest');
    expect(deletes(fake.requests)).toHaveLength(4);
  });

  it('keeps an image a container uses and says so in the log', async () => {
    const { engine } = await engineWith((ref) => (ref === 'sha256:ccc' ? 409 : 200));
    const log = recordingLogger();
    const removed = await removeBuildImages({ engine, workflowId: 'wf-7' }, { ...ctx(), log });
    expect(removed).toEqual(['reg/app:abc123', 'reg/app:latest', 'sha256:bbb']);
    expect(log.lines).toContainEqual({
      level: 'warn',
      message: 'image kept: a container uses it',
      fields: { reference: 'sha256:ccc' },
    });
  });

  it('fails with DockerEngineError when the daemon cannot remove an image', async () => {
    const { engine } = await engineWith(() => 500);
    await expect(removeBuildImages({ engine, workflowId: 'wf-7' }, ctx())).rejects.toThrow(
      new DockerEngineError(500, 'status 500'),
    );
  });
});
