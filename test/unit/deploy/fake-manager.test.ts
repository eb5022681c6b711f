import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ManagerClient } from '../../../src/manager';
import { startFakeManager, type FakeManagerSeed } from '../../fakes/manager';
import { createSystemEvent, type StoredEvent } from '../../fakes/manager-data';

/**
 * scripts/fake-manager.js, the stand-in Manager of docker-compose.yml, run as the compose file runs it: a
 * separate `node` process, on 127.0.0.1 and a port the system picks.
 */

const SCRIPT = path.join(__dirname, '../../../scripts/fake-manager.js');

const seed: FakeManagerSeed = {
  clientId: 'builder',
  clientSecret: 'compose-client-secret',
  brokers: [{ id: 1, name: 'local', failover_broker_id: null }],
  connections: [
    {
      id: 7,
      messaging_broker_id: 1,
      username: 'builder',
      password: 'broker-password',
      host: 'rabbitmq',
      port: 5672,
      virtual_host: '/',
    },
  ],
  exchanges: [
    { id: 1, name: 'AWS', routing_key_fragment: 'aws' },
    { id: 3, name: 'US-EAST-1', routing_key_fragment: 'us-east-1', parent_exchange_id: 1 },
  ],
  restrictions: [{ id: 9, messaging_exchange_id: 3, messaging_broker_id: 1 }],
  workflows: [
    { id: 'wf-1', current_step: 'build', workflow_error: null, workflow_completed: false, event_log: [] },
  ],
  systemComponents: [
    { id: 1, type: 'manager', messaging_exchange_id: 1 },
    { id: 2, type: 'builder', messaging_exchange_id: 3 },
  ],
};

interface Running {
  url: string;
  stop(): Promise<void>;
}

const started: Running[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((r) => r.stop()));
});

/** Runs the script; resolves once it printed its address, or rejects with what it printed on exit. */
function startScript(args: string[], env: Record<string, string> = {}): Promise<Running> {
  const child = spawn(process.execPath, [SCRIPT, '--port', '0', ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening on (http:\/\/\S+) /.exec(out);
      if (!match?.[1]) return;
      const running = {
        url: match[1],
        stop: async () => {
          child.kill('SIGTERM');
          await exited;
        },
      };
      started.push(running);
      resolve(running);
    });
    child.once('exit', (code) => reject(new Error(`fake-manager exited ${code}: ${err}${out}`)));
  });
}

function seedFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oa-fake-manager-'));
  const file = path.join(dir, 'seed.json');
  fs.writeFileSync(file, JSON.stringify(seed));
  return file;
}

const json = { 'content-type': 'application/json', accept: 'application/json' };

async function login(url: string, body: unknown = {}): Promise<Response> {
  return fetch(`${url}/oauth/token`, { method: 'POST', headers: json, body: JSON.stringify(body) });
}

async function token(url: string): Promise<string> {
  const response = await login(url, {
    grant_type: 'client_credentials',
    client_id: seed.clientId,
    client_secret: seed.clientSecret,
  });
  return ((await response.json()) as { access_token: string }).access_token;
}

