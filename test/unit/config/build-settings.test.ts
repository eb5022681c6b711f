import { stepDeps } from '../../../src/app';
import { ConfigError, loadConfig } from '../../../src/config';

const load = (env: NodeJS.ProcessEnv) => loadConfig({ mode: 'local', env });
const engines = { acquire: () => Promise.reject(new Error('not asked here')) };

describe('the build settings', () => {
  it('default to the auto backend, the engine network, no secrets, no limits and no cache, as the original built', () => {
    const { build } = stepDeps(load({}), engines);
    expect(build).toEqual({ timeoutMs: 1_800_000, backend: 'auto', noCache: true, secrets: {} });
  });

  it('give a build the backend, the network and the configured credentials that BUILD_SECRETS names', () => {
    const { build } = stepDeps(
      load({
        BUILD_BACKEND: 'buildkit',
        BUILD_NETWORK: 'none',
        BUILD_SECRETS: 'registry_password,git_token',
        DOCKER_REGISTRY_USERNAME: 'builder',
        DOCKER_REGISTRY_PASSWORD: 'registry-pass',
      }),
      engines,
    );
    // No GITHUB_OAUTH_TOKEN is set, so there is no git_token to give.
    expect(build).toMatchObject({
      backend: 'buildkit',
      networkMode: 'none',
      secrets: { registry_password: 'registry-pass' },
    });
  });

  it('apply the limits and the cache setting of the configuration on every engine', () => {
    const env = { BUILD_MEMORY_MB: '512', BUILD_CPU_PERCENT: '150', BUILD_CACHE: 'true' };
    expect(stepDeps(load(env), engines).build).toMatchObject({
      noCache: false,
      memoryBytes: 512 * 1024 * 1024,
      cpuQuota: 150_000,
    });
  });

  it('reject a backend or a secret name they do not know, naming the variable', () => {
    expect(() => load({ BUILD_BACKEND: 'kaniko' })).toThrow(ConfigError);
    expect(() => load({ BUILD_BACKEND: 'kaniko' })).toThrow(/BUILD_BACKEND/);
    expect(() => load({ BUILD_SECRETS: 'registry_password,aws_key' })).toThrow(/BUILD_SECRETS/);
  });
});
