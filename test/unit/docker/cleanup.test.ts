import {
  BUILDER_LABEL,
  DockerEngineError,
  pruneLeftovers,
  removeBuildImages,
  type Engine,
} from '../../../src/docker';
import { sendJson, type FakeHttpServer, type ReceivedRequest } from '../registry/fake-http-server';
import { recordingLogger } from '../../fakes/logger';
import { apiPath, startFakeEngine } from './fake-engine';

let server: FakeHttpServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const OURS = 'sha256:aaa1112223334445556667778889990000000000000000000000000000000000';
const THEIRS = 'sha256:bbb1112223334445556667778889990000000000000000000000000000000000';
const built = { id: OURS, tags: ['reg/app:abc123', 'reg/app:latest'] };

/** A local image of the fake daemon: its tags, and whether a container uses it. */
interface Local {
  readonly id: string;
  tags: string[];
  readonly inUse?: boolean;
}

/**
 * A fake daemon holding `images`, which inspects and removes them by tag or id as dockerd does: removing a
 * tag only untags while others are left, and the last tag (or the id) of an image a container uses is refused
 * with 409, as is an id that several tags name. `deleteStatus` answers a removal instead, when it returns one.
 */
async function daemon(
  images: Local[],
  deleteStatus: (reference: string) => number | undefined = () => undefined,
): Promise<{ fake: FakeHttpServer; engine: Engine; images: Local[] }> {
  const find = (ref: string) =>
    images.find((i) => i.tags.includes(ref) || i.id === ref || i.id === `sha256:${ref}`);
  const { server: fake, engine } = await startFakeEngine((req, res) => {
    const path = apiPath(req.url.pathname);
    if (req.method === 'GET' && path.endsWith('/json')) {
      const image = find(path.slice('/images/'.length, -'/json'.length));
      if (!image) return sendJson(res, 404, { message: 'No such image' });
      return sendJson(res, 200, { Id: image.id, RepoTags: image.tags });
    }
    const ref = path.slice('/images/'.length);
    const forced = deleteStatus(ref);
    if (forced !== undefined) return sendJson(res, forced, { message: `status ${forced}` });
    const image = find(ref);
    if (!image) return sendJson(res, 404, { message: 'No such image' });
    const byTag = image.tags.includes(ref);
    const last = byTag ? image.tags.length === 1 : image.tags.length <= 1;
    if (!byTag && !last)
      return sendJson(res, 409, { message: 'image is referenced in multiple repositories' });
    if (last && image.inUse) return sendJson(res, 409, { message: 'container 1234 is using its image' });
    image.tags = byTag ? image.tags.filter((t) => t !== ref) : [];
    if (image.tags.length === 0) images.splice(images.indexOf(image), 1);
    sendJson(res, 200, [{ Untagged: ref }]);
  });
  server = fake;
  return { fake, engine, images };
}

const deletes = (requests: ReceivedRequest[]) =>
  requests.filter((r) => r.method === 'DELETE').map((r) => apiPath(r.url.pathname).replace('/images/', ''));
const ctx = () => ({ signal: new AbortController().signal });

