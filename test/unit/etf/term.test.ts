import {
  atom,
  atomName,
  defaultAtomTag,
  float,
  improper,
  isAtom,
  isFloat,
  isImproper,
  isMap,
  isTuple,
  kindOf,
  map,
  mapGet,
  mapOf,
  mapSet,
  tuple,
  type MapEntry,
  type Term,
} from '../../../src/etf';

describe('building terms', () => {
  it('makes an improper list with a list tail into one proper list', () => {
    expect(improper([1], [2, 3])).toEqual([1, 2, 3]);
    expect(improper([1], improper([2], 3))).toEqual({ kind: 'improper', items: [1, 2], tail: 3 });
    expect(improper([], 'x')).toBe('x');
  });

  it('sorts the entries of a map of up to 32 keys and keeps the order of a larger one', () => {
    expect(mapOf({ b: 1, a: 2 }).entries.map(([k]) => atomName(k))).toEqual(['a', 'b']);
    const names = Array.from({ length: 33 }, (_, i) => `k${32 - i}`);
    const big = map(names.map((n): MapEntry => [atom(n), 0]));
    expect(big.entries.map(([k]) => atomName(k))).toEqual(names);
  });

  it('picks the atom tag Erlang picks for the text', () => {
    expect(defaultAtomTag('builder')).toBe(100);
    expect(defaultAtomTag('ÿ')).toBe(100);
    expect(defaultAtomTag('λ'.repeat(127))).toBe(119);
    expect(defaultAtomTag('λ'.repeat(128))).toBe(118);
  });

  it("keeps a forced atom tag only when it is not Erlang's own choice", () => {
    expect(atom('a')).toEqual({ kind: 'atom', name: 'a' });
    expect(atom('a', 100)).toEqual({ kind: 'atom', name: 'a' });
    expect(atom('a', 118)).toEqual({ kind: 'atom', name: 'a', tag: 118 });
  });
});

describe('inspecting terms', () => {
  it('tells the tagged kinds apart', () => {
    const samples: Term[] = [
      atom('a'),
      float(1),
      tuple(),
      mapOf({}),
      improper([1], 2),
      [],
      'x',
      Uint8Array.of(1),
      null,
    ];
    expect(samples.map(kindOf)).toEqual([
      'atom',
      'float',
      'tuple',
      'map',
      'improper',
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    expect(
      samples.map((t) => [isAtom(t), isFloat(t), isTuple(t), isMap(t), isImproper(t)].indexOf(true)),
    ).toEqual([0, 1, 2, 3, 4, -1, -1, -1, -1]);
  });

  it('names an atom, nil, true and false, and nothing else', () => {
    expect([atom('x'), null, true, false, 'x', 1].map(atomName)).toEqual([
      'x',
      'nil',
      'true',
      'false',
      undefined,
      undefined,
    ]);
  });

  it('finds a value by atom name or by any key term', () => {
    const m = map([
      [atom('id'), 'abc'],
      ['id', 'binary key'],
      [tuple(1), 'tuple key'],
    ]);
    expect(mapGet(m, 'id')).toBe('abc');
    expect(mapGet(m, Buffer.from('id'))).toBe('binary key');
    expect(mapGet(m, tuple(1))).toBe('tuple key');
    expect(mapGet(m, 'missing')).toBeUndefined();
  });

  it('replaces a value where it stands and adds a new key where Erlang would put it', () => {
    const received = {
      kind: 'map' as const,
      entries: [
        [atom('z'), 1],
        [atom('a'), 2],
      ] as MapEntry[],
    };
    expect(mapSet(received, 'a', 3).entries).toEqual([
      [atom('z'), 1],
      [atom('a'), 3],
    ]);
    expect(mapSet(mapOf({ a: 1, c: 3 }), 'b', 2)).toEqual(mapOf({ a: 1, b: 2, c: 3 }));
    expect(received.entries[1]).toEqual([atom('a'), 2]);
  });
});
