import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import vm from 'node:vm';
import { loadConfig, settings, type Setting } from '../../../src/config';

/**
 * docker-compose.yml, checked with Debian's docker-compose (in scripts/test-env.sh PACKAGES, so `test-env.sh
 * install` brings it): it must validate, and the normalized file it prints (anchors merged, variables
 * interpolated with their defaults) must describe a consistent stack.
 */

const ROOT = path.join(__dirname, '../../..');

interface Service {
  image?: string;
  hostname?: string;
  environment?: Record<string, string | null>;
  ports?: (string | { host_ip?: string; published?: string | number; target?: number })[];
  networks?: Record<string, unknown> | string[];
  network_mode?: string;
  stop_grace_period?: string;
  privileged?: boolean;
  command?: string[] | string;
  healthcheck?: { test?: string[] | string };
  profiles?: string[];
  restart?: string;
  volumes?: string[];
}

/** Only what the interpolation reads: PATH to find the tools, nothing that would override a default. */
const composeEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C.UTF-8', HOME: ROOT };

const BASE = ['docker-compose.yml'];
/** docker-compose.yml with the override scripts/stack.sh uses on the test engine. */
const LOOPBACK = [...BASE, 'docker-compose.loopback.yml'];

/** What scripts/stack.sh gives the loopback override, in the shapes it gives them. */
const stackVars = {
  OA_STACK_MANAGER_PORT: '25400',
  OA_STACK_BUILDER_1_HEALTH_PORT: '25401',
  OA_STACK_BUILDER_2_HEALTH_PORT: '25402',
  OA_STACK_DOCKER_SOCKET: '/tmp/oa-builder-test/docker.sock',
  OA_STACK_DOCKER_GID: '999',
  OA_STACK_AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672/',
  OA_STACK_REGISTRY: 'http://127.0.0.1:25050',
  OA_STACK_GIT_BASE_URL: 'http://127.0.0.1:25080/',
  OA_STACK_EXCHANGE: 'oa-stack',
  OA_STACK_ROUTING_KEY: 'oastack',
  OA_STACK_QUEUE: 'oastack_builder',
  OA_STACK_MANAGER_SEED: '{}',
};

function compose(
  files: readonly string[],
  ...args: string[]
): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('docker-compose', [...files.flatMap((f) => ['-f', f]), ...args], {
    cwd: ROOT,
    env: files === BASE ? composeEnv : { ...composeEnv, ...stackVars },
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (result.error) {
    throw new Error(
      `docker-compose cannot run (${result.error.message}); it is one of the Debian packages that ` +
        '`bash scripts/test-env.sh install` installs',
    );
  }
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The normalized configuration as data. PyYAML comes with docker-compose (it is written in Python). */
function normalized(files = BASE): { services: Record<string, Service>; networks?: Record<string, unknown> } {
  const { status, stdout, stderr } = compose(files, 'config');
  if (status !== 0) throw new Error(`docker-compose config failed: ${stderr}`);
  const json = execFileSync(
    'python3',
    ['-c', 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'],
    { input: stdout, encoding: 'utf8', env: composeEnv },
  );
  return JSON.parse(json) as { services: Record<string, Service> };
}

/** Compose durations such as `6m`, `1m30s`, `90s`, in seconds. */
function seconds(duration: string): number {
  const units: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 0.001 };
  let total = 0;
  const rest = duration.replace(/(\d+(?:\.\d+)?)(h|ms|m|s)/g, (_, n: string, unit: string) => {
    total += Number(n) * (units[unit] ?? NaN);
    return '';
  });
  if (rest !== '' || Number.isNaN(total)) throw new Error(`unreadable duration ${duration}`);
  return total;
}

function env(service: Service | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(service?.environment ?? {}).map(([k, v]) => [k, v ?? '']));
}

function hostIp(port: NonNullable<Service['ports']>[number]): string | undefined {
  if (typeof port !== 'string') return port.host_ip;
  // host_ip:published:target[/proto]; an IPv6 host is bracketed.
  const match = /^(\[[^\]]+\]|[^:]+):[^:]*:[^:]+$/.exec(port);
  return match?.[1];
}

