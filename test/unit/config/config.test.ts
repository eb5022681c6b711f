import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ConfigError,
  configurationTable,
  describeConfig,
  loadConfig,
  secretValues,
  settings,
} from '../../../src/config';
import { stepDeps } from '../../../src/app';

const serviceEnv = {
  EXCHANGE_ID: '1',
  BROKER_ID: '2',
  MANAGER_URL: 'http://127.0.0.1:4000/',
  OAUTH_LOGIN_URL: 'http://127.0.0.1:4000/oauth/token',
  OAUTH_CLIENT_ID: 'builder',
  OAUTH_CLIENT_SECRET: 'very-secret-client-secret',
};

function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

function tempFile(content: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oa-config-'));
  const file = path.join(dir, 'builder.json');
  fs.writeFileSync(file, content);
  return file;
}

describe('loadConfig', () => {
  it('fills documented defaults in local mode with an empty environment', () => {
    const config = loadConfig({ mode: 'local', env: {} });
    expect(config.queueName).toBe('builder');
    expect(config.workDir).toBe('/tmp/openaperture');
    expect(config.buildHosts).toEqual(['unix:///var/run/docker.sock']);
    expect(config.concurrency).toBe(os.availableParallelism());
    expect(config.hostname).toBe(os.hostname());
    expect(config.managerUrl).toBeUndefined();
  });

  it('reads and coerces values from the environment', () => {
    const config = loadConfig({
      mode: 'local',
      env: { BUILDER_CONCURRENCY: '4', QUEUE_NAME: 'builder_b', GIT_BASE_URL: 'http://127.0.0.1:9/git/' },
    });
    expect(config.concurrency).toBe(4);
    expect(config.queueName).toBe('builder_b');
    expect(config.gitBaseUrl).toBe('http://127.0.0.1:9/git/');
  });

  it('accepts the original BUILD_SLAVE_IPS and trims each entry', () => {
    const config = loadConfig({ mode: 'local', env: { BUILD_SLAVE_IPS: ' 10.0.0.1 , 10.0.0.2,' } });
    expect(config.buildHosts).toEqual(['10.0.0.1', '10.0.0.2']);
  });

  it('prefers BUILD_HOSTS over its older alias', () => {
    const config = loadConfig({
      mode: 'local',
      env: { BUILD_SLAVE_IPS: '10.0.0.1', BUILD_HOSTS: 'unix:///run/d.sock' },
    });
    expect(config.buildHosts).toEqual(['unix:///run/d.sock']);
  });

  it('names every missing Manager setting in service mode', () => {
    const problems = problemsOf(() => loadConfig({ mode: 'service', env: {} }));
    const required = Object.values(settings)
      .filter((s) => 'requiredInService' in s && s.requiredInService)
      .map((s) => `${s.env} is required in service mode`);
    expect([...problems].sort()).toEqual(required.sort());
  });

  it('accepts a complete service configuration', () => {
    const config = loadConfig({ mode: 'service', env: serviceEnv });
    expect(config.exchangeId).toBe('1');
    expect(config.oauthClientSecret).toBe('very-secret-client-secret');
  });

  it('names the key and the bad value of a wrong number', () => {
    const problems = problemsOf(() => loadConfig({ mode: 'local', env: { BUILDER_CONCURRENCY: 'many' } }));
    expect(problems).toEqual(['BUILDER_CONCURRENCY must be integer (got "many")']);
  });

  it('rejects a value below the minimum', () => {
    const problems = problemsOf(() => loadConfig({ mode: 'local', env: { BUILDER_CONCURRENCY: '0' } }));
    expect(problems).toEqual(['BUILDER_CONCURRENCY must be >= 1 (got "0")']);
  });

  it('rejects a value outside an enumeration', () => {
    const problems = problemsOf(() => loadConfig({ mode: 'local', env: { LOG_LEVEL: 'loud' } }));
    expect(problems[0]).toMatch(/^LOG_LEVEL must be equal to one of the allowed values/);
  });

  it('never echoes a secret that fails validation', () => {
    const secret = 'not a url but a secret pa55word';
    const problems = problemsOf(() => loadConfig({ mode: 'local', env: { AMQP_URL: secret } }));
    expect(problems).toEqual(['AMQP_URL must match format "uri" (got (value hidden))']);
    expect(problems.join(' ')).not.toContain('pa55word');
  });

  it('reads a JSON file keyed by variable names, with the environment winning', () => {
    const file = tempFile(JSON.stringify({ QUEUE_NAME: 'from_file', BUILDER_TMPDIR: '/srv/work' }));
    const config = loadConfig({ mode: 'local', env: { QUEUE_NAME: 'from_env' }, file });
    expect(config.queueName).toBe('from_env');
    expect(config.workDir).toBe('/srv/work');
  });

  it('lets overrides win over the environment', () => {
    const config = loadConfig({ mode: 'local', env: { QUEUE_NAME: 'a' }, overrides: { QUEUE_NAME: 'b' } });
    expect(config.queueName).toBe('b');
  });

  it('names an unknown key in a config file', () => {
    const file = tempFile(JSON.stringify({ QUEUE_NAM: 'typo' }));
    expect(problemsOf(() => loadConfig({ mode: 'local', env: {}, file }))).toEqual([
      'QUEUE_NAM is not a known setting',
    ]);
  });

  it('explains a config file that is not JSON', () => {
    const file = tempFile('{ not json');
    expect(problemsOf(() => loadConfig({ mode: 'local', env: {}, file }))[0]).toMatch(/is not JSON/);
  });

  it('explains a config file that does not exist', () => {
    expect(problemsOf(() => loadConfig({ mode: 'local', env: {}, file: '/nonexistent/b.json' }))).toEqual([
      'config file /nonexistent/b.json cannot be read (ENOENT)',
    ]);
  });
});