describe('scripts/fake-manager.js', () => {
  it('logs in with a JSON client-credentials body, checks the bearer token, and stores a workflow PUT', async () => {
    const { url } = await startScript(['--seed', seedFile()]);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const refused = await login(url, {
      grant_type: 'client_credentials',
      client_id: 'builder',
      client_secret: 'no',
    });
    expect(refused.status).toBe(401);
    const form = await fetch(`${url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=client_credentials&client_id=builder&client_secret=${seed.clientSecret}`,
    });
    expect(form.status).toBe(401);
    const ok = await login(url, {
      grant_type: 'client_credentials',
      client_id: seed.clientId,
      client_secret: seed.clientSecret,
    });
    expect(ok.status).toBe(200);
    const grant = (await ok.json()) as { access_token: unknown; expires_in: unknown };
    expect(typeof grant.access_token).toBe('string');
    expect(grant.expires_in).toBe(3600);
    const auth = { ...json, authorization: `Bearer access_token=${String(grant.access_token)}` };

    expect((await fetch(`${url}/messaging/exchanges/3`, { headers: json })).status).toBe(401);
    const wrong = { ...json, authorization: 'Bearer access_token=forged' };
    expect((await fetch(`${url}/messaging/exchanges/3`, { headers: wrong })).status).toBe(401);
    const exchange = await fetch(`${url}/messaging/exchanges/3`, { headers: auth });
    expect(exchange.status).toBe(200);
    expect(await exchange.json()).toMatchObject({
      id: 3,
      name: 'US-EAST-1',
      parent_exchange_id: 1,
      routing_key: 'aws.us-east-1',
      root_exchange_name: 'AWS',
    });

    const put = await fetch(`${url}/workflows/wf-1`, {
      method: 'PUT',
      headers: auth,
      body: JSON.stringify({
        id: 'wf-1',
        workflow_completed: true,
        workflow_error: false,
        event_log: ['done'],
      }),
    });
    expect(put.status).toBe(204);
    expect(put.headers.get('location')).toBe('/workflows/wf-1');
    expect(await put.text()).toBe('');
    const read = await fetch(`${url}/workflows/wf-1`, { headers: auth });
    expect(await read.json()).toMatchObject({
      workflow_completed: true,
      workflow_error: false,
      event_log: ['done'],
    });
    // The Manager's quirk: a PUT without workflow_completed resets it.
    await fetch(`${url}/workflows/wf-1`, {
      method: 'PUT',
      headers: auth,
      body: JSON.stringify({ id: 'wf-1' }),
    });
    const reset = await fetch(`${url}/workflows/wf-1`, { headers: auth });
    expect(await reset.json()).toMatchObject({ workflow_completed: false });
    expect(
      (await fetch(`${url}/workflows/unknown`, { method: 'PUT', headers: auth, body: '{}' })).status,
    ).toBe(404);
  });

  it('answers a module, a workflow and the system calls exactly as the tests’ fake does', async () => {
    const script = await startScript(['--seed', seedFile()]);
    const fake = await startFakeManager(seed);
    try {
      const conversation = async (url: string): Promise<unknown[]> => {
        const bearer = `Bearer access_token=${await token(url)}`;
        const call = async (method: string, p: string, body?: unknown, authorization = bearer) => {
          const response = await fetch(`${url}${p}`, {
            method,
            headers: { ...json, authorization },
            ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          });
          const text = await response.text();
          const parsed: unknown = text === '' ? '' : JSON.parse(text);
          const stripped = JSON.parse(JSON.stringify(parsed), (key, value: unknown) =>
            key === 'updated_at' || key === 'inserted_at' ? '(time)' : value,
          ) as unknown;
          return [method, p, response.status, response.headers.get('location'), stripped];
        };
        const module = { hostname: 'builder-1', type: 'builder', status: 'active', workload: [] };
        return [
          await call('GET', '/status', undefined, ''),
          await call('GET', '/messaging/brokers/1'),
          await call('GET', '/messaging/brokers/2'),
          await call('GET', '/messaging/brokers/1/connections'),
          await call('GET', '/messaging/exchanges/1'),
          await call('GET', '/messaging/exchanges/3'),
          await call('GET', '/messaging/exchanges/3/brokers'),
          await call('GET', '/messaging/exchanges/1/brokers'),
          await call('POST', '/messaging/exchanges/3/modules', module),
          await call('POST', '/messaging/exchanges/3/modules', { ...module, status: 'inactive' }),
          await call('POST', '/messaging/exchanges/3/modules', { ...module, workload: null }),
          await call('POST', '/messaging/exchanges/99/modules', module),
          await call('GET', '/messaging/exchanges/3/modules'),
          await call('GET', '/messaging/exchanges/3/modules/builder-1'),
          await call('DELETE', '/messaging/exchanges/3/modules/builder-1'),
          await call('DELETE', '/messaging/exchanges/3/modules/builder-1'),
          await call('GET', '/workflows/wf-1'),
          await call('PUT', '/workflows/wf-1', {
            id: 'wf-1',
            current_step: 'deploy',
            workflow_completed: true,
          }),
          await call('GET', '/workflows/wf-1'),
          await call('PUT', '/workflows/wf-1', { id: 'wf-1', current_step: 'deploy' }),
          await call('GET', '/workflows/wf-1'),
          await call('PUT', '/workflows/wf-2', { id: 'wf-2', workflow_completed: true }),
          await call('GET', '/system_components?type=manager'),
          await call('GET', '/system_components'),
          await call('POST', '/system_events', {
            type: 'x',
            severity: 'error',
            unique: true,
            data: { a: 1 },
          }),
          await call('POST', '/system_events', {
            type: 'x',
            severity: 'error',
            unique: true,
            data: { a: 1 },
          }),
          await call('POST', '/system_events', {
            type: 'x',
            severity: 'error',
            unique: true,
            data: { a: 2 },
          }),
          await call('POST', '/system_events', {
            type: 'x',
            severity: 'error',
            unique: false,
            data: { a: 1 },
          }),
          await call('POST', '/system_events', { severity: 'error' }),
          await call('PUT', '/workflows/wf-1', { id: 'wf-1', bogus: 1, scheduled_start_time: 'tomorrow' }),
          await call('PUT', '/workflows/wf-1', {
            id: 'wf-1',
            bogus: 1,
            scheduled_start_time: 'Sat, 05 Dec 2026 09:30:00 +0100',
          }),
          await call('GET', '/workflows/wf-1'),
          await call('POST', '/messaging/exchanges/3/modules', { ...module, workload: ['x'.repeat(300)] }),
          await call('GET', '/messaging/exchanges/3/modules'),
          await call('POST', '/system_events', {
            type: 'x',
            severity: 'error',
            unique: true,
            data: { b: [1, 2], a: 1 },
          }),
          await call('POST', '/system_events', {
            type: 'x',
            severity: 'error',
            unique: true,
            data: { a: 1, b: [1, 2] },
          }),
          await call('GET', '/nothing/here'),
          await call('GET', '/messaging/brokers/1', undefined, 'Bearer access_token=forged'),
        ];
      };
      const fromScript = await conversation(script.url);
      expect(fromScript).toEqual(await conversation(fake.url));
      expect(fromScript[8]).toEqual([
        'POST',
        '/messaging/exchanges/3/modules',
        201,
        '/messaging/exchanges/3/modules/builder-1',
        '',
      ]);
    } finally {
      await fake.close();
    }
  });

  it('serves every call of the builder’s Manager client', async () => {
    const { url } = await startScript([], { FAKE_MANAGER_SEED_JSON: JSON.stringify(seed) });
    const manager = new ManagerClient({
      managerUrl: `${url}/`,
      oauthLoginUrl: `${url}/oauth/token`,
      oauthClientId: seed.clientId ?? '',
      oauthClientSecret: seed.clientSecret ?? '',
      timeoutMs: 5000,
    });
    const module = { hostname: 'builder-2', type: 'builder', status: 'active', workload: [] };
    await expect(manager.registerModule('3', module)).resolves.toBe('builder-2');
    await expect(manager.getBroker('1')).resolves.toMatchObject({ id: 1, name: 'local' });
    await expect(manager.getBrokerConnections('1')).resolves.toEqual([
      expect.objectContaining({ host: 'rabbitmq', port: 5672, password: 'broker-password' }),
    ]);
    await expect(manager.getExchange('3')).resolves.toMatchObject({ routing_key: 'aws.us-east-1' });
    await expect(manager.getExchangeBrokers('3')).resolves.toEqual([
      { id: 9, messaging_exchange_id: 3, messaging_broker_id: 1 },
    ]);
    await manager.updateWorkflow('wf-1', { id: 'wf-1', workflow_completed: true, workflow_error: true });
    await expect(manager.getWorkflow('wf-1')).resolves.toMatchObject({ workflow_error: true });
    await expect(manager.listSystemComponents({ type: 'manager' })).resolves.toEqual([
      { id: 1, type: 'manager', messaging_exchange_id: 1 },
    ]);
    const event = {
      type: 'unhandled_exception',
      severity: 'error',
      message: 'm',
      data: { h: 1 },
      unique: true,
    } as const;
    await expect(manager.createSystemEvent(event)).resolves.toBe('created');
    await expect(manager.createSystemEvent(event)).resolves.toBe('duplicate');
  });

  it('reads back the requests it answered, oldest first, without the client secret of a login', async () => {
    const { url } = await startScript(['--seed', seedFile()]);
    const ok = await login(url, {
      grant_type: 'client_credentials',
      client_id: seed.clientId,
      client_secret: seed.clientSecret,
    });
    const { access_token: token } = (await ok.json()) as { access_token: string };
    const auth = { ...json, authorization: `Bearer access_token=${token}` };
    await fetch(`${url}/messaging/exchanges/3?hostname=h1`, { headers: auth });
    await fetch(`${url}/workflows/wf-1`, {
      method: 'PUT',
      headers: auth,
      body: JSON.stringify({ id: 'wf-1' }),
    });

    const log = (await (await fetch(`${url}/_fake/requests`)).json()) as Record<string, unknown>[];
    expect(log.every((r) => typeof r.at === 'string' && !Number.isNaN(Date.parse(r.at)))).toBe(true);
    expect(log.map((r) => Object.fromEntries(Object.entries(r).filter(([key]) => key !== 'at')))).toEqual([
      { method: 'POST', path: '/oauth/token', query: {}, status: 200 },
      { method: 'GET', path: '/messaging/exchanges/3', query: { hostname: 'h1' }, status: 200 },
      { method: 'PUT', path: '/workflows/wf-1', query: {}, body: { id: 'wf-1' }, status: 204 },
    ]);
    expect(JSON.stringify(log)).not.toContain(seed.clientSecret);
    const later = (await (await fetch(`${url}/_fake/requests?since=2`)).json()) as { path: string }[];
    expect(later.map((r) => r.path)).toEqual(['/workflows/wf-1']);
  });

  it('refuses an unknown flag and a seed that is not a JSON object, with one line', async () => {
    await expect(startScript(['--listen', '127.0.0.1:1'])).rejects.toThrow(
      /exited 1: fake-manager: bad argument: --listen/,
    );
    await expect(startScript([], { FAKE_MANAGER_SEED_JSON: '[1]' })).rejects.toThrow(
      /exited 1: fake-manager: the seed must be a JSON object/,
    );
  });
});

