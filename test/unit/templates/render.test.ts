import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { nopLogger } from '../../../src/log';
import { PathEscapeError, RepoFileError } from '../../../src/repo';
import { renderTemplate, renderTemplates, TemplateError, templatePlan } from '../../../src/templates';

const fixture = path.join(__dirname, '../../fixtures/deployment-repo');
const golden = path.join(__dirname, '../../fixtures/deployment-repo-rendered');
const commitHash = 'c0ffee5d1f0e4a8b9c7d6e5f4a3b2c1d0e9f8a7b';
const now = new Date(Date.UTC(2015, 9, 6, 14, 3, 12));
const ctx = { signal: new AbortController().signal, log: nopLogger };

let scratch: string;
let repo: string;

beforeEach(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'oa-render-'));
  repo = path.join(scratch, 'repo');
  fs.cpSync(fixture, repo, { recursive: true });
});

afterEach(() => fs.rmSync(scratch, { recursive: true, force: true }));

const read = (name: string): string => fs.readFileSync(path.join(repo, name), 'utf8');
const write = (name: string, text: string): void => fs.writeFileSync(path.join(repo, name), text);

describe('renderTemplates on a realistic deployment repository', () => {
  it('renders every template to exactly the golden output', async () => {
    await renderTemplates({ dir: repo, commitHash, now }, ctx);
    for (const name of fs.readdirSync(golden)) {
      expect({ name, text: read(name) }).toEqual({
        name,
        text: fs.readFileSync(path.join(golden, name), 'utf8'),
      });
    }
  });

  it('reports created and updated outputs as changed and an identical one as unchanged', async () => {
    const result = await renderTemplates({ dir: repo, commitHash, now }, ctx);
    expect(result.changed).toEqual([
      'Dockerfile',
      'install.sh',
      'webshop@.service',
      'ecs_task_definition.json',
    ]);
    expect(result.unchanged).toEqual(['update.sh']);
  });

  it('changes nothing when rendered again for the same commit and time', async () => {
    await renderTemplates({ dir: repo, commitHash, now }, ctx);
    const again = await renderTemplates({ dir: repo, commitHash, now }, ctx);
    expect(again.changed).toEqual([]);
    expect(again.unchanged).toHaveLength(5);
  });

  it('gives a new output the permission bits of its template, so install.sh is executable', async () => {
    await renderTemplates({ dir: repo, commitHash, now }, ctx);
    expect(fs.statSync(path.join(repo, 'install.sh')).mode & 0o111).not.toBe(0);
    expect(fs.statSync(path.join(repo, 'ecs_task_definition.json')).mode & 0o111).toBe(0);
  });

  it('stamps the current time in RFC 1123 UTC form when no time is given', async () => {
    const before = Date.now();
    await renderTemplates({ dir: repo, commitHash }, ctx);
    const stamp = /BUILD DATE\/TIME (.+)/.exec(read('webshop@.service'))?.[1] ?? '';
    expect(stamp).toMatch(/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
    expect(Date.parse(stamp)).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
  });

  it('skips templates that the repository does not have', async () => {
    for (const name of fs.readdirSync(repo).filter((n) => n.endsWith('.eex')))
      fs.rmSync(path.join(repo, name));
    write('Dockerfile.eex', 'FROM scratch\n');
    const result = await renderTemplates({ dir: repo, commitHash, now }, ctx);
    expect(result).toEqual({ changed: ['Dockerfile'], unchanged: [] });
    expect(fs.existsSync(path.join(repo, 'install.sh'))).toBe(false);
  });

  it('binds dst_port only in unit files, so using it in the Dockerfile is an error naming file and line', async () => {
    write('Dockerfile.eex', 'FROM scratch\nEXPOSE <%= dst_port %>\n');
    const failure = renderTemplates({ dir: repo, commitHash, now }, ctx);
    await expect(failure).rejects.toThrow(TemplateError);
    await expect(failure).rejects.toThrow('Dockerfile.eex:2: undefined variable dst_port');
  });

  it('stops before the next template once the signal has aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      renderTemplates({ dir: repo, commitHash, now }, { ...ctx, signal: controller.signal }),
    ).rejects.toThrow('aborted');
    expect(read('Dockerfile')).not.toContain(commitHash);
  });
});

