import {
  atom,
  encode,
  EtfEncodeError,
  float,
  fromJson,
  fromRawJson,
  improper,
  map,
  mapOf,
  toJson,
  toRawJson,
  tuple,
} from '../../../src/etf';
import { randomTerm, Rng } from './term-generator';

describe('the operator JSON view', () => {
  it('shows maps as objects, atoms as strings and nil as null', () => {
    const term = mapOf({ current_step: atom('build'), workflow_id: null, ok: true, count: 3 });
    expect(toJson(term)).toEqual({ count: 3, current_step: 'build', ok: true, workflow_id: null });
  });

  it('shows tuples and lists as arrays and big integers as decimal strings', () => {
    expect(toJson(tuple(1, [2, 3], 2n ** 64n))).toEqual([1, [2, 3], '18446744073709551616']);
  });

  it('shows floats as numbers, binaries as text or base64, improper lists explicitly', () => {
    expect(toJson([float(1.5), 'λ', Uint8Array.of(0xff, 0)])).toEqual([1.5, 'λ', { $binary: '/wA=' }]);
    expect(toJson(improper([1], 2))).toEqual({ $improper: [1], $tail: 2 });
  });

  it('shows nil, true and false sent with an unusual tag as null and booleans', () => {
    expect(toJson([atom('nil', 119), atom('true', 118), atom('false', 115)])).toEqual([null, true, false]);
  });

  it('writes keys that are neither atoms nor binaries as their JSON', () => {
    expect(
      toJson(
        map([
          [tuple(1, 2), 'a'],
          [null, 'b'],
          [7, 'c'],
        ]),
      ),
    ).toEqual({ '7': 'c', nil: 'b', '[1,2]': 'a' });
  });

  it('keeps a "__proto__" key from the wire as an ordinary key', () => {
    const out = toJson(map([['__proto__', mapOf({ polluted: true })]])) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.keys(out)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('terms from JSON, as Elixir decodes it', () => {
  it('makes objects into maps with binary keys in Erlang order', () => {
    expect(fromJson({ b: [1, 'x'], a: null })).toEqual(
      map([
        ['a', null],
        ['b', [1, 'x']],
      ]),
    );
  });

  it('makes integral numbers integers and the others floats', () => {
    expect(fromJson([1, 1.5, 1e300, true])).toEqual([1, float(1.5), float(1e300), true]);
  });

  it.each([
    ['undefined', undefined],
    ['a non-finite number', Number.POSITIVE_INFINITY],
    ['a function', () => 1],
    ['a bigint', 1n],
  ])('refuses %s', (_name, value) => {
    expect(() => fromJson(value)).toThrow(EtfEncodeError);
  });

  it('refuses JSON nested deeper than the depth limit', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 600; i++) deep = [deep];
    expect(() => fromJson(deep)).toThrow('nested deeper than 512');
  });
});

describe('the lossless JSON form', () => {
  it('spells bigints, non-UTF-8 binaries and negative zero as objects', () => {
    expect(toRawJson([2n ** 64n, Uint8Array.of(0xff), float(-0)])).toEqual([
      { kind: 'bigint', value: '18446744073709551616' },
      { kind: 'binary', base64: '/w==' },
      { kind: 'float', value: '-0' },
    ]);
  });

  it('survives JSON text for a thousand random terms', () => {
    const rng = new Rng(7);
    for (let i = 0; i < 1000; i++) {
      const term = randomTerm(rng);
      const back = fromRawJson(JSON.parse(JSON.stringify(toRawJson(term))));
      expect(encode(back).equals(encode(term))).toBe(true);
    }
  });

  const bad: Array<[string, unknown, string]> = [
    ['a fraction', [1.5], '$[0]: an integer'],
    ['an unknown kind', { kind: 'pid' }, '$.kind: must be'],
    ['an atom without a name', { kind: 'atom' }, '$: missing "name"'],
    ['an atom with a bad tag', { kind: 'atom', name: 'a', tag: 1 }, '$.tag: must be 100'],
    ['a float without a number', { kind: 'float', value: 'x' }, '$.value: must be a number'],
    ['a bigint that is not decimal', { kind: 'bigint', value: '0x1' }, '$.value: must be a decimal'],
    ['a binary that is not base64', { kind: 'binary', base64: '%%' }, '$.base64: must be base64'],
    ['a tuple without an items array', { kind: 'tuple', items: 3 }, '$.items: must be an array'],
    [
      'a map entry that is not a pair',
      { kind: 'map', entries: [[1]] },
      '$.entries[0]: must be a [key, value] pair',
    ],
    ['a bad value deep inside', { kind: 'map', entries: [[1, [{ kind: 'x' }]]] }, '$.entries[0][1][0].kind'],
    ['a string as a name', { kind: 'atom', name: 1 }, '$.name: must be a string'],
    ['undefined', [undefined], '$[0]: undefined is not part of the JSON form'],
  ];

  it.each(bad)('refuses %s, naming where it is', (_name, value, message) => {
    expect(() => fromRawJson(value)).toThrow(EtfEncodeError);
    expect(() => fromRawJson(value)).toThrow(message);
  });

  it('reads an improper list and an atom with its tag', () => {
    const raw = { kind: 'improper', items: [{ kind: 'atom', name: 'a', tag: 119 }], tail: 1 };
    expect(fromRawJson(raw)).toEqual(improper([atom('a', 119)], 1));
  });

  it('refuses JSON nested deeper than the depth limit', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 600; i++) deep = [deep];
    expect(() => fromRawJson(deep)).toThrow('nested deeper than 512');
  });
});
