import { engineFaultShare } from '../../../bench/soak/analyse';

const ENGINE = 'unix:///engines/soak1.sock';

describe('the split of the failures during the engine fault', () => {
  it('tells builds a step had begun on the stopped engine from those it failed before that, and from other causes', () => {
    const runs = [
      { buildHost: ENGINE, stepBegan: true, reason: `docker engine ${ENGINE} is unreachable: ECONNRESET` },
      { buildHost: ENGINE, stepBegan: true, reason: 'The command returned a non-zero code: 137' },
      { buildHost: ENGINE, stepBegan: false, reason: 'the build context could not be sent' },
      { buildHost: 'unix:///other.sock', stepBegan: false, reason: `docker engine ${ENGINE} is unreachable` },
      { buildHost: 'unix:///other.sock', stepBegan: true, reason: 'registry answered 503' },
      { buildHost: undefined, stepBegan: false, reason: 'git server unreachable' },
    ];

    expect(engineFaultShare(runs, ENGINE)).toEqual({
      startedThere: 2,
      startedThereNamed: 1,
      notStarted: 2,
      otherCauses: 2,
    });
  });
});
