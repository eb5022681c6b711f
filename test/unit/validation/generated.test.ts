import fs from 'node:fs';
import path from 'node:path';
import { validatorModules } from '../../../src/validation/generate';

const ROOT = path.join(__dirname, '../../..');
const modules = validatorModules();

// When one fails, a schema, an ajv option or ajv itself changed: `npm run validators` rewrites the files.
describe('the committed validators', () => {
  it.each(modules.map(({ file, code }) => [file, code]))(
    '%s is what `npm run validators` generates from the schemas now',
    (file, code) => {
      expect(fs.readFileSync(path.join(ROOT, file), 'utf8')).toBe(code);
    },
  );

  it('are all written by the generator, none left behind by a module it no longer writes', () => {
    const committed = fs
      .readdirSync(path.join(ROOT, 'src'), { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.generated.ts'))
      .map((file) => path.posix.join('src', file.split(path.sep).join('/')));
    expect(committed.sort()).toEqual(modules.map((m) => m.file).sort());
  });
});
