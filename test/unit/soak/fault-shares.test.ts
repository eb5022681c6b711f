import { faultShares, imageWasPushed, overlappedKinds, type PairRun } from '../../../bench/soak/analyse';

describe('the attribution of failed workflows to fault windows', () => {
  it('counts each good workflow for every fault kind whose window it overlapped, and its failure with it', () => {
    const windows = [
      { kind: 'git', from: 100, to: 200 },
      { kind: 'registry', from: 300, to: 350 },
      { kind: 'git', from: 500, to: 520 },
    ];
    const runs = [
      { from: 50, to: 150, failed: true }, // git
      { from: 190, to: 310, failed: false }, // git and registry
      { from: 400, to: 450, failed: true }, // none
      { from: 510, to: 600, failed: false }, // git
      { from: 0, to: 40, failed: false }, // none
    ];

    expect(faultShares(runs, windows)).toEqual({
      shares: [
        { kind: 'git', failed: 1, overlapped: 3 },
        { kind: 'registry', failed: 0, overlapped: 1 },
      ],
      failedOutsideFaults: 1,
    });
  });

  it('names the kinds a run overlapped once each, in the order they struck', () => {
    const windows = [
      { kind: 'engine', from: 100, to: 200 },
      { kind: 'git', from: 150, to: 300 },
      { kind: 'engine', from: 250, to: 260 },
      { kind: 'kill', from: 400, to: 500 },
    ];
    expect(overlappedKinds({ from: 120, to: 270, failed: true }, windows)).toEqual(['engine', 'git']);
    expect(overlappedKinds({ from: 310, to: 390, failed: true }, windows)).toEqual([]);
  });

  it('has nothing to attribute when no fault struck', () => {
    expect(faultShares([{ from: 0, to: 10, failed: true }], [])).toEqual({
      shares: [],
      failedOutsideFaults: 1,
    });
  });
});

describe('which config runs could find their image', () => {
  const config: PairRun = { pair: 7, kind: 'config', sentAt: 1000, reply: { at: 1200, failed: true } };
  const run = (kind: string, pair: number, at: number, failed: boolean): PairRun => ({
    pair,
    kind,
    sentAt: at - 100,
    reply: { at, failed },
  });

  it('counts a config run whose pair was built or found before it was sent', () => {
    expect(imageWasPushed(config, [run('build', 7, 900, false), config])).toBe(true);
    expect(imageWasPushed(config, [run('build', 7, 900, true), run('exists', 7, 950, false)])).toBe(true);
  });

  it('leaves out a config run whose build failed, answered after it was sent, or was of another pair', () => {
    expect(imageWasPushed(config, [run('build', 7, 900, true), config])).toBe(false);
    expect(imageWasPushed(config, [run('build', 7, 1100, false)])).toBe(false);
    expect(imageWasPushed(config, [run('build', 8, 900, false)])).toBe(false);
    expect(imageWasPushed(config, [{ pair: 7, kind: 'build', sentAt: 500, reply: undefined }])).toBe(false);
  });
});