describe('secret handling', () => {
  it('masks secrets when the configuration is described', () => {
    const shown = JSON.stringify(describeConfig(loadConfig({ mode: 'service', env: serviceEnv })));
    expect(shown).not.toContain('very-secret-client-secret');
    expect(shown).toContain('"OAUTH_CLIENT_SECRET":"********"');
  });

  it('lists the secret values for the redactor', () => {
    const config = loadConfig({
      mode: 'service',
      env: { ...serviceEnv, DOCKER_REGISTRY_PASSWORD: 'regpass' },
    });
    expect(secretValues(config).sort()).toEqual(['regpass', 'very-secret-client-secret']);
  });
});

describe('configurationTable', () => {
  it('documents every setting with its default', () => {
    const table = configurationTable();
    for (const s of Object.values(settings)) expect(table).toContain(`\`${s.env}\``);
    expect(table).toContain('| `QUEUE_NAME` | string | `builder` |');
    expect(table).toContain('| `MANAGER_URL` | url | required in service mode |');
  });
});

describe('stepDeps', () => {
  const engines = { acquire: () => Promise.reject(new Error('not asked here')) };

  it('builds without the cache and without limits by default, as the original did', () => {
    const deps = stepDeps(loadConfig({ mode: 'local', env: {} }), engines);
    expect(deps.build).toEqual({ timeoutMs: 1_800_000, noCache: true });
  });

  it('applies the build options of the configuration on every engine', () => {
    const env = {
      BUILD_MEMORY_MB: '512',
      BUILD_CPU_PERCENT: '150',
      BUILD_NETWORK_MODE: 'none',
      BUILD_CACHE: 'true',
    };
    const deps = stepDeps(loadConfig({ mode: 'local', env }), engines);
    expect(deps.build).toEqual({
      timeoutMs: 1_800_000,
      noCache: false,
      networkMode: 'none',
      memoryBytes: 512 * 1024 * 1024,
      cpuQuota: 150_000,
    });
  });
});
