import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

const actorsDir = path.resolve(__dirname, '../../../actors');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sources(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

// Comments may name what the code avoids; only code counts.
const files = sources(actorsDir).map((file) => ({
  name: path.relative(actorsDir, file),
  text: readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, ''),
}));

// nact's own supervision is where its bugs live; these rules keep every actor off it.
describe('the nact boundary', () => {
  it('lets only the supervision layer import nact', () => {
    const importers = files.filter((f) => /from 'nact'|require\('nact'\)/.test(f.text)).map((f) => f.name);
    expect(importers.length).toBeGreaterThan(0);
    expect(importers.every((name) => name.startsWith(`supervision${path.sep}`))).toBe(true);
  });

  it('uses no stateless actors, no nact supervision decisions and no nact logging', () => {
    const offenders = files
      .filter((f) =>
        /spawnStateless|onCrash|\.escalate|\.resume\b|\.reset\b|ctx\.log\.(trace|critical)|configureLogging/.test(
          f.text,
        ),
      )
      .map((f) => f.name);
    expect(offenders).toEqual([]);
  });
});
