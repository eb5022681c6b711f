import {
  credentialsFor,
  imageName,
  registryApiBase,
  registryCredentials,
  type RegistryAccess,
} from '../../../src/registry';

const credentials = { username: 'builder', password: 's3cret' };

describe('credentialsFor', () => {
  it('gives the configured credentials for images in the configured registry', () => {
    const access: RegistryAccess = { url: 'http://127.0.0.1:5000', credentials };
    expect(credentialsFor(imageName('org/app', access.url), access)).toBe(credentials);
  });

  it('gives none for an image whose docker_url names another registry', () => {
    const access: RegistryAccess = { url: 'http://127.0.0.1:5000', credentials };
    expect(credentialsFor(imageName('quay.io/org/app', access.url), access)).toBeUndefined();
  });

  it('matches Docker Hub images to Docker Hub credentials', () => {
    const access: RegistryAccess = { url: 'https://index.docker.io/v1/', credentials };
    expect(credentialsFor(imageName('org/app', access.url), access)).toBe(credentials);
  });
});

describe('registryApiBase', () => {
  it('talks to Docker Hub through registry-1.docker.io', () => {
    const access = { url: 'https://index.docker.io/v1/' };
    expect(registryApiBase(imageName('org/app', access.url), access)).toBe('https://registry-1.docker.io');
  });

  it('uses the scheme of the configured registry URL', () => {
    const access = { url: 'HTTP://registry.internal:5000/' };
    expect(registryApiBase(imageName('org/app', access.url), access)).toBe('http://registry.internal:5000');
  });

  it('uses https for other registries and http for loopback ones', () => {
    const access = { url: 'registry.internal:5000' };
    expect(registryApiBase(imageName('org/app', access.url), access)).toBe('https://registry.internal:5000');
    expect(registryApiBase(imageName('127.0.0.1:5001/app', access.url), access)).toBe(
      'http://127.0.0.1:5001',
    );
    expect(registryApiBase(imageName('localhost:5001/app', access.url), access)).toBe(
      'http://localhost:5001',
    );
  });
});

describe('registryCredentials', () => {
  it('gives credentials only when both a user name and a password are set', () => {
    expect(registryCredentials('builder', 's3cret', 'ops@example.invalid')).toEqual({
      username: 'builder',
      password: 's3cret',
      email: 'ops@example.invalid',
    });
    expect(registryCredentials('builder', undefined)).toBeUndefined();
    expect(registryCredentials(undefined, 's3cret')).toBeUndefined();
  });
});
