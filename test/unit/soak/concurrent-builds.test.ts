import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { concurrentBuilds } from '../../../bench/soak/faults-delivery';

describe('the count of workflows built twice at once, from the replicas logs', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oa-concurrent-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const at = (s: number): string => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
  const write = (name: string, lines: [number, string, string?][]): string => {
    const file = path.join(dir, name);
    const text = lines.map(([s, message, id]) =>
      JSON.stringify({ timestamp: at(s), message, ...(id ? { workflow_id: id, step: 'build' } : {}) }),
    );
    fs.writeFileSync(file, `${text.join('\n')}\nnot json\n`);
    return file;
  };

  it('names a workflow whose build ran on two replicas at the same time, and not one built after the other', () => {
    const a = write('a', [
      [0, 'step started', 'twice'],
      [10, 'step finished', 'twice'],
      [20, 'step started', 'after'],
      [25, 'step finished', 'after'],
    ]);
    const b = write('b', [
      [5, 'step started', 'twice'],
      [12, 'step finished', 'twice'],
      [26, 'step started', 'after'],
      [30, 'step finished', 'after'],
    ]);

    expect(concurrentBuilds([a, b].map((file) => ({ file, kills: [] })))).toEqual(['twice']);
  });

  it('ends the build of a killed replica at the kill, or else at its next start, so a later run elsewhere does not count', () => {
    const a = write('a', [
      [0, 'step started', 'killed'],
      [8, 'registered with the Manager'],
      [40, 'step started', 'open'],
    ]);
    const b = write('b', [
      [9, 'step started', 'killed'],
      [15, 'step finished', 'killed'],
      [38, 'step started', 'open'],
      [39, 'step finished', 'open'],
    ]);

    expect(concurrentBuilds([a, b].map((file) => ({ file, kills: [] })))).toEqual([]);
    // Killed at 3 s and started again at 20: the build elsewhere from 9 s came after it.
    const c = write('c', [
      [0, 'step started', 'late'],
      [20, 'registered with the Manager'],
    ]);
    const d = write('d', [
      [9, 'step started', 'late'],
      [15, 'step finished', 'late'],
    ]);
    const killedAt3s = Date.parse(at(3));
    expect(
      concurrentBuilds([
        { file: c, kills: [killedAt3s] },
        { file: d, kills: [] },
      ]),
    ).toEqual([]);
    expect(
      concurrentBuilds([
        { file: c, kills: [] },
        { file: d, kills: [] },
      ]),
    ).toEqual(['late']);
  });
});
