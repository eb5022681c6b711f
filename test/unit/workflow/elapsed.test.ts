import { elapsedText, erlangTimestampMs, toErlangTimestamp } from '../../../src/workflow/elapsed';

describe('elapsedText', () => {
  const start = 1_700_000_000_000;

  it('says unknown when there is no start time', () => {
    expect(elapsedText(null, start)).toBe('<unknown>');
  });

  it.each([
    [12_400, '12 second(s)'],
    [59_400, '59 second(s)'],
    [60_000, '1 minute(s)'],
    [150_000, '3 minute(s)'],
    [3_600_000, '1 hour(s)'],
    [36 * 3_600_000, '2 day(s)'],
    [21 * 86_400_000, '3 week(s)'],
  ])('writes %i ms as %s', (ms, text) => {
    expect(elapsedText(start, start + ms)).toBe(text);
  });

  it('counts a start in the future as elapsed time, as the original does', () => {
    expect(elapsedText(start + 5_000, start)).toBe('5 second(s)');
  });
});

describe('Erlang timestamps', () => {
  it('converts {Mega, Sec, Micro} to milliseconds and back', () => {
    expect(erlangTimestampMs(1444, 123456, 789012)).toBe(1_444_123_456_789);
    expect(toErlangTimestamp(1_444_123_456_789)).toEqual([1444, 123456, 789000]);
  });
});
