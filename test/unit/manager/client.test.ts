import {
  ManagerClient,
  ManagerError,
  ManagerUnavailableError,
  type ManagerClientOptions,
  type SystemEvent,
} from '../../../src/manager';
import { startFakeManager, type FakeManager } from '../../fakes/manager';

const workflowId = '6f1c1a2e-0000-4000-8000-000000000001';
let fake: FakeManager;

beforeEach(async () => {
  fake = await startFakeManager({
    brokers: [{ id: 1, name: 'primary', failover_broker_id: null }],
    connections: [{ id: 7, messaging_broker_id: 1, username: 'u', password: 'p', host: '', port: null }],
    exchanges: [
      { id: 1, name: 'AWS', routing_key_fragment: 'aws' },
      { id: 3, name: 'US-EAST-1', routing_key_fragment: 'us-east-1', parent_exchange_id: 1 },
    ],
    restrictions: [{ id: 40, messaging_exchange_id: 3, messaging_broker_id: 1 }],
    workflows: [{ id: workflowId, workflow_error: false, workflow_completed: false, milestones: ['build'] }],
    systemComponents: [
      { id: 1, type: 'manager', messaging_exchange_id: 3 },
      { id: 2, type: 'builder', messaging_exchange_id: 3 },
    ],
  });
});
afterEach(() => fake.close());

function client(overrides: Partial<ManagerClientOptions> = {}): ManagerClient {
  return new ManagerClient({
    managerUrl: `${fake.url}/`,
    oauthLoginUrl: fake.oauthUrl,
    oauthClientId: fake.clientId,
    oauthClientSecret: fake.clientSecret,
    retry: { retries: 2, baseDelayMs: 40, maxDelayMs: 1000 },
    ...overrides,
  });
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the call to fail');
}

const event: SystemEvent = {
  type: 'unhandled_exception',
  severity: 'error',
  message: 'boom',
  data: { component: 'builder', exchange_id: '3', hostname: 'h1' },
  unique: true,
};

const requestsTo = (path: string): number => fake.state.requests.filter((r) => r.path === path).length;

describe('ManagerClient calls', () => {
  it('reads an exchange with the routing key and root name the Manager computes', async () => {
    await expect(client().getExchange(3)).resolves.toMatchObject({
      name: 'US-EAST-1',
      routing_key: 'aws.us-east-1',
      root_exchange_name: 'AWS',
    });
  });

  it('reads broker restrictions, broker records and workflows', async () => {
    const manager = client();
    await expect(manager.getExchangeBrokers(3)).resolves.toEqual([
      { id: 40, messaging_exchange_id: 3, messaging_broker_id: 1 },
    ]);
    await expect(manager.getExchangeBrokers(1)).resolves.toEqual([]);
    await expect(manager.getBroker(1)).resolves.toMatchObject({ name: 'primary' });
    await expect(manager.getWorkflow(workflowId)).resolves.toMatchObject({ milestones: ['build'] });
  });

  it('URL-encodes query values and path segments', async () => {
    const manager = client();
    await expect(manager.listSystemComponents({ type: 'manager & co' })).resolves.toEqual([]);
    expect(fake.state.requests[0]?.rawQuery).toBe('type=manager+%26+co');
    const err = await failure(manager.getWorkflow('a b/c'));
    expect(fake.state.requests[1]?.path).toBe('/workflows/a%20b%2Fc');
    expect(err).toMatchObject({ name: 'ManagerError', status: 404 });
  });

  it('lists the system components of one type', async () => {
    await expect(client().listSystemComponents({ type: 'manager' })).resolves.toEqual([
      { id: 1, type: 'manager', messaging_exchange_id: 3 },
    ]);
  });

  it('registers a module and returns the hostname from the Location header', async () => {
    const module = { hostname: 'builder 1', type: 'builder', status: 'active', workload: [] };
    await expect(client().registerModule(3, module)).resolves.toBe('builder 1');
    expect(fake.state.modules.get('3')?.get('builder 1')).toMatchObject({ type: 'builder', workload: [] });
  });

  it('reports the Manager’s own error text when a registration is rejected', async () => {
    const module = { hostname: 'h', type: 'builder', status: 'active', workload: null as unknown as [] };
    const err = await failure(client().registerModule(3, module));
    expect(err).toBeInstanceOf(ManagerError);
    expect(err.message).toContain('POST /messaging/exchanges/3/modules: status 400');
    expect(err.message).toContain("can't be blank");
  });

  it('puts a workflow and records the body the Manager received', async () => {
    await client().updateWorkflow(workflowId, {
      id: workflowId,
      workflow_completed: false,
      event_log: ['a'],
    });
    expect(fake.state.workflowPuts).toEqual([
      { id: workflowId, body: { id: workflowId, workflow_completed: false, event_log: ['a'] } },
    ]);
  });

  it('treats a workflow PUT answered with anything but 204 as an error', async () => {
    const err = await failure(
      client().updateWorkflow('missing', { id: 'missing', workflow_completed: true }),
    );
    expect(err).toMatchObject({
      name: 'ManagerError',
      method: 'PUT',
      path: '/workflows/missing',
      status: 404,
    });
  });

  it('counts a 409 for a unique system event as success', async () => {
    const manager = client();
    await expect(manager.createSystemEvent(event)).resolves.toBe('created');
    await expect(manager.createSystemEvent(event)).resolves.toBe('duplicate');
    expect(fake.state.systemEvents).toHaveLength(1);
  });

  it('rejects an answer that does not have the documented shape', async () => {
    const err = await failure(client().getBrokerConnections(1));
    expect(err).toBeInstanceOf(ManagerError);
    expect(err.message).toBe(
      'GET /messaging/brokers/1/connections: unexpected answer: /0/host must NOT have fewer than 1 characters',
    );
  });
});