describe('removeBuildImages', () => {
  it("removes both tags of the build's image, never forced, so the last one takes the image", async () => {
    const { fake, engine, images } = await daemon([{ id: OURS, tags: [...built.tags] }]);
    await expect(removeBuildImages({ engine, image: built }, ctx())).resolves.toEqual([
      'reg/app:abc123',
      'reg/app:latest',
    ]);
    expect(images).toEqual([]);
    expect(deletes(fake.requests)).toEqual(['reg/app:abc123', 'reg/app:latest']);
    // No force (it would untag others' references) and no noprune (the intermediate images go too).
    expect(
      fake.requests
        .filter((r) => r.method === 'DELETE')
        .every((r) => r.url.search === '' || r.url.search === '?'),
    ).toBe(true);
  });

  it('keeps a latest that another workflow has since moved to its own image', async () => {
    const { fake, engine, images } = await daemon([
      { id: OURS, tags: ['reg/app:abc123'] },
      { id: THEIRS, tags: ['reg/app:def456', 'reg/app:latest'] },
    ]);
    await expect(removeBuildImages({ engine, image: built }, ctx())).resolves.toEqual(['reg/app:abc123']);
    expect(deletes(fake.requests)).toEqual(['reg/app:abc123']);
    expect(images).toEqual([{ id: THEIRS, tags: ['reg/app:def456', 'reg/app:latest'] }]);
  });

  it('keeps the image when someone else has tagged it too', async () => {
    const { engine, images } = await daemon([{ id: OURS, tags: [...built.tags, 'other/app:pinned'] }]);
    await expect(removeBuildImages({ engine, image: built }, ctx())).resolves.toEqual(built.tags);
    expect(images).toEqual([{ id: OURS, tags: ['other/app:pinned'] }]);
  });

  it('keeps an image a container uses and says so in the log', async () => {
    const { engine, images } = await daemon([{ id: OURS, tags: [...built.tags], inUse: true }]);
    const log = recordingLogger();
    const removed = await removeBuildImages({ engine, image: built }, { ...ctx(), log });
    expect(removed).toEqual(['reg/app:abc123']);
    expect(images).toEqual([{ id: OURS, tags: ['reg/app:latest'], inUse: true }]);
    expect(log.lines).toContainEqual({
      level: 'warn',
      message: 'image kept: a container uses it',
      fields: { reference: 'reg/app:latest' },
    });
  });

  it('removes the image by id when both of its tags have moved on to other images', async () => {
    const { fake, engine, images } = await daemon([
      { id: OURS, tags: [] },
      { id: THEIRS, tags: [...built.tags] },
    ]);
    await expect(removeBuildImages({ engine, image: built }, ctx())).resolves.toEqual([OURS]);
    expect(deletes(fake.requests)).toEqual([OURS]);
    expect(images).toEqual([{ id: THEIRS, tags: built.tags }]);
  });

  it('leaves an image whose tags have all moved on alone when someone else has tagged it', async () => {
    const { fake, engine } = await daemon([
      { id: OURS, tags: ['other/app:pinned'] },
      { id: THEIRS, tags: [...built.tags] },
    ]);
    await expect(removeBuildImages({ engine, image: built }, ctx())).resolves.toEqual([]);
    expect(deletes(fake.requests)).toEqual([]);
  });

  it('recognises the image by the short id of "Successfully built"', async () => {
    const { engine, images } = await daemon([{ id: OURS, tags: [...built.tags] }]);
    const short = { id: OURS.slice('sha256:'.length, 'sha256:'.length + 12), tags: built.tags };
    await expect(removeBuildImages({ engine, image: short }, ctx())).resolves.toEqual(built.tags);
    expect(images).toEqual([]);
  });

  it('counts an image or a tag already gone as nothing to do', async () => {
    const gone = await daemon([]);
    await expect(removeBuildImages({ engine: gone.engine, image: built }, ctx())).resolves.toEqual([]);
    expect(deletes(gone.fake.requests)).toEqual([]);
    await gone.fake.close();
    // Gone between the look-up and the removal.
    const { engine } = await daemon([{ id: OURS, tags: [...built.tags] }], (ref) =>
      ref === 'reg/app:latest' ? 404 : undefined,
    );
    await expect(removeBuildImages({ engine, image: built }, ctx())).resolves.toEqual(['reg/app:abc123']);
  });

  it('fails with DockerEngineError when the daemon cannot remove an image', async () => {
    const { engine } = await daemon([{ id: OURS, tags: [...built.tags] }], () => 500);
    await expect(removeBuildImages({ engine, image: built }, ctx())).rejects.toThrow(
      new DockerEngineError(engine.endpoint, 500, 'status 500'),
    );
  });
});

describe('pruneLeftovers', () => {
  it("asks the engine to prune the builder's dangling images older than the grace, and logs what went", async () => {
    const { server: fake, engine } = await startFakeEngine((_req, res) =>
      sendJson(res, 200, {
        ImagesDeleted: [{ Deleted: 'sha256:1' }, { Deleted: 'sha256:2' }],
        SpaceReclaimed: 4096,
      }),
    );
    server = fake;
    const log = recordingLogger();

    const pruned = await pruneLeftovers(engine, 60_000, { signal: new AbortController().signal, log });

    expect(pruned).toEqual({ images: 2, bytes: 4096 });
    const call = fake.requests.find((r) => apiPath(r.url.pathname) === '/images/prune');
    expect(call?.method).toBe('POST');
    expect(JSON.parse(call?.url.searchParams.get('filters') ?? '')).toEqual({
      dangling: ['true'],
      label: [BUILDER_LABEL],
      until: ['60s'],
    });
    expect(log.lines).toContainEqual({
      level: 'info',
      message: 'leftover images removed',
      fields: { endpoint: engine.endpoint, images: 2, bytes: 4096 },
    });
  });

  it('logs a failed prune as a warning naming the engine, and does not throw', async () => {
    const { server: fake, engine } = await startFakeEngine((_req, res) =>
      sendJson(res, 500, { message: 'error reading image store' }),
    );
    server = fake;
    const log = recordingLogger();

    expect(await pruneLeftovers(engine, 0, { signal: new AbortController().signal, log })).toBeUndefined();
    expect(log.lines).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        message: 'could not remove leftover images',
        fields: expect.objectContaining({ endpoint: engine.endpoint }) as unknown,
      }),
    );
  });

  it('leaves it to the prune already under way on the engine, with no warning', async () => {
    const { server: fake, engine } = await startFakeEngine((_req, res) =>
      sendJson(res, 409, { message: 'a prune operation is already running' }),
    );
    server = fake;
    const log = recordingLogger();

    expect(await pruneLeftovers(engine, 0, { signal: new AbortController().signal, log })).toBeUndefined();
    expect(log.lines.filter((line) => line.level === 'warn')).toEqual([]);
    expect(log.lines).toContainEqual({
      level: 'debug',
      message: 'leftover images: another prune is under way on the engine',
      fields: { endpoint: engine.endpoint },
    });
  });
});
