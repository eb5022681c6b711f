import { parseChallenge } from '../../../src/registry';

describe('parseChallenge', () => {
  it('reads a Docker Hub style Bearer challenge', () => {
    const header =
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:org/app:pull,push"';
    expect(parseChallenge(header)).toEqual({
      scheme: 'bearer',
      params: {
        realm: 'https://auth.docker.io/token',
        service: 'registry.docker.io',
        scope: 'repository:org/app:pull,push',
      },
    });
  });

  it('reads a Basic challenge, unquoted values and escapes', () => {
    expect(parseChallenge('Basic realm="a \\"quoted\\" realm", charset=UTF-8')).toEqual({
      scheme: 'basic',
      params: { realm: 'a "quoted" realm', charset: 'UTF-8' },
    });
  });

  it('gives undefined for a missing or empty header', () => {
    expect(parseChallenge(null)).toBeUndefined();
    expect(parseChallenge('  ')).toBeUndefined();
  });
});
