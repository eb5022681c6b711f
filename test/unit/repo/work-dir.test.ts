import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createWorkDir, removeWorkDirs, staleWorkDirs, WorkDirError } from '../../../src/repo';

let root: string;

beforeEach(() => {
  root = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'oa-workdirs-')), 'work');
});

afterEach(() => fs.rmSync(path.dirname(root), { recursive: true, force: true }));

describe('createWorkDir', () => {
  it('creates the root on demand and a fresh private directory under it', async () => {
    const work = await createWorkDir(root, 'wf-1');
    expect(path.dirname(work.path)).toBe(root);
    expect(path.basename(work.path)).toMatch(/^wf-1-.{6}$/);
    expect(fs.statSync(work.path).isDirectory()).toBe(true);
    expect(fs.statSync(root).mode & 0o077).toBe(0);
  });

  it('fails with a WorkDirError naming the root and keeping the system code when a file stands where the root should be', async () => {
    fs.writeFileSync(root, 'not a directory');
    const failure = await createWorkDir(root, 'wf-1').catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(WorkDirError);
    expect(failure).toMatchObject({ name: 'WorkDirError', code: 'EEXIST' });
    expect((failure as Error).message).toMatch(
      new RegExp(`^cannot make a work directory under ${root}: .*EEXIST`),
    );
  });

  it('never gives two runs of the same workflow id the same path', async () => {
    const [a, b] = await Promise.all([createWorkDir(root, 'same'), createWorkDir(root, 'same')]);
    expect(a.path).not.toBe(b.path);
  });

  it('turns a hostile workflow id into one harmless path component', async () => {
    const work = await createWorkDir(root, '../../etc/passwd; rm -rf /');
    expect(path.dirname(work.path)).toBe(root);
    expect(path.basename(work.path)).toMatch(/^______etc_passwd__rm_-rf__-/);
  });

  it('shortens very long ids and names empty ones', async () => {
    expect(path.basename((await createWorkDir(root, 'x'.repeat(500))).path)).toHaveLength(64 + 7);
    expect(path.basename((await createWorkDir(root, '')).path)).toMatch(/^workflow-/);
  });

  it('removes everything on dispose and tolerates being disposed twice, even at once', async () => {
    const work = await createWorkDir(root, 'wf');
    fs.mkdirSync(path.join(work.path, 'deployment/.git'), { recursive: true });
    fs.writeFileSync(path.join(work.path, 'deployment/Dockerfile'), 'FROM scratch');
    await Promise.all([work.dispose(), work.dispose()]);
    await work.dispose();
    expect(fs.existsSync(work.path)).toBe(false);
    expect(fs.existsSync(root)).toBe(true);
  });

  it('removes symbolic links without following them out of the directory', async () => {
    const outside = path.join(path.dirname(root), 'outside');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'keep'), 'keep');
    const work = await createWorkDir(root, 'wf');
    fs.symlinkSync(outside, path.join(work.path, 'link'));
    await work.dispose();
    expect(fs.readFileSync(path.join(outside, 'keep'), 'utf8')).toBe('keep');
  });

  it('leaves sibling work directories alone', async () => {
    const mine = await createWorkDir(root, 'a');
    const theirs = await createWorkDir(root, 'a');
    await mine.dispose();
    expect(fs.existsSync(theirs.path)).toBe(true);
  });
});

describe('the work directories a killed run left', () => {
  it('removes the work directories a killed run left and nothing else', async () => {
    const left = await createWorkDir(root, 'wf-killed');
    fs.writeFileSync(path.join(left.path, 'Dockerfile'), 'FROM scratch\n');
    fs.mkdirSync(path.join(root, 'not-ours'));
    fs.writeFileSync(path.join(root, 'notes.txt'), 'keep');
    expect(await removeWorkDirs(await staleWorkDirs(root))).toEqual([path.basename(left.path)]);
    expect(fs.readdirSync(root).sort()).toEqual(['not-ours', 'notes.txt']);
  });

  it('has nothing to do when the root does not exist yet', async () => {
    expect(await staleWorkDirs(path.join(root, 'missing'))).toEqual([]);
  });
});
