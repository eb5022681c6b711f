import { InvalidRefError, isAbbreviatedSha, isFullSha, validateRef } from '../../../src/git';

describe('validateRef', () => {
  it.each([
    'master',
    'release/2015-10',
    'v1.2.3',
    'feature/JIRA-12_fix+docs',
    'refs/heads/main',
    'HEAD',
    'user@host',
    'c0ffee5d1f0e4a8b9c7d6e5f4a3b2c1d0e9f8a7b',
  ])('accepts %s', (ref) => {
    expect(validateRef(ref)).toBe(ref);
  });

  it.each([
    ['', 'it is empty'],
    ['x'.repeat(256), 'longer than 255'],
    ['-rf', 'starts with "-"'],
    ['--upload-pack=evil', 'starts with "-"'],
    ['a..b', 'contains ".."'],
    ['../../etc', 'contains ".."'],
    ['/main', 'empty path component'],
    ['main/', 'empty path component'],
    ['a//b', 'empty path component'],
    ['main.', 'ends with "."'],
    ['.hidden', 'starts with "."'],
    ['feature/.x', 'starts with "."'],
    ['main.lock', 'ends with ".lock"'],
    ['a.lock/b', 'ends with ".lock"'],
    ['@', '"@" alone'],
    ['main@{1}', 'only letters'],
    ['ma in', 'only letters'],
    ['main;rm -rf /', 'only letters'],
    ['$(reboot)', 'only letters'],
    ['`id`', 'only letters'],
    ['a|b', 'only letters'],
    ['x~1', 'only letters'],
    ['x^2', 'only letters'],
    ['a:b', 'only letters'],
    ['a?b', 'only letters'],
    ['a*b', 'only letters'],
    ['a[b', 'only letters'],
    ['a\\b', 'only letters'],
    ['new\nline', 'only letters'],
  ])('rejects %j (%s)', (ref, reason) => {
    expect(() => validateRef(ref)).toThrow(InvalidRefError);
    expect(() => validateRef(ref)).toThrow(reason);
  });
});

describe('commit id shapes', () => {
  it('tells full 40-hex ids from abbreviated ones and from names', () => {
    expect(isFullSha('c0ffee5d1f0e4a8b9c7d6e5f4a3b2c1d0e9f8a7b')).toBe(true);
    expect(isFullSha('C0FFEE5D1F0E4A8B9C7D6E5F4A3B2C1D0E9F8A7B')).toBe(false);
    expect(isFullSha('c0ffee5')).toBe(false);
    expect(isAbbreviatedSha('c0ffee5')).toBe(true);
    expect(isAbbreviatedSha('c0f')).toBe(false);
    expect(isAbbreviatedSha('master')).toBe(false);
    expect(isAbbreviatedSha('c0ffee5d1f0e4a8b9c7d6e5f4a3b2c1d0e9f8a7b')).toBe(false);
  });
});
