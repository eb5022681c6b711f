import {
  DOCKER_HUB,
  imageName,
  imageReference,
  InvalidImageNameError,
  registryHost,
} from '../../../src/registry';

describe('imageName', () => {
  it('prefixes a local registry host to a docker_url without one', () => {
    expect(imageName('examples/hello', 'http://127.0.0.1:5000')).toEqual({
      registry: '127.0.0.1:5000',
      repository: 'examples/hello',
      name: '127.0.0.1:5000/examples/hello',
    });
  });

  it('accepts the registry as a bare host:port', () => {
    expect(imageName('examples/hello', 'registry.example.com:5000').name).toBe(
      'registry.example.com:5000/examples/hello',
    );
  });

  it('adds no host for Docker Hub, whatever alias the registry URL uses', () => {
    for (const url of ['https://index.docker.io/v1/', 'docker.io', 'https://registry-1.docker.io']) {
      expect(imageName('examples/hello', url)).toEqual({
        registry: DOCKER_HUB,
        repository: 'examples/hello',
        name: 'examples/hello',
      });
    }
  });

  it('puts a one-component Docker Hub name under library/ for the registry API only', () => {
    expect(imageName('hello', 'https://index.docker.io/v1/')).toEqual({
      registry: DOCKER_HUB,
      repository: 'library/hello',
      name: 'hello',
    });
  });

  it('keeps a registry host written in docker_url instead of the configured one', () => {
    expect(imageName('quay.io/org/app', 'http://127.0.0.1:5000')).toEqual({
      registry: 'quay.io',
      repository: 'org/app',
      name: 'quay.io/org/app',
    });
    expect(imageName('localhost/app', 'https://index.docker.io/v1/').name).toBe('localhost/app');
    expect(imageName('127.0.0.1:5001/app', 'https://index.docker.io/v1/').registry).toBe('127.0.0.1:5001');
  });

  it('treats docker.io written in docker_url as Docker Hub', () => {
    expect(imageName('docker.io/org/app', 'http://127.0.0.1:5000').name).toBe('org/app');
  });

  it('trims surrounding whitespace', () => {
    expect(imageName('  org/app\n', 'http://127.0.0.1:5000').name).toBe('127.0.0.1:5000/org/app');
  });

  it('refuses a tag, a digest or upper-case path components', () => {
    expect(() => imageName('org/app:1.0', 'docker.io')).toThrow(InvalidImageNameError);
    expect(() => imageName('org/app@sha256:abc', 'docker.io')).toThrow(/digest/);
    expect(() => imageName('Org/App', 'docker.io')).toThrow(/lower-case/);
    expect(() => imageName('org//app', 'docker.io')).toThrow(InvalidImageNameError);
  });

  it('refuses a name longer than Docker allows', () => {
    expect(() => imageName(`org/${'a'.repeat(260)}`, 'docker.io')).toThrow(/255/);
  });

  it('refuses a registry URL without a usable host', () => {
    expect(() => imageName('org/app', 'http:///v2/')).toThrow(/registry URL/);
  });
});

describe('registryHost', () => {
  it('drops scheme, path and user info and lower-cases the host', () => {
    expect(registryHost('https://user@Registry.Example.com:8443/v2/')).toBe('registry.example.com:8443');
  });
});

describe('imageReference', () => {
  it('joins the name and the tag', () => {
    expect(imageReference(imageName('org/app', '127.0.0.1:5000'), 'abc123')).toBe(
      '127.0.0.1:5000/org/app:abc123',
    );
  });
});
