import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  PathEscapeError,
  readAwsConfig,
  readDockerSettings,
  readEtcdToken,
  readFleetConfig,
  RepoConfigError,
  selectSourceRepo,
} from '../../../src/repo';

const fixture = path.join(__dirname, '../../fixtures/deployment-repo');
let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oa-repo-config-'));
});

afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const write = (name: string, text: string): void => fs.writeFileSync(path.join(dir, name), text);

describe('readDockerSettings', () => {
  it('reads docker_url and no custom registry from the fixture', async () => {
    await expect(readDockerSettings(fixture)).resolves.toEqual({
      dockerUrl: 'registry.example.com/shop/webshop',
      registry: null,
    });
  });

  it('reads a custom registry with whichever of its fields are present', async () => {
    write(
      'docker.json',
      JSON.stringify({
        docker_url: 'shop/webshop',
        docker_registry_url: 'https://registry.example.com',
        docker_registry_username: 'deployer',
        docker_registry_password: 's3cret',
      }),
    );
    await expect(readDockerSettings(dir)).resolves.toEqual({
      dockerUrl: 'shop/webshop',
      registry: { url: 'https://registry.example.com', username: 'deployer', password: 's3cret' },
    });
  });

  it('fails with the original text when docker.json is missing', async () => {
    await expect(readDockerSettings(dir)).rejects.toThrow(
      new RepoConfigError(
        'docker.json',
        'Unable to get the docker repo name, docker_repo_name not specified and docker.json does not exist!',
      ),
    );
  });

  it('fails with the original text when docker_url is missing or empty', async () => {
    const text =
      'Unable to get the docker repo name, docker_repo_name not specified and docker_url not specified in docker.json';
    write('docker.json', '{"name": "webshop"}');
    await expect(readDockerSettings(dir)).rejects.toThrow(text);
    write('docker.json', '{"docker_url": ""}');
    await expect(readDockerSettings(dir)).rejects.toThrow(text);
    write('docker.json', '["not", "an", "object"]');
    await expect(readDockerSettings(dir)).rejects.toThrow(text);
  });

  it('fails on malformed JSON, naming the parse problem', async () => {
    write('docker.json', '{"docker_url": ');
    await expect(readDockerSettings(dir)).rejects.toThrow(/^An error occurred parsing docker\.json JSON! .+/);
  });

  it('fails when a registry field is not a string', async () => {
    write('docker.json', '{"docker_url": "a/b", "docker_registry_url": "r", "docker_registry_username": 7}');
    await expect(readDockerSettings(dir)).rejects.toThrow(
      'docker_registry_username in docker.json must be a string',
    );
  });

  it('refuses a docker.json that is a symbolic link', async () => {
    fs.symlinkSync(path.join(fixture, 'docker.json'), path.join(dir, 'docker.json'));
    await expect(readDockerSettings(dir)).rejects.toThrow(PathEscapeError);
  });
});

describe('readEtcdToken', () => {
  it('reads the token when the milestones include deploy', async () => {
    await expect(readEtcdToken(fixture, ['build', 'deploy'])).resolves.toBe(
      '6e0b5a1f2c3d4e5f60718293a4b5c6d7',
    );
  });

  it('does not need etcd.json when the milestones do not include deploy', async () => {
    await expect(readEtcdToken(dir, ['build', 'deploy_ecs'])).resolves.toBeNull();
  });

  it.each([
    ['the file is missing', undefined, 'No etcd JSON file is present in this repository!'],
    ['the token is missing', '{}', 'token missing from etcd.json'],
    ['the token is null', '{"token": null}', 'token missing from etcd.json'],
    ['the token is empty', '{"token": ""}', 'invalid token in etcd.json'],
    ['the token is not a string', '{"token": 42}', 'invalid token in etcd.json'],
  ])('fails with the original text when %s', async (_case, text, message) => {
    if (text !== undefined) write('etcd.json', text);
    await expect(readEtcdToken(dir, ['deploy'])).rejects.toThrow(new RepoConfigError('etcd.json', message));
  });

  it('fails on malformed JSON with the original prefix', async () => {
    write('etcd.json', '{token');
    await expect(readEtcdToken(dir, ['deploy'])).rejects.toThrow(
      /^An error occurred parsing etcd JSON! {2}\S/,
    );
  });
});

describe('selectSourceRepo', () => {
  it('prefers the repository and ref of the request', async () => {
    const request = { source_repo: 'shop/other', source_repo_git_ref: 'v2' };
    await expect(selectSourceRepo(fixture, request)).resolves.toEqual({ repo: 'shop/other', ref: 'v2' });
  });

  it('falls back to source.json for empty request fields', async () => {
    const request = { source_repo: '', source_repo_git_ref: null };
    await expect(selectSourceRepo(fixture, request)).resolves.toEqual({
      repo: 'shop/webshop',
      ref: 'release',
    });
  });

  it('falls back to master when neither names a ref', async () => {
    write('source.json', '{"source_repo": "shop/webshop", "source_repo_git_ref": ""}');
    await expect(selectSourceRepo(dir, {})).resolves.toEqual({ repo: 'shop/webshop', ref: 'master' });
  });

  it('returns null when no repository is named anywhere', async () => {
    await expect(selectSourceRepo(dir, { source_repo_git_ref: 'main' })).resolves.toBeNull();
  });

  it('fails on malformed source.json with the original prefix', async () => {
    write('source.json', 'nope');
    await expect(selectSourceRepo(dir, {})).rejects.toThrow(
      /^An error occurred parsing source\.json JSON! \S/,
    );
  });
});

describe('readFleetConfig and readAwsConfig', () => {
  it('pass the JSON through as is', async () => {
    await expect(readFleetConfig(fixture)).resolves.toEqual({
      instance_count: 2,
      ports: { start: 45000, end: 45100 },
    });
    await expect(readAwsConfig(fixture)).resolves.toEqual({
      region: 'eu-west-1',
      cluster: 'webshop-production',
      desired_count: 2,
    });
  });

  it('return null when the files are absent', async () => {
    await expect(readFleetConfig(dir)).resolves.toBeNull();
    await expect(readAwsConfig(dir)).resolves.toBeNull();
  });

  it('fail on malformed JSON with the original texts', async () => {
    write('fleet.json', '{');
    write('aws.json', '[1,');
    await expect(readFleetConfig(dir)).rejects.toThrow(/^An error occurred parsing Fleet JSON! {2}\S/);
    await expect(readAwsConfig(dir)).rejects.toThrow(/^An error occurred parsing AWS JSON! {2}\S/);
  });
});
