import { atom, compare, equals, float, improper, map, mapOf, tuple, type Term } from '../../../src/etf';

describe("Erlang's term order", () => {
  it('puts types in the order number < atom < tuple < map < nil < list < binary', () => {
    const ascending: Term[] = [1, atom('a'), tuple(), mapOf({}), [], [1], 'a'];
    for (let i = 1; i < ascending.length; i++) {
      expect(compare(ascending[i - 1] as Term, ascending[i] as Term)).toBe(-1);
      expect(compare(ascending[i] as Term, ascending[i - 1] as Term)).toBe(1);
    }
  });

  it('puts every integer before every float, as map keys are ordered', () => {
    expect(compare(2n ** 70n, float(0.5))).toBe(-1);
    expect(compare(float(-1e300), -5)).toBe(1);
    expect(equals(1, float(1))).toBe(false);
  });

  it('compares integers and bigints by value', () => {
    expect(compare(-(2n ** 60n), 3)).toBe(-1);
    expect(compare(7n, 7)).toBe(0);
  });

  it('treats the two float zeros as equal, as OTP 25 does', () => {
    expect(equals(float(0), float(-0))).toBe(true);
  });

  it('compares atoms, nil, true and false by their text in code point order', () => {
    expect(compare(false, null)).toBe(-1);
    expect(compare(null, true)).toBe(-1);
    expect(compare(atom('nil'), null)).toBe(0);
    expect(compare(atom('\uffff'), atom('😀'))).toBe(-1);
    expect(compare(atom('ab'), atom('a'))).toBe(1);
  });

  it('compares binaries by their bytes, whichever way they are held', () => {
    expect(compare('a', Uint8Array.of(0x61))).toBe(0);
    expect(compare('\uffff', '😀')).toBe(-1);
    expect(compare(Uint8Array.of(0xff), 'zz')).toBe(1);
    expect(compare('', 'a')).toBe(-1);
  });

  it('compares tuples by size first, then element by element', () => {
    expect(compare(tuple(9), tuple(1, 1))).toBe(-1);
    expect(compare(tuple(1, 2), tuple(1, 3))).toBe(-1);
    expect(compare(tuple(1, 2), tuple(1, 2))).toBe(0);
  });

  it('compares lists element by element, a proper end sorting after any number tail', () => {
    expect(compare([1, 2], [1, 3])).toBe(-1);
    expect(compare([1], [1, 2])).toBe(-1);
    expect(compare(improper([1], 2), [1])).toBe(-1);
    expect(compare([1, 2], improper([1], 2))).toBe(1);
    expect(compare(improper([1], 'x'), [1, 2])).toBe(1);
    expect(compare(improper([1], 2), improper([1], 3))).toBe(-1);
  });

  it('compares maps by size, then keys, then values, whatever their entry order', () => {
    expect(compare(mapOf({ z: 1 }), mapOf({ a: 1, b: 1 }))).toBe(-1);
    expect(compare(mapOf({ a: 1 }), mapOf({ b: 0 }))).toBe(-1);
    expect(compare(mapOf({ a: 1 }), mapOf({ a: 2 }))).toBe(-1);
    const unsorted = {
      kind: 'map' as const,
      entries: [
        [atom('b'), 2],
        [atom('a'), 1],
      ] as const,
    };
    expect(
      equals(
        unsorted,
        map([
          [atom('a'), 1],
          [atom('b'), 2],
        ]),
      ),
    ).toBe(true);
  });

  it('orders nested numbers exactly, as Erlang orders map keys', () => {
    const keys = map([
      [tuple(float(1)), 0],
      [tuple(2), 0],
      [tuple(1), 0],
    ]).entries.map(([k]) => k);
    expect(keys).toEqual([tuple(1), tuple(2), tuple(float(1))]);
  });
});
