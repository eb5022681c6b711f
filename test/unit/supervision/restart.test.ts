import { RestartWindow, shouldRestart } from '../../../actors/supervision/restart';
import type { ExitReason, RestartType } from '../../../actors/supervision';

const reason = { name: 'Error', message: 'x', path: 'p', at: '2026-01-01T00:00:00.000Z' };
const exits: Record<ExitReason['kind'], ExitReason> = {
  normal: { kind: 'normal' },
  failed: { kind: 'failed', reason },
  crashed: { kind: 'crashed', reason },
  shutdown: { kind: 'shutdown' },
  killed: { kind: 'killed', reason },
};

describe('shouldRestart', () => {
  it.each<[RestartType, ExitReason['kind'][]]>([
    ['permanent', ['normal', 'failed', 'crashed', 'shutdown', 'killed']],
    ['transient', ['crashed', 'killed']],
    ['temporary', []],
  ])('restarts a %s child after exactly %j', (restart, restarted) => {
    const actual = Object.values(exits)
      .filter((exit) => shouldRestart(restart, exit))
      .map((exit) => exit.kind);
    expect(actual).toEqual(restarted);
  });
});

describe('RestartWindow', () => {
  it('admits intensity restarts within the period and refuses the next one', () => {
    const window = new RestartWindow(3, 5000, () => 1000);
    expect([window.admit(), window.admit(), window.admit(), window.admit()]).toEqual([
      true,
      true,
      true,
      false,
    ]);
  });

  it('forgets restarts older than the period', () => {
    let now = 0;
    const window = new RestartWindow(2, 5000, () => now);
    window.admit();
    now = 1000;
    window.admit();
    now = 5000;
    expect(window.admit()).toBe(true);
    now = 5500;
    expect(window.admit()).toBe(false);
  });

  it('refuses the first restart with intensity 0', () => {
    expect(new RestartWindow(0, 5000).admit()).toBe(false);
  });
});