describe('ManagerClient retries', () => {
  it('retries a GET on 5xx with growing delays and then succeeds', async () => {
    fake.failNext(`/workflows/${workflowId}`, 503, 2);
    const started = Date.now();
    await expect(client().getWorkflow(workflowId)).resolves.toMatchObject({ id: workflowId });
    expect(requestsTo(`/workflows/${workflowId}`)).toBe(1);
    // Injected failures are answered before routing, so the fake counts only the successful attempt;
    // half of each delay is fixed: at least 20 ms, then 40 ms.
    expect(Date.now() - started).toBeGreaterThanOrEqual(60);
  });

  it('retries a PUT on 5xx', async () => {
    fake.failNext(`/workflows/${workflowId}`, 500, 1);
    await client().updateWorkflow(workflowId, { id: workflowId, workflow_completed: false });
    expect(fake.state.workflowPuts).toHaveLength(1);
  });

  it('retries after the connection is reset', async () => {
    fake.failNext(`/workflows/${workflowId}`, 'reset', 1);
    await expect(client().getWorkflow(workflowId)).resolves.toMatchObject({ id: workflowId });
  });

  it('does not retry a POST that is not idempotent', async () => {
    fake.failNext('/system_events', 503, 1);
    const err = await failure(client().createSystemEvent({ ...event, unique: false }));
    expect(err).toBeInstanceOf(ManagerUnavailableError);
    expect(err).toMatchObject({ method: 'POST', path: '/system_events', status: 503 });
    expect(fake.state.systemEvents).toHaveLength(0);
  });

  it('retries a unique system event and a module registration, which cannot be duplicated', async () => {
    fake.failNext('/system_events', 503, 1);
    fake.failNext('/messaging/exchanges/3/modules', 502, 1);
    const manager = client();
    await expect(manager.createSystemEvent(event)).resolves.toBe('created');
    await manager.registerModule(3, { hostname: 'h', type: 'builder', status: 'active', workload: [] });
    expect(fake.state.modulePosts).toHaveLength(1);
  });

  it('gives up with ManagerUnavailableError naming method, path and status', async () => {
    fake.failNext('/messaging/exchanges/3', 503, 3);
    const err = await failure(client().getExchange(3));
    expect(err).toBeInstanceOf(ManagerUnavailableError);
    expect(err.message).toBe(
      'GET /messaging/exchanges/3: status 503 ({"errors":[{"message":"injected failure"}]})',
    );
  });

  it('gives up on a request that does not answer within the timeout', async () => {
    fake.delayNext(`/workflows/${workflowId}`, 500, 2);
    const err = await failure(
      client({ timeoutMs: 100, retry: { retries: 1, baseDelayMs: 1 } }).getWorkflow(workflowId),
    );
    expect(err).toBeInstanceOf(ManagerUnavailableError);
    expect(err.message).toBe(`GET /workflows/${workflowId}: no answer within 100 ms`);
  });

  it('reports an unreachable Manager as unavailable', async () => {
    const closed = await startFakeManager();
    await closed.close();
    const manager = client({ managerUrl: closed.url, retry: { retries: 0 } });
    const err = await failure(manager.getWorkflow(workflowId));
    expect(err).toBeInstanceOf(ManagerUnavailableError);
    expect(err.message).toBe(`GET /workflows/${workflowId}: network error ECONNREFUSED`);
  });

  it('stops at once, without retrying, when the caller aborts', async () => {
    fake.failNext(`/workflows/${workflowId}`, 503, 3);
    const controller = new AbortController();
    const call = client({ retry: { retries: 3, baseDelayMs: 5000 } }).getWorkflow(workflowId, {
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 100);
    const started = Date.now();
    await expect(call).rejects.toMatchObject({ name: 'AbortError' });
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe('ManagerClient error messages', () => {
  it('never contain the client secret or a token', async () => {
    const manager = client({ retry: { retries: 0 }, refusedTokenRetryMs: 0 });
    await manager.getBroker(1);
    const token = String(fake.state.requests[0]?.headers.authorization).replace('Bearer access_token=', '');
    fake.failNext('/messaging/brokers/1', 500, 1);
    fake.failNext('/messaging/brokers/1', 401, 2);
    const errors = [
      await failure(manager.getBroker(1)),
      await failure(manager.getBroker(1)),
      await failure(manager.getBroker(99)),
      await failure(client({ oauthClientSecret: 'not-the-secret' }).getBroker(1)),
    ];
    for (const err of errors) {
      expect(`${err.message} ${err.stack ?? ''}`).not.toContain(fake.clientSecret);
      expect(`${err.message} ${err.stack ?? ''}`).not.toContain('not-the-secret');
      expect(`${err.message} ${err.stack ?? ''}`).not.toContain(token);
    }
  });
});
