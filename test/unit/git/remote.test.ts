import {
  gitAccessFromConfig,
  hostCredentials,
  InvalidRepoError,
  repoUrl,
  resolveRemote,
} from '../../../src/git';

const github = 'https://github.com/';

describe('repoUrl', () => {
  it('expands Org/name against the base URL, as the original did for GitHub', () => {
    expect(repoUrl('OpenAperture/builder', github)).toBe('https://github.com/OpenAperture/builder.git');
    expect(repoUrl('OpenAperture/builder.git', github)).toBe('https://github.com/OpenAperture/builder.git');
  });

  it('expands against a base URL with a path, with or without its trailing slash', () => {
    expect(repoUrl('shop/webshop_docker', 'http://127.0.0.1:8080/anon/')).toBe(
      'http://127.0.0.1:8080/anon/shop/webshop_docker.git',
    );
    expect(repoUrl('shop/webshop_docker', 'http://127.0.0.1:8080/anon')).toBe(
      'http://127.0.0.1:8080/anon/shop/webshop_docker.git',
    );
  });

  it('accepts nested groups such as GitLab subgroups', () => {
    expect(repoUrl('group/sub/name', github)).toBe('https://github.com/group/sub/name.git');
  });

  it('keeps the host of a full http(s) URL, unlike the original, and drops a trailing slash', () => {
    expect(repoUrl('https://git.example.com/shop/webshop.git', github)).toBe(
      'https://git.example.com/shop/webshop.git',
    );
    expect(repoUrl('http://127.0.0.1:9/anon/r.git/', github)).toBe('http://127.0.0.1:9/anon/r.git');
  });

  it.each([
    ['git@github.com:OpenAperture/builder.git'],
    ['ssh://git@github.com/OpenAperture/builder.git'],
    ['git+ssh://github.com/OpenAperture/builder.git'],
  ])('rejects the ssh URL %s with a hint to use https', (url) => {
    expect(() => repoUrl(url, github)).toThrow(InvalidRepoError);
    expect(() => repoUrl(url, github)).toThrow('ssh repository URLs are not supported');
  });

  it('rejects a URL carrying credentials without repeating them', () => {
    for (const url of [
      'https://user:hunter2@git.example.com/a/b.git',
      'https://tok3n@git.example.com/a/b.git',
    ]) {
      const attempt = (): string => repoUrl(url, github);
      expect(attempt).toThrow('must not contain credentials');
      expect(attempt).not.toThrow(/hunter2|tok3n/);
    }
  });

  it.each([
    ['file:///srv/git/repo.git', 'scheme file: is not supported'],
    ['ftp://host/a/b', 'scheme ftp: is not supported'],
    ['https://host/a/b.git?x=1', 'no query or fragment'],
    ['https://host/a/b.git#frag', 'no query or fragment'],
    ['https://host/', 'names no repository'],
    ['https://host/a/../b', 'bad path component'],
    ['https://host/a/-b', 'bad path component'],
    ['https://host/a/b%20c', 'bad path component'],
    ['http://[::1', 'cannot be parsed'],
  ])('rejects the URL %s (%s)', (url, reason) => {
    expect(() => repoUrl(url, github)).toThrow(reason);
  });

  it.each([
    ['', 'no repository given'],
    ['builder', 'expected "Org/name"'],
    ['org/../name', 'bad path component'],
    ['org/-name', 'bad path component'],
    ['org/.hidden', 'bad path component'],
    ['org//name', 'bad path component'],
    ['org/na me', 'bad path component'],
    ['org/name;reboot', 'bad path component'],
    ['org/$(id)', 'bad path component'],
  ])('rejects the repository name %j (%s)', (name, reason) => {
    expect(() => repoUrl(name, github)).toThrow(InvalidRepoError);
    expect(() => repoUrl(name, github)).toThrow(reason);
  });

  it('rejects a base URL that carries credentials', () => {
    expect(() => repoUrl('a/b', 'https://x:y@github.com/')).toThrow('must not contain credentials');
  });
});

describe('gitAccessFromConfig', () => {
  const config = { gitBaseUrl: github, githubOauthToken: 'gho_secret', gitTimeoutSeconds: 120 };

  it('turns the timeout into milliseconds and keeps the base URL', () => {
    const access = gitAccessFromConfig(config);
    expect(access.timeoutMs).toBe(120_000);
    expect(resolveRemote('a/b', access).url).toBe('https://github.com/a/b.git');
  });

  it('offers the OAuth token, GitHub style, to the base URL host only', () => {
    const access = gitAccessFromConfig(config);
    expect(access.credentials('https://github.com/a/b.git')).toEqual({
      username: 'gho_secret',
      password: 'x-oauth-basic',
    });
    expect(access.credentials('https://git.example.com/a/b.git')).toBeUndefined();
  });

  it('offers nothing without a token', () => {
    const access = gitAccessFromConfig({ ...config, githubOauthToken: undefined });
    expect(access.credentials('https://github.com/a/b.git')).toBeUndefined();
  });

  it('asks extra per-host credentials first', () => {
    const extra = hostCredentials({ 'github.com': { username: 'bot', password: 'pw' } });
    expect(gitAccessFromConfig(config, extra).credentials('https://github.com/a/b.git')).toEqual({
      username: 'bot',
      password: 'pw',
    });
  });
});