describe('docker-compose.yml', () => {
  let config: ReturnType<typeof normalized>;
  beforeAll(() => {
    config = normalized();
  });

  const builders = ['builder-1', 'builder-2'];
  const builderEnv = (name: string): Record<string, string> => env(config.services[name]);

  it('is a valid Compose file', () => {
    const { status, stderr } = compose(BASE, 'config', '-q');
    expect({ status, stderr }).toEqual({ status: 0, stderr: '' });
  });

  it('runs two builder replicas with distinct HOSTNAMEs on one shared queue', () => {
    const [one, two] = builders.map(builderEnv);
    expect(one?.HOSTNAME).toBeTruthy();
    expect(two?.HOSTNAME).toBeTruthy();
    expect(one?.HOSTNAME).not.toBe(two?.HOSTNAME);
    expect(one?.QUEUE_NAME).toBeTruthy();
    expect(one?.QUEUE_NAME).toBe(two?.QUEUE_NAME);
    for (const name of builders) {
      expect(config.services[name]?.hostname).toBe(builderEnv(name).HOSTNAME);
      expect(builderEnv(name).HEALTH_LISTEN).toBe('0.0.0.0:9464');
    }
  });

  it('gives the builders only known settings, and a valid service-mode configuration', () => {
    const known = new Set(
      Object.values(settings as Record<string, Setting>).flatMap((s) => [s.env, ...(s.aliases ?? [])]),
    );
    for (const name of builders) {
      const vars = builderEnv(name);
      expect(Object.keys(vars).filter((k) => !known.has(k))).toEqual([]);
      const loaded = loadConfig({ mode: 'service', env: vars });
      expect(loaded.hostname).toBe(name);
    }
  });

  it("publishes every port on 127.0.0.1 only, and keeps every service on the project's own network", () => {
    const published: string[] = [];
    for (const [name, service] of Object.entries(config.services)) {
      // Neither a network mode nor named networks: Compose's default network of the project.
      expect({ name, network_mode: service.network_mode }).toEqual({ name, network_mode: undefined });
      const networks = Array.isArray(service.networks)
        ? service.networks
        : Object.keys(service.networks ?? {});
      expect({ name, networks }).toEqual({ name, networks: [] });
      for (const port of service.ports ?? []) {
        published.push(`${name} ${JSON.stringify(port)}`);
        expect({ name, port, host: hostIp(port) }).toEqual({ name, port, host: '127.0.0.1' });
      }
    }
    expect(published.length).toBeGreaterThan(0);
    expect(Object.keys(config.networks ?? {})).toEqual([]);
  });

  it('lets a build run and a replica drain before anything cuts them off', () => {
    const rabbit = env(config.services.rabbitmq).RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS ?? '';
    const timeoutMs = Number(/-rabbit consumer_timeout (\d+)/.exec(rabbit)?.[1]);
    for (const name of builders) {
      const vars = builderEnv(name);
      const loaded = loadConfig({ mode: 'service', env: vars });
      // The delivery is acked only when the workflow ends.
      expect(timeoutMs).toBeGreaterThan(loaded.workflowTimeoutSeconds * 1000);
      // Compose's default is 10 s, after which the replica is killed mid-drain.
      const grace = seconds(configOf(name).stop_grace_period ?? '10s');
      expect(grace).toBeGreaterThanOrEqual(loaded.shutdownGraceSeconds + 60);
    }
  });

  it('seeds the fake Manager with what the builders and RabbitMQ are configured with', () => {
    const seed = JSON.parse(env(config.services.manager).FAKE_MANAGER_SEED_JSON ?? '') as {
      clientId: string;
      clientSecret: string;
      brokers: { id: number }[];
      connections: { messaging_broker_id: number; host: string; username: string; password: string }[];
      exchanges: { id: number; name: string; routing_key_fragment: string }[];
    };
    const vars = builderEnv('builder-1');
    const rabbit = env(config.services.rabbitmq);
    const topology = env(config.services.topology);
    expect(seed.clientId).toBe(vars.OAUTH_CLIENT_ID);
    expect(seed.clientSecret).toBe(vars.OAUTH_CLIENT_SECRET);
    expect(seed.brokers.map((b) => String(b.id))).toContain(vars.BROKER_ID);
    const connection = seed.connections.find((c) => String(c.messaging_broker_id) === vars.BROKER_ID);
    expect(connection).toMatchObject({
      host: 'rabbitmq',
      username: rabbit.RABBITMQ_DEFAULT_USER,
      password: rabbit.RABBITMQ_DEFAULT_PASS,
    });
    const exchange = seed.exchanges.find((e) => String(e.id) === vars.EXCHANGE_ID);
    expect(exchange?.name).toBe(topology.EXCHANGE);
    expect(exchange?.routing_key_fragment).toBe(topology.ROUTING_KEY);
    expect(topology.BUILDER_QUEUE).toBe(vars.QUEUE_NAME);
    expect(vars.DEAD_LETTER_QUEUE).toBe(`${vars.QUEUE_NAME}_error`);
    expect(topology.AMQP_URL).toBe(
      `amqp://${rabbit.RABBITMQ_DEFAULT_USER}:${rabbit.RABBITMQ_DEFAULT_PASS}@rabbitmq:5672/`,
    );
  });

  it('holds inline scripts that compile', () => {
    const scripts: string[] = [];
    const topology = config.services.topology?.command;
    scripts.push(Array.isArray(topology) ? (topology[0] ?? '') : (topology ?? ''));
    for (const service of Object.values(config.services)) {
      const test = service.healthcheck?.test;
      if (Array.isArray(test) && test[1] === 'node' && test[2] === '-e') scripts.push(test[3] ?? '');
    }
    expect(scripts.length).toBeGreaterThanOrEqual(3);
    for (const script of scripts) expect(() => new vm.Script(script)).not.toThrow();
  });

  it('runs the Docker engine privileged and never publishes its API', () => {
    expect(config.services.docker?.privileged).toBe(true);
    expect(config.services.docker?.ports ?? []).toEqual([]);
    for (const name of builders) expect(builderEnv(name).BUILD_HOSTS).toBe('tcp://docker:2375');
  });

  function configOf(name: string): Service {
    const service = config.services[name];
    if (!service) throw new Error(`no service ${name}`);
    return service;
  }
});

