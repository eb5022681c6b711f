import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ConfigError,
  configurationTable,
  consistentConfig,
  consumerTimeoutMs,
  describeConfig,
  loadConfig,
  secretValues,
  settingConflicts,
  settings,
  settingWarnings,
} from '../../../src/config';

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

describe('the checks of single values', () => {
  it.each([
    ['HEALTH_LISTEN', 'nope', 'HEALTH_LISTEN must be host:port, [IPv6]:port or :port'],
    ['HEALTH_LISTEN', '127.0.0.1:70000', 'HEALTH_LISTEN must be host:port'],
    ['BUILD_HOSTS', 'ftp://x', 'BUILD_HOSTS is not an address (unix:///path, tcp://host:port or an IP)'],
    ['BUILD_HOSTS', 'unix://relative.sock', 'BUILD_HOSTS is a unix socket path must be absolute'],
    ['DOCKER_REGISTRY_URL', 'not a url at all', 'DOCKER_REGISTRY_URL must be an http(s) URL or host[:port]'],
    ['DOCKER_REGISTRY_URL', 'ftp://registry.example', 'DOCKER_REGISTRY_URL must be an http(s) URL'],
  ])('refuses %s=%p, naming the value', (name, value, message) => {
    const problems = problemsOf(() => loadConfig({ mode: 'local', env: { [name]: value } }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(message);
    expect(problems[0]).toContain(`(got ${JSON.stringify(value)})`);
  });

  it('names the one bad entry of a list', () => {
    const problems = problemsOf(() =>
      loadConfig({ mode: 'local', env: { BUILD_HOSTS: 'unix:///run/docker.sock,ftp://x,10.0.0.7' } }),
    );
    expect(problems).toEqual([
      'BUILD_HOSTS is not an address (unix:///path, tcp://host:port or an IP) (got "ftp://x")',
    ]);
  });

  it.each([
    ['HEALTH_LISTEN', '[::1]:9464'],
    ['HEALTH_LISTEN', ':0'],
    ['BUILD_HOSTS', 'unix:///var/run/docker.sock,tcp://10.0.0.7:2376,10.0.0.8,https://engine:2376'],
    ['DOCKER_REGISTRY_URL', 'http://127.0.0.1:5000'],
    ['DOCKER_REGISTRY_URL', 'registry.example:5000'],
  ])('accepts %s=%p', (name, value) => {
    expect(() => loadConfig({ mode: 'local', env: { [name]: value } })).not.toThrow();
  });

  it('lists the allowed values of an enumeration', () => {
    expect(problemsOf(() => loadConfig({ mode: 'local', env: { LOG_LEVEL: 'loud' } }))).toEqual([
      'LOG_LEVEL must be equal to one of the allowed values: error, warn, info, debug (got "loud")',
    ]);
  });

  it('reports the checks together with the missing service settings', () => {
    const problems = problemsOf(() => loadConfig({ mode: 'service', env: { HEALTH_LISTEN: 'nope' } }));
    expect(problems).toContain('MANAGER_URL is required in service mode');
    expect(problems.some((p) => p.startsWith('HEALTH_LISTEN must be host:port'))).toBe(true);
  });
});

describe('secrets read from files', () => {
  it('reads a secret from the file its _FILE variable names, without the final line break', () => {
    const file = tempFile('client-secret-from-a-file\n');
    const config = loadConfig({
      mode: 'service',
      env: { ...serviceEnv, OAUTH_CLIENT_SECRET: undefined, OAUTH_CLIENT_SECRET_FILE: file },
    });
    expect(config.oauthClientSecret).toBe('client-secret-from-a-file');
  });

  it('offers a _FILE variant for every secret and for nothing else', () => {
    // A URL, so that AMQP_URL takes it too.
    const secret = 'amqp://builder:a-secret-of-some-length@127.0.0.1/';
    const file = tempFile(secret);
    for (const s of Object.values(settings) as { env: string; secret?: boolean }[]) {
      const env = { [`${s.env}_FILE`]: file };
      if (s.secret) expect(() => loadConfig({ mode: 'local', env })).not.toThrow();
      const config = loadConfig({ mode: 'local', env });
      expect(Object.values(config).includes(secret)).toBe(s.secret === true);
    }
  });

  it('refuses a secret set both directly and through a file', () => {
    const file = tempFile('from-the-file');
    expect(
      problemsOf(() =>
        loadConfig({
          mode: 'local',
          env: { GITHUB_OAUTH_TOKEN: 'direct-token', GITHUB_OAUTH_TOKEN_FILE: file },
        }),
      ),
    ).toEqual(['GITHUB_OAUTH_TOKEN and GITHUB_OAUTH_TOKEN_FILE are both set: keep one of them']);
  });

  it('names a secret file that cannot be read, or is empty, without its content', () => {
    const missing = path.join(os.tmpdir(), 'oa-config-no-such-dir', 'secret');
    expect(
      problemsOf(() => loadConfig({ mode: 'local', env: { DOCKER_REGISTRY_PASSWORD_FILE: missing } })),
    ).toEqual([`DOCKER_REGISTRY_PASSWORD_FILE names ${missing}, which cannot be read (ENOENT)`]);
    const empty = tempFile('');
    expect(
      problemsOf(() => loadConfig({ mode: 'local', env: { DOCKER_REGISTRY_PASSWORD_FILE: empty } })),
    ).toEqual([`DOCKER_REGISTRY_PASSWORD_FILE names ${empty}, which is empty`]);
  });

  it('lists the _FILE variant in the settings table', () => {
    expect(configurationTable()).toContain('`OAUTH_CLIENT_SECRET`, `OAUTH_CLIENT_SECRET_FILE`');
  });
});

describe('settings checked against one another', () => {
  const local = (env: Record<string, string>) => loadConfig({ mode: 'local', env });

  it('finds the defaults in agreement', () => {
    expect(settingConflicts(local({}))).toEqual([]);
    expect(settingWarnings(local({}))).toEqual([]);
  });

  it('refuses a step timeout that cannot hold a build and the push of two tags, saying how to fix it', () => {
    const config = local({
      BUILD_TIMEOUT_SECONDS: '600',
      PUSH_TIMEOUT_SECONDS: '300',
      STEP_TIMEOUT_SECONDS: '1000',
    });
    expect(problemsOf(() => consistentConfig(config))).toEqual([
      'STEP_TIMEOUT_SECONDS (1000) must cover a build and the push of two tags, BUILD_TIMEOUT_SECONDS + 2 × ' +
        'PUSH_TIMEOUT_SECONDS = 1200: raise STEP_TIMEOUT_SECONDS or lower the build or push timeout',
    ]);
  });

  it('refuses a workflow timeout that ends a workflow inside its build step', () => {
    const config = local({
      STEP_TIMEOUT_SECONDS: '3000',
      GIT_TIMEOUT_SECONDS: '300',
      WORKFLOW_TIMEOUT_SECONDS: '3500',
    });
    expect(problemsOf(() => consistentConfig(config))).toEqual([
      'WORKFLOW_TIMEOUT_SECONDS (3500) must cover the build step after the checkout and the template push, ' +
        'STEP_TIMEOUT_SECONDS + 2 × GIT_TIMEOUT_SECONDS = 3600: raise WORKFLOW_TIMEOUT_SECONDS or lower the ' +
        'step or git timeout',
    ]);
  });

  it('warns of a shutdown grace shorter than one Manager request', () => {
    const warnings = settingWarnings(local({ SHUTDOWN_GRACE_SECONDS: '5', HTTP_TIMEOUT_SECONDS: '30' }));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^SHUTDOWN_GRACE_SECONDS \(5\) is shorter than HTTP_TIMEOUT_SECONDS \(30\)/);
  });

  it('warns of a finish budget shorter than one Manager request, which a reply waiting on a lookup can outlast', () => {
    const warnings = settingWarnings(local({ FINISH_TIMEOUT_SECONDS: '5', HTTP_TIMEOUT_SECONDS: '10' }));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^FINISH_TIMEOUT_SECONDS \(5\) is shorter than HTTP_TIMEOUT_SECONDS \(10\)/);
  });

  it('gives a workflow its finish budget, 60 s unless set and at least 1 s, and asks the broker to wait for it too', () => {
    expect(local({}).finishTimeoutSeconds).toBe(60);
    expect(problemsOf(() => local({ FINISH_TIMEOUT_SECONDS: '0' }))).toEqual([
      'FINISH_TIMEOUT_SECONDS must be >= 1 (got "0")',
    ]);
    const config = local({
      WORKFLOW_TIMEOUT_SECONDS: '3600',
      SHUTDOWN_GRACE_SECONDS: '300',
      FINISH_TIMEOUT_SECONDS: '90',
    });
    expect(consumerTimeoutMs(config)).toBe((3600 + 300 + 90) * 1000);
  });

  it('warns of a secret too short to be masked, naming the variable and never the value', () => {
    const warnings = settingWarnings(local({ DOCKER_REGISTRY_PASSWORD: 'abc12' }));
    expect(warnings).toEqual([
      'DOCKER_REGISTRY_PASSWORD is shorter than 6 characters, too short to be masked in logs and reports: ' +
        'use a longer secret',
    ]);
  });
});
