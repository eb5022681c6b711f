import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DockerUnreachableError } from '../../../../src/docker';
import { parseEngineSpec, parseEngineSpecs } from '../../../../src/docker/farm/hosts';

describe('parseEngineSpec', () => {
  it('keeps the bare IP of the original BUILD_SLAVE_IPS as tcp on 2375 with the default slots', () => {
    expect(parseEngineSpec('10.0.0.5', 3)).toEqual({
      endpoint: '10.0.0.5',
      address: { kind: 'tcp', protocol: 'http', host: '10.0.0.5', port: 2375 },
      slots: 3,
    });
  });

  it('reads the slots option after the address', () => {
    expect(parseEngineSpec('tcp://build-1.example:2375;slots=4', 1)).toMatchObject({
      endpoint: 'tcp://build-1.example:2375',
      slots: 4,
    });
  });

  it('refuses slots that are not a whole number of at least one, naming the engine', () => {
    expect(() => parseEngineSpec('tcp://a:2375;slots=0', 1)).toThrow(
      'docker engine tcp://a:2375 is unreachable: slots must be a whole number of at least 1, not "0"',
    );
    expect(() => parseEngineSpec('tcp://a:2375;slots=two', 1)).toThrow(DockerUnreachableError);
  });

  it('refuses an unknown option', () => {
    expect(() => parseEngineSpec('tcp://a;speed=9', 1)).toThrow(/unknown option "speed=9"/);
  });

  describe('with TLS', () => {
    let dir: string;
    beforeAll(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oa-tls-spec-'));
      for (const name of ['ca.pem', 'cert.pem', 'key.pem']) fs.writeFileSync(path.join(dir, name), name);
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('reads ca.pem, cert.pem and key.pem from a tls directory and speaks https on 2376', () => {
      expect(parseEngineSpec(`tcp://build-1;tls=${dir};slots=2`, 1)).toEqual({
        endpoint: 'tcp://build-1',
        address: { kind: 'tcp', protocol: 'https', host: 'build-1', port: 2376 },
        slots: 2,
        tls: { ca: 'ca.pem', cert: 'cert.pem', key: 'key.pem' },
      });
    });

    it('keeps an explicit port and takes single files', () => {
      const spec = parseEngineSpec(
        `tcp://build-1:3000;ca=${dir}/ca.pem;cert=${dir}/cert.pem;key=${dir}/key.pem`,
        1,
      );
      expect(spec.address).toEqual({ kind: 'tcp', protocol: 'https', host: 'build-1', port: 3000 });
    });

    it('fails at once when a file is missing or one of the three is not given', () => {
      expect(() => parseEngineSpec('tcp://b;tls=/nonexistent', 1)).toThrow(
        /docker engine tcp:\/\/b is unreachable: its TLS file \/nonexistent\/ca.pem cannot be read/,
      );
      expect(() => parseEngineSpec(`tcp://b;ca=${dir}/ca.pem`, 1)).toThrow(/TLS needs ca, cert and key/);
      expect(() => parseEngineSpec(`unix:///run/docker.sock;tls=${dir}`, 1)).toThrow(
        /TLS applies to tcp:\/\/ engines only/,
      );
    });
  });
});

describe('parseEngineSpecs', () => {
  it('refuses one engine listed twice and an empty list', () => {
    expect(() => parseEngineSpecs(['tcp://a:2375', 'tcp://a:2375;slots=2'], 1)).toThrow(
      /tcp:\/\/a:2375 is unreachable: it is listed twice/,
    );
    expect(() => parseEngineSpecs([], 1)).toThrow(/no build host is configured/);
  });
});