describe('docker-compose.yml with docker-compose.loopback.yml', () => {
  let config: ReturnType<typeof normalized>;
  beforeAll(() => {
    config = normalized(LOOPBACK);
  });
  const builders = ['builder-1', 'builder-2'];
  const started = ['topology', 'manager', ...builders];

  it('is a valid Compose configuration', () => {
    const { status, stderr } = compose(LOOPBACK, 'config', '-q');
    expect({ status, stderr }).toEqual({ status: 0, stderr: '' });
  });

  it("runs every container on the host's network, with the stand-ins for the host's services left off", () => {
    for (const [name, service] of Object.entries(config.services))
      expect({ name, network_mode: service.network_mode }).toEqual({ name, network_mode: 'host' });
    for (const name of ['rabbitmq', 'registry', 'git', 'docker'])
      expect({ name, profiles: config.services[name]?.profiles }).toEqual({ name, profiles: ['bundled'] });
    for (const name of started)
      expect({ name, profiles: config.services[name]?.profiles ?? [] }).toEqual({ name, profiles: [] });
  });

  it('points the builders at loopback services and gives each its own health port', () => {
    const listens = builders.map((name) => {
      const vars = env(config.services[name]);
      const loaded = loadConfig({ mode: 'service', env: vars });
      expect(loaded.hostname).toBe(name);
      for (const key of ['MANAGER_URL', 'OAUTH_LOGIN_URL', 'DOCKER_REGISTRY_URL', 'GIT_BASE_URL'])
        expect({ key, host: new URL(vars[key] ?? '').hostname }).toEqual({ key, host: '127.0.0.1' });
      expect(vars.BUILD_HOSTS).toBe('unix:///var/run/docker.sock');
      expect(config.services[name]?.volumes).toEqual([
        `${stackVars.OA_STACK_DOCKER_SOCKET}:/var/run/docker.sock:rw`,
      ]);
      return vars.HEALTH_LISTEN;
    });
    expect(listens).toEqual([
      `127.0.0.1:${stackVars.OA_STACK_BUILDER_1_HEALTH_PORT}`,
      `127.0.0.1:${stackVars.OA_STACK_BUILDER_2_HEALTH_PORT}`,
    ]);
  });

  it('lets a stopped builder drain before it is killed, and leaves a killed one down', () => {
    for (const name of builders) {
      const service = config.services[name];
      const loaded = loadConfig({ mode: 'service', env: env(service) });
      expect(seconds(service?.stop_grace_period ?? '10s')).toBeGreaterThan(loaded.shutdownGraceSeconds);
      expect(service?.restart).toBe('no');
    }
  });

  it('declares the topology under its own names and queue prefix, and serves the Manager on its port', () => {
    const topology = env(config.services.topology);
    expect(topology).toMatchObject({
      AMQP_URL: stackVars.OA_STACK_AMQP_URL,
      EXCHANGE: stackVars.OA_STACK_EXCHANGE,
      ROUTING_KEY: stackVars.OA_STACK_ROUTING_KEY,
      BUILDER_QUEUE: stackVars.OA_STACK_QUEUE,
      QUEUE_PREFIX: `${stackVars.OA_STACK_ROUTING_KEY}_`,
    });
    expect(config.services.manager?.command).toEqual([
      'node',
      'scripts/fake-manager.js',
      '--host',
      '127.0.0.1',
      '--port',
      stackVars.OA_STACK_MANAGER_PORT,
    ]);
    expect(env(config.services.manager).FAKE_MANAGER_SEED_JSON).toBe(stackVars.OA_STACK_MANAGER_SEED);
  });
});
