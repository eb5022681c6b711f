import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-fs';
import { buildContext, DockerBuildError } from '../../../src/docker';

interface Entry {
  readonly name: string;
  readonly type: string;
  readonly uid: number;
  readonly linkname: string | undefined;
}

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'oa-context-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function files(tree: Record<string, string>): Promise<void> {
  for (const [name, content] of Object.entries(tree)) {
    await fs.mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await fs.writeFile(path.join(dir, name), content);
  }
}

// Reads the tar back, recording each header and writing nothing to disk.
async function entries(dockerfile = 'Dockerfile'): Promise<Entry[]> {
  const seen: Entry[] = [];
  const extract = tar.extract(dir, {
    map: (header) => {
      const { name, type, uid } = header;
      seen.push({ name, type, uid, linkname: (header as { linkname?: string }).linkname });
      return header;
    },
    ignore: () => true,
  });
  await pipeline(await buildContext(dir, dockerfile), extract as unknown as NodeJS.WritableStream);
  return seen;
}

const names = async (dockerfile?: string) => (await entries(dockerfile)).map((e) => e.name).sort();

describe('buildContext', () => {
  it('sends the whole directory when there is no .dockerignore', async () => {
    await files({ Dockerfile: 'FROM scratch\n', 'app/greeting': 'hi\n' });
    expect(await names()).toEqual(['.', 'Dockerfile', 'app', 'app/greeting']);
  });

  it('leaves out what .dockerignore matches, with Docker semantics', async () => {
    await files({
      Dockerfile: 'FROM scratch\n',
      '.dockerignore': '# templates stay home\n*.eex\nREADME.md\nsecrets\n',
      'Dockerfile.eex': 'FROM <%= base %>\n',
      'README.md': 'docs\n',
      'app/README.md': 'kept: README.md matches only at the top\n',
      'app/unit.eex': 'kept: *.eex matches only at the top\n',
      'secrets/key': 'x\n',
    });
    expect(await names()).toEqual([
      '.',
      '.dockerignore',
      'Dockerfile',
      'app',
      'app/README.md',
      'app/unit.eex',
    ]);
  });

  it('always sends the Dockerfile and .dockerignore even when they are ignored', async () => {
    await files({
      Dockerfile: 'FROM scratch\n',
      '.dockerignore': 'Dockerfile\n.dockerignore\n*\n',
      data: 'x',
    });
    expect(await names()).toEqual(['.', '.dockerignore', 'Dockerfile']);
  });

  it('walks into an ignored directory when an exception re-includes something in it', async () => {
    await files({
      Dockerfile: 'FROM scratch\n',
      '.dockerignore': 'build\n!build/keep.txt\n',
      'build/keep.txt': 'k',
      'build/drop.txt': 'd',
    });
    expect(await names()).toEqual(['.', '.dockerignore', 'Dockerfile', 'build', 'build/keep.txt']);
  });

  it('sends a symlink as a link without reading what it points to outside the context', async () => {
    await files({ Dockerfile: 'FROM scratch\n' });
    await fs.symlink('/etc/hostname', path.join(dir, 'outside'));
    const link = (await entries()).find((e) => e.name === 'outside');
    expect(link).toMatchObject({ type: 'symlink', linkname: '/etc/hostname' });
  });

  it('sends every entry as owned by root', async () => {
    await files({ Dockerfile: 'FROM scratch\n', a: 'a' });
    expect((await entries()).every((e) => e.uid === 0)).toBe(true);
  });

  it('accepts a Dockerfile in a subdirectory', async () => {
    await files({ 'docker/Dockerfile.prod': 'FROM scratch\n', '.dockerignore': 'docker\n' });
    expect(await names('docker/Dockerfile.prod')).toEqual([
      '.',
      '.dockerignore',
      'docker',
      'docker/Dockerfile.prod',
    ]);
  });

  it('refuses a missing Dockerfile or one outside the context', async () => {
    await files({ other: 'x' });
    await expect(buildContext(dir, 'Dockerfile')).rejects.toThrow(
      new DockerBuildError('the build context has no Dockerfile at Dockerfile'),
    );
    await expect(buildContext(dir, '../Dockerfile')).rejects.toThrow(/leaves the build context/);
    await expect(buildContext(dir, '/etc/Dockerfile')).rejects.toThrow(/leaves the build context/);
  });

  it('refuses a Dockerfile that is a symlink', async () => {
    await files({ real: 'FROM scratch\n' });
    await fs.symlink('real', path.join(dir, 'Dockerfile'));
    await expect(buildContext(dir, 'Dockerfile')).rejects.toThrow(DockerBuildError);
  });

  it('reports a context that cannot be read as DockerBuildError', async () => {
    await files({ Dockerfile: 'FROM scratch\n' });
    await fs.mkdir(path.join(dir, '.dockerignore'));
    await expect(buildContext(dir, 'Dockerfile')).rejects.toThrow(
      /the build context could not be read: EISDIR/,
    );
  });
});
