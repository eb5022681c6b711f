import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { IMAGE_RECORD, recordedImages, recordImage } from '../../../src/docker';

let root: string;
beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'oa-image-record-'));
});
afterEach(() => fs.rm(root, { recursive: true, force: true }));

async function workDir(name: string): Promise<string> {
  const dir = path.join(root, name);
  await fs.mkdir(dir);
  return dir;
}

describe('the image record of a work directory', () => {
  it('gives back the images recorded in each directory, oldest first', async () => {
    const [one, two] = [await workDir('one'), await workDir('two')];
    recordImage(one, { endpoint: 'unix:///a.sock', id: 'aaaaaaaaaaaa' });
    recordImage(one, { endpoint: 'unix:///a.sock', id: 'bbbbbbbbbbbb' });
    recordImage(two, { endpoint: 'tcp://b:2376', id: 'cccccccccccc' });

    expect(await recordedImages([one, two])).toEqual([
      { endpoint: 'unix:///a.sock', id: 'aaaaaaaaaaaa' },
      { endpoint: 'unix:///a.sock', id: 'bbbbbbbbbbbb' },
      { endpoint: 'tcp://b:2376', id: 'cccccccccccc' },
    ]);
  });

  it('reads a directory without a record as none', async () => {
    expect(await recordedImages([await workDir('empty'), path.join(root, 'gone')])).toEqual([]);
  });

  it('skips a line cut short by a kill, and lines that name no image', async () => {
    const dir = await workDir('cut');
    recordImage(dir, { endpoint: 'unix:///a.sock', id: 'aaaaaaaaaaaa' });
    await fs.appendFile(
      path.join(dir, IMAGE_RECORD),
      '{"endpoint":"unix:///a.sock","id":"../etc"}\n{"endpoint":"unix:///a.sock","id":"bbbb',
    );

    expect(await recordedImages([dir])).toEqual([{ endpoint: 'unix:///a.sock', id: 'aaaaaaaaaaaa' }]);
  });
});
