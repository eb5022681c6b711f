import { DockerUnreachableError, parseEndpoint } from '../../../src/docker';

describe('parseEndpoint', () => {
  it('reads a unix socket', () => {
    expect(parseEndpoint('unix:///var/run/docker.sock')).toEqual({
      kind: 'unix',
      socketPath: '/var/run/docker.sock',
    });
  });

  it('reads tcp, http and https addresses with Docker default ports', () => {
    expect(parseEndpoint('tcp://10.0.0.5')).toEqual({
      kind: 'tcp',
      protocol: 'http',
      host: '10.0.0.5',
      port: 2375,
    });
    expect(parseEndpoint('http://docker:2380')).toEqual({
      kind: 'tcp',
      protocol: 'http',
      host: 'docker',
      port: 2380,
    });
    expect(parseEndpoint('https://docker.example')).toEqual({
      kind: 'tcp',
      protocol: 'https',
      host: 'docker.example',
      port: 2376,
    });
  });

  it('reads a bare IP as tcp://IP:2375, as BUILD_SLAVE_IPS meant', () => {
    expect(parseEndpoint(' 10.0.0.7 ')).toEqual({
      kind: 'tcp',
      protocol: 'http',
      host: '10.0.0.7',
      port: 2375,
    });
    expect(parseEndpoint('[::1]:2375')).toEqual({ kind: 'tcp', protocol: 'http', host: '::1', port: 2375 });
  });

  it('refuses other schemes, relative sockets and garbage', () => {
    expect(() => parseEndpoint('ssh://docker')).toThrow(DockerUnreachableError);
    expect(() => parseEndpoint('unix://docker.sock')).toThrow(/absolute/);
    expect(() => parseEndpoint('tcp://:2375')).toThrow(DockerUnreachableError);
    expect(() => parseEndpoint('http://[bad')).toThrow(/not an address/);
  });
});