/** Both fakes, each started with `seed`; they must hold to the real Manager's rules alike. */
const fakes: [string, () => Promise<string>][] = [
  [
    'scripts/fake-manager.js',
    async () => (await startScript([], { FAKE_MANAGER_SEED_JSON: JSON.stringify(seed) })).url,
  ],
  [
    'the tests’ fake',
    async () => {
      const fake = await startFakeManager(seed);
      started.push({ url: fake.url, stop: () => fake.close() });
      return fake.url;
    },
  ],
];

/** A logged-in caller of the fake at `url`: each call resolves to its status and its body, parsed. */
async function session(url: string) {
  const authorization = `Bearer access_token=${await token(url)}`;
  return async (method: string, p: string, body?: unknown): Promise<{ status: number; body: unknown }> => {
    const response = await fetch(`${url}${p}`, {
      method,
      headers: { ...json, authorization },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? '' : (JSON.parse(text) as unknown) };
  };
}

describe.each(fakes)('%s, as strict as the real Manager', (_name, start) => {
  const module = { hostname: 'builder-9', type: 'builder', status: 'active', workload: [] };

  it('keeps only the Workflow model’s fields of a PUT and drops the rest silently', async () => {
    const call = await session(await start());
    const put = await call('PUT', '/workflows/wf-1', {
      id: 'wf-1',
      current_step: 'build',
      workflow_completed: false,
      workflow_start_time: [1796, 219752, 613000],
      docker_build_etcd_token: 'abc',
      inserted_at: 'Thu, 01 Jan 1970 00:00:00 GMT',
    });
    expect(put.status).toBe(204);
    const stored = (await call('GET', '/workflows/wf-1')).body as Record<string, unknown>;
    expect(stored.current_step).toBe('build');
    expect(stored).not.toHaveProperty('workflow_start_time');
    expect(stored).not.toHaveProperty('docker_build_etcd_token');
    expect(stored).not.toHaveProperty('inserted_at');
  });

  it('answers 500 to a scheduled_start_time that is not RFC 1123, and stores one that is', async () => {
    const call = await session(await start());
    for (const bad of [
      '2026-12-05T09:30:00Z',
      'Fri, 05 Dec 2026 09:30:00 GMT',
      'Sat, 32 Dec 2026 09:30:00 GMT',
      7,
    ])
      expect(
        (
          await call('PUT', '/workflows/wf-1', {
            id: 'wf-1',
            current_step: 'deploy',
            scheduled_start_time: bad,
          })
        ).status,
      ).toBe(500);
    expect((await call('GET', '/workflows/wf-1')).body).toMatchObject({ current_step: 'build' });

    const good = { id: 'wf-1', scheduled_start_time: 'Sat, 05 Dec 2026 09:30:00 +0100' };
    expect((await call('PUT', '/workflows/wf-1', good)).status).toBe(204);
    expect((await call('GET', '/workflows/wf-1')).body).toMatchObject({
      scheduled_start_time: 'Sat, 05 Dec 2026 08:30:00 GMT',
    });
    expect((await call('PUT', '/workflows/wf-1', { id: 'wf-1', scheduled_start_time: null })).status).toBe(
      204,
    );
  });

  it('deletes the module row before inserting the new one, so a workload over 255 characters leaves none', async () => {
    const call = await session(await start());
    const path = '/messaging/exchanges/3/modules';
    expect((await call('POST', path, module)).status).toBe(201);
    // 255 characters of JSON is the most the column holds: `["` + 251 + `"]`.
    const fits = { ...module, workload: ['x'.repeat(251)] };
    expect(JSON.stringify(fits.workload)).toHaveLength(255);
    expect((await call('POST', path, fits)).status).toBe(201);
    expect((await call('GET', `${path}/builder-9`)).body).toMatchObject({ workload: fits.workload });

    const tooLong = await call('POST', path, { ...module, workload: ['x'.repeat(252)] });
    expect(tooLong).toEqual({
      status: 500,
      body: { errors: [{ message: 'An unexpected error occured with MessagingExchangeModule' }] },
    });
    expect((await call('GET', `${path}/builder-9`)).status).toBe(404);
    expect((await call('GET', path)).body).toEqual([]);
  });

  it('refuses a unique event of the same type and data within the hour, whatever its message or key order', async () => {
    const call = await session(await start());
    const event = (data: unknown, message = 'm') => ({
      type: 'unhandled_exception',
      severity: 'error',
      unique: true,
      message,
      data,
    });
    const first = { component: 'builder', workflow_id: 'a', reason: 'r' };
    expect((await call('POST', '/system_events', event(first))).status).toBe(201);
    const again = await call(
      'POST',
      '/system_events',
      event({ reason: 'r', workflow_id: 'a', component: 'builder' }, 'other'),
    );
    expect(again).toEqual({
      status: 409,
      body: { errors: [{ message: 'A SystemEvent already exists with that identifier' }] },
    });
    expect((await call('POST', '/system_events', event({ ...first, workflow_id: 'b' }))).status).toBe(201);
    expect((await call('POST', '/system_events', event(null))).status).toBe(409);
    expect((await call('POST', '/system_events', { ...event(first), type: 'other' })).status).toBe(201);
    expect((await call('POST', '/system_events', { ...event(first), unique: false })).status).toBe(201);
  });
});

describe('the system event uniqueness window', () => {
  it('lets an event equal to one stored more than an hour ago through', () => {
    const events: StoredEvent[] = [];
    const body = { type: 't', severity: 'error', unique: true, data: { a: 1 } };
    expect(createSystemEvent(events, body, 0).status).toBe(201);
    expect(createSystemEvent(events, body, 3_599_999).status).toBe(409);
    expect(createSystemEvent(events, body, 3_600_000).status).toBe(201);
  });
});
