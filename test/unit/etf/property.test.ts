import { decode, encode, equals } from '../../../src/etf';
import { randomTerm, Rng } from './term-generator';

const SEEDS = [1, 2, 3, 42, 1337];
const PER_SEED = 400;

describe('random nested terms', () => {
  it.each(SEEDS)('decode(encode(x)) is x, entry order included (seed %i)', (seed) => {
    const rng = new Rng(seed);
    for (let i = 0; i < PER_SEED; i++) {
      const term = randomTerm(rng);
      const bytes = encode(term);
      const back = decode(bytes);
      expect(back).toEqual(term);
      expect(equals(back, term)).toBe(true);
      expect(encode(back).equals(bytes)).toBe(true);
    }
  });
});