describe('templatePlan', () => {
  it('lists the fixed templates in the original order with every unit template in between', async () => {
    write('api@.service.eex', '[Unit]\n');
    const plan = await templatePlan(repo);
    expect(plan.map((e) => `${e.template}>${e.output}${e.isUnit ? ' (unit)' : ''}`)).toEqual([
      'Dockerfile.eex>Dockerfile',
      'install.sh.eex>install.sh',
      'update.sh.eex>update.sh',
      'api@.service.eex>api@.service (unit)',
      'webshop@.service.eex>webshop@.service (unit)',
      'ecs_task_definition.json.eex>ecs_task_definition.json',
    ]);
  });
});

describe('rendering refuses paths that leave the repository', () => {
  const bindings = { commit_hash: commitHash, timestamp: 'now' };

  it('refuses a template name with ../ before touching the file system', async () => {
    fs.writeFileSync(path.join(scratch, 'evil.eex'), 'x');
    const entry = { template: '../evil.eex', output: 'Dockerfile', isUnit: false };
    await expect(renderTemplate(repo, entry, bindings)).rejects.toThrow(PathEscapeError);
  });

  it('refuses an output name with ../, leaving the file outside untouched', async () => {
    fs.writeFileSync(path.join(scratch, 'outside'), 'keep');
    const entry = { template: 'Dockerfile.eex', output: '../outside', isUnit: false };
    await expect(renderTemplate(repo, entry, bindings)).rejects.toThrow(PathEscapeError);
    expect(fs.readFileSync(path.join(scratch, 'outside'), 'utf8')).toBe('keep');
  });

  it('refuses an absolute output name', async () => {
    const entry = { template: 'Dockerfile.eex', output: path.join(scratch, 'abs'), isUnit: false };
    await expect(renderTemplate(repo, entry, bindings)).rejects.toThrow(PathEscapeError);
  });

  it('refuses a template that is a symbolic link to a file outside the repository', async () => {
    fs.writeFileSync(path.join(scratch, 'secret'), 'TOKEN=hunter2 <%= commit_hash %>');
    fs.rmSync(path.join(repo, 'Dockerfile.eex'));
    fs.symlinkSync(path.join(scratch, 'secret'), path.join(repo, 'Dockerfile.eex'));
    const failure = renderTemplates({ dir: repo, commitHash, now }, ctx);
    await expect(failure).rejects.toThrow(PathEscapeError);
    await expect(failure).rejects.toThrow('Dockerfile.eex: is a symbolic link');
    expect(read('Dockerfile')).not.toContain('hunter2');
  });

  it('refuses an output that is a symbolic link, even one pointing inside the repository', async () => {
    const readme = read('README.md');
    fs.rmSync(path.join(repo, 'Dockerfile'));
    fs.symlinkSync('README.md', path.join(repo, 'Dockerfile'));
    await expect(renderTemplates({ dir: repo, commitHash, now }, ctx)).rejects.toThrow(PathEscapeError);
    expect(read('README.md')).toBe(readme);
  });

  it('refuses a dangling symbolic link as output instead of creating its target', async () => {
    fs.symlinkSync(path.join(scratch, 'created-through-link'), path.join(repo, 'install.sh'));
    await expect(renderTemplates({ dir: repo, commitHash, now }, ctx)).rejects.toThrow(PathEscapeError);
    expect(fs.existsSync(path.join(scratch, 'created-through-link'))).toBe(false);
  });

  it('refuses a unit template that is a directory rather than a file', async () => {
    fs.mkdirSync(path.join(repo, 'odd@.service.eex'));
    const failure = renderTemplates({ dir: repo, commitHash, now }, ctx);
    await expect(failure).rejects.toThrow(RepoFileError);
    await expect(failure).rejects.toThrow('odd@.service.eex: is not a regular file');
  });

  it('refuses to write an output whose name is taken by a directory', async () => {
    fs.mkdirSync(path.join(repo, 'install.sh'));
    await expect(renderTemplates({ dir: repo, commitHash, now }, ctx)).rejects.toThrow(
      'install.sh: is not a regular file',
    );
  });
});
