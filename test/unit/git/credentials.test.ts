import { combineCredentials, hostCredentials, noCredentials, tokenCredentials } from '../../../src/git';

describe('credentials providers', () => {
  const alice = { username: 'alice', password: 'a-pass' };
  const bob = { username: 'bob', password: 'b-pass' };

  it('hostCredentials matches the host and port, ignoring case', () => {
    const provider = hostCredentials({ 'Git.Example.com': alice, '127.0.0.1:8080': bob });
    expect(provider('https://git.example.com/a/b.git')).toBe(alice);
    expect(provider('http://127.0.0.1:8080/auth/r.git')).toBe(bob);
    expect(provider('http://127.0.0.1:9090/auth/r.git')).toBeUndefined();
    expect(provider('https://evil.example.com/a/b.git')).toBeUndefined();
  });

  it('hostCredentials offers nothing for a URL it cannot parse', () => {
    expect(hostCredentials({ host: alice })('not a url')).toBeUndefined();
  });

  it('tokenCredentials uses the token as user name with the x-oauth-basic password', () => {
    expect(tokenCredentials('t0ken', 'github.com')('https://github.com/o/r.git')).toEqual({
      username: 't0ken',
      password: 'x-oauth-basic',
    });
    expect(tokenCredentials('t0ken', 'github.com')('https://gitlab.com/o/r.git')).toBeUndefined();
  });

  it('combineCredentials asks providers in order and falls through the ones offering nothing', () => {
    const provider = combineCredentials(
      noCredentials,
      hostCredentials({ a: alice }),
      hostCredentials({ a: bob, b: bob }),
    );
    expect(provider('https://a/x.git')).toBe(alice);
    expect(provider('https://b/x.git')).toBe(bob);
    expect(provider('https://c/x.git')).toBeUndefined();
    expect(combineCredentials()('https://a/x.git')).toBeUndefined();
  });
});
