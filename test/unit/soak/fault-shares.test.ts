import { faultShares } from '../../../bench/soak/analyse';

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

  it('has nothing to attribute when no fault struck', () => {
    expect(faultShares([{ from: 0, to: 10, failed: true }], [])).toEqual({
      shares: [],
      failedOutsideFaults: 1,
    });
  });
});
