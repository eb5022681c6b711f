import fs from 'node:fs';
import path from 'node:path';
import { configurationTable } from '../../../src/config';
import { PrometheusMetrics } from '../../../src/health/metrics';

/** docs/deploy.md must say what the code does: its settings table is generated, its metric names are real. */

const doc = fs.readFileSync(path.join(__dirname, '../../../docs/deploy.md'), 'utf8');

function between(start: string, end: string): string {
  const from = doc.indexOf(start);
  const to = doc.indexOf(end);
  if (from < 0 || to < from) throw new Error(`docs/deploy.md lacks ${start} ... ${end}`);
  return doc.slice(from + start.length, to);
}

describe('docs/deploy.md', () => {
  it('holds exactly the table of `oa-builder config --doc` between its markers', () => {
    const table = between('<!-- config-table:start -->', '<!-- config-table:end -->');
    // On a mismatch: paste the output of `node bin/oa-builder.js config --doc` between the markers.
    expect(table).toBe(`\n${configurationTable()}\n`);
    // Prettier would pad the columns, so the table must stay in its ignore block.
    const ignored = between('<!-- prettier-ignore-start -->', '<!-- prettier-ignore-end -->');
    expect(ignored).toContain(table);
  });

  it('names every metric the builder exports, and no other', () => {
    const metrics = new PrometheusMetrics({
      slots: 1,
      health: () => Promise.reject(new Error('not collected here')),
    });
    const exported = metrics.registry
      .getMetricsAsArray()
      .map((m) => m.name)
      .filter((name) => !name.startsWith('oa_builder_process_'));
    const documented = [...doc.matchAll(/^\| `(oa_builder_[a-z_]+)`/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(exported.sort());
    const processMetrics = [...doc.matchAll(/`(oa_builder_process_[a-z_]+)`/g)].map((m) => m[1] ?? '');
    const allNames = metrics.registry.getMetricsAsArray().map((m) => m.name);
    for (const name of processMetrics.filter((n) => n !== 'oa_builder_process_'))
      expect(allNames).toContain(name);
  });
});
