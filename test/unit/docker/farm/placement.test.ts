import { place, rendezvousScore, type EngineLoad } from '../../../../src/docker/farm/placement';

const engine = (endpoint: string, inUse = 0, slots = 4, healthy = true): EngineLoad => ({
  endpoint,
  inUse,
  slots,
  healthy,
});

/** Keys whose affine engine (highest score) among `endpoints` is `wanted`. */
function keysFor(wanted: string, endpoints: string[], count = 1): string[] {
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++) {
    const key = `org/repo-${i}`;
    const best = endpoints.reduce((a, b) => (rendezvousScore(key, a) >= rendezvousScore(key, b) ? a : b));
    if (best === wanted) keys.push(key);
  }
  return keys;
}

describe('place', () => {
  const names = ['tcp://a', 'tcp://b', 'tcp://c'];

  it('keeps a repo on its affine engine while that engine is not much busier', () => {
    const [key = ''] = keysFor('tcp://b', names);
    expect(place([engine('tcp://a'), engine('tcp://b', 2), engine('tcp://c')], key)).toEqual({
      endpoint: 'tcp://b',
      reason: 'affinity',
    });
  });

  it('sends a repo to the least loaded engine when its affine one is much busier or full', () => {
    const [key = ''] = keysFor('tcp://b', names);
    expect(place([engine('tcp://a', 1), engine('tcp://b', 3), engine('tcp://c')], key)).toEqual({
      endpoint: 'tcp://c',
      reason: 'least loaded (affine engine tcp://b is much busier)',
    });
    expect(place([engine('tcp://a', 1), engine('tcp://b', 4), engine('tcp://c', 2)], key)).toEqual({
      endpoint: 'tcp://a',
      reason: 'least loaded (affine engine tcp://b has no free slot)',
    });
  });

  it('moves only the repos of an engine that leaves, and none onto an unhealthy or excluded one', () => {
    const keys = Array.from({ length: 200 }, (_, i) => `org/repo-${i}`);
    const all = names.map((n) => engine(n));
    const before = keys.map((k) => place(all, k)?.endpoint);
    const withoutB = [engine('tcp://a'), engine('tcp://b', 0, 4, false), engine('tcp://c')];
    const after = keys.map((k) => place(withoutB, k)?.endpoint);
    keys.forEach((_, i) => {
      if (before[i] !== 'tcp://b') expect(after[i]).toBe(before[i]);
      else expect(after[i]).not.toBe('tcp://b');
    });
    // Rendezvous hashing spreads the keys over the engines.
    for (const n of names) expect(before.filter((e) => e === n).length).toBeGreaterThan(40);
    expect(place(all, 'org/x', new Set(names))).toBeUndefined();
  });

  it('places nothing when every healthy engine is full', () => {
    expect(place([engine('tcp://a', 4), engine('tcp://b', 0, 4, false)], 'org/x')).toBeUndefined();
  });
});
