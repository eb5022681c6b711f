import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseUnit, PathEscapeError, readEcsTaskDefinition, readUnits } from '../../../src/repo';

const rendered = path.join(__dirname, '../../fixtures/deployment-repo-rendered');
const goldenUnits: unknown = JSON.parse(
  fs.readFileSync(path.join(__dirname, '../../fixtures/deployment-repo-units.json'), 'utf8'),
);

describe('parseUnit', () => {
  it('collects name=value options with their sections and skips comments and blank lines', () => {
    const text = '# header\n[Unit]\nDescription=web\n\n[Service]\nExecStart=/bin/run --x=1\n';
    expect(parseUnit('web.service', text)).toEqual({
      name: 'web.service',
      options: [
        { section: 'Unit', name: 'Description', value: 'web' },
        { section: 'Service', name: 'ExecStart', value: '/bin/run --x=1' },
      ],
    });
  });

  it('trims the line but not the name and value around the first =', () => {
    expect(parseUnit('u', '[S]\n   Name = value  \r\n').options).toEqual([
      { section: 'S', name: 'Name ', value: ' value' },
    ]);
  });

  it('skips options with an empty name or an empty value', () => {
    expect(parseUnit('u', '[S]\n=value\nName=\nOk=1\n').options).toEqual([
      { section: 'S', name: 'Ok', value: '1' },
    ]);
  });

  it('skips lines without =, where the original produced a nonsense option', () => {
    expect(parseUnit('u', '[S]\njust text\n').options).toEqual([]);
  });

  it('does not join continuation lines: the backslash stays and the next line stands alone', () => {
    expect(parseUnit('u', '[S]\nExecStart=/bin/run \\\n--flag=1\n').options).toEqual([
      { section: 'S', name: 'ExecStart', value: '/bin/run \\' },
      { section: 'S', name: '--flag', value: '1' },
    ]);
  });

  it('keeps options before any section header in the empty section', () => {
    expect(parseUnit('u', 'A=1\n').options).toEqual([{ section: '', name: 'A', value: '1' }]);
  });

  it('cuts section names like the original: up to 100 characters after "[" minus the last one', () => {
    expect(parseUnit('u', '[Unclosed\nA=1\n').options[0]?.section).toBe('Unclose');
    const long = 'S'.repeat(150);
    expect(parseUnit('u', `[${long}]\nA=1\n`).options[0]?.section).toBe('S'.repeat(99));
  });
});

describe('readUnits and readEcsTaskDefinition on rendered output', () => {
  it('parses the rendered unit file of the fixture exactly as the golden units', async () => {
    await expect(readUnits(rendered)).resolves.toEqual(goldenUnits);
  });

  it('returns the raw rendered ECS task definition', async () => {
    const text = fs.readFileSync(path.join(rendered, 'ecs_task_definition.json'), 'utf8');
    await expect(readEcsTaskDefinition(rendered)).resolves.toBe(text);
  });

  describe('in a repository without them', () => {
    let dir: string;
    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oa-units-'));
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('returns no units and a null task definition', async () => {
      fs.writeFileSync(path.join(dir, 'web.service.eex'), '[Unit]\n');
      await expect(readUnits(dir)).resolves.toEqual([]);
      await expect(readEcsTaskDefinition(dir)).resolves.toBeNull();
    });

    it('refuses a unit file that is a symbolic link', async () => {
      fs.symlinkSync('/etc/hostname', path.join(dir, 'web.service'));
      await expect(readUnits(dir)).rejects.toThrow(PathEscapeError);
    });
  });
});
