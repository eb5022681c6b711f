import {
  ManagerAuthError,
  ManagerClient,
  ManagerUnavailableError,
  type ManagerClientOptions,
} from '../../../src/manager';
import { recordingLogger } from '../../fakes/logger';
import { startFakeManager, type FakeManager } from '../../fakes/manager';
import { eventually } from '../../integration/amqp/topology';

const workflowId = 'wf-1';
let fake: FakeManager;

beforeEach(async () => {
  fake = await startFakeManager({
    workflows: [{ id: workflowId, workflow_error: false, workflow_completed: false }],
  });
});
afterEach(() => fake.close());

function client(overrides: Partial<ManagerClientOptions> = {}): ManagerClient {
  return new ManagerClient({
    managerUrl: fake.url,
    oauthLoginUrl: fake.oauthUrl,
    oauthClientId: fake.clientId,
    oauthClientSecret: fake.clientSecret,
    retry: { retries: 2, baseDelayMs: 10, maxDelayMs: 50 },
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

describe('the OAuth login', () => {
  it('posts exactly the JSON client-credentials body with JSON content headers', async () => {
    await client().getWorkflow(workflowId);
    const [login] = fake.state.logins;
    expect(login?.method).toBe('POST');
    expect(login?.headers['content-type']).toBe('application/json');
    expect(login?.headers.accept).toBe('application/json');
    expect(login?.body).toEqual({
      grant_type: 'client_credentials',
      client_id: fake.clientId,
      client_secret: fake.clientSecret,
    });
    expect(Object.keys(login?.body as object)).toEqual(['grant_type', 'client_id', 'client_secret']);
  });

  it('sends the Elixir client headers and the access_token bearer form on every Manager request', async () => {
    const manager = client();
    await manager.getWorkflow(workflowId);
    await manager.listSystemComponents({ type: 'manager' });
    expect(fake.state.requests).toHaveLength(2);
    for (const request of fake.state.requests) {
      expect(request.headers.accept).toBe('application/json');
      expect(request.headers['content-type']).toBe('application/json');
      expect(request.headers['user-agent']).toBe('openaperture-manager-api');
      expect(request.headers.authorization).toMatch(/^Bearer access_token=token-1-\w+$/);
    }
  });

  it('reuses one token for every call while it has more than 30 s to live', async () => {
    let now = 1_000_000;
    const manager = client({ now: () => now });
    await manager.getWorkflow(workflowId);
    now += 3600_000 - 30_001;
    await manager.getWorkflow(workflowId);
    await manager.getWorkflow(workflowId);
    expect(fake.state.logins).toHaveLength(1);
  });

  it('logs in again once the token is within 30 s of expiry', async () => {
    let now = 1_000_000;
    const manager = client({ now: () => now });
    await manager.getWorkflow(workflowId);
    now += 3600_000 - 30_000;
    await manager.getWorkflow(workflowId);
    expect(fake.state.logins).toHaveLength(2);
    const tokens = fake.state.requests.map((r) => r.headers.authorization);
    expect(tokens[0]).not.toBe(tokens[1]);
  });

  it('measures expiry from when the login request was sent, not from when the answer came', async () => {
    fake.setTokenTtl(31);
    fake.delayNext('/oauth/token', 1100);
    const manager = client();
    await manager.getWorkflow(workflowId);
    await manager.getWorkflow(workflowId);
    expect(fake.state.logins).toHaveLength(2);
  });

  it('shares one login between concurrent calls', async () => {
    fake.delayNext('/oauth/token', 200);
    const manager = client();
    await Promise.all(Array.from({ length: 5 }, () => manager.getWorkflow(workflowId)));
    expect(fake.state.logins).toHaveLength(1);
    expect(new Set(fake.state.requests.map((r) => r.headers.authorization)).size).toBe(1);
  });

  it('renews the token once when the Manager answers 401 and then repeats the call', async () => {
    const manager = client();
    await manager.getWorkflow(workflowId);
    fake.revokeTokens();
    await expect(manager.getWorkflow(workflowId)).resolves.toMatchObject({ id: workflowId });
    expect(fake.state.logins).toHaveLength(2);
    expect(fake.state.requests).toHaveLength(3);
  });

  it('fails with ManagerAuthError once the Manager has refused the fresh token for the bounded time', async () => {
    fake.setValidatorDown(true);
    const log = recordingLogger();
    const err = await failure(client({ refusedTokenRetryMs: 300, logger: log }).getWorkflow(workflowId));
    expect(err).toBeInstanceOf(ManagerAuthError);
    expect(err).toMatchObject({ status: 401, method: 'GET', path: `/workflows/${workflowId}` });
    expect(err.message).toContain('the Manager refused a freshly issued token');
    // One login more for the first 401, none for the retries: the fresh token is good for its whole life.
    expect(fake.state.logins).toHaveLength(2);
    const retries = log.lines.filter((l) => l.message.startsWith('the Manager refused a fresh token'));
    expect(retries.length).toBeGreaterThanOrEqual(1);
    expect(fake.state.requests).toHaveLength(2 + retries.length);
  });

  it('rides out an outage of the Manager’s token validator, retrying with backoff and saying so', async () => {
    const manager = client({ logger: recordingLogger() });
    await manager.getWorkflow(workflowId);
    fake.setValidatorDown(true);
    const log = recordingLogger();
    const call = client({ logger: log, refusedTokenRetryMs: 20_000 }).getWorkflow(workflowId);
    // Back once the call has been refused a few times after its fresh login.
    await eventually('three refusals of the fresh token', () => fake.state.requests.length >= 5);
    fake.setValidatorDown(false);
    await expect(call).resolves.toMatchObject({ id: workflowId });

    const retries = log.lines.filter((l) => l.message.startsWith('the Manager refused a fresh token'));
    expect(retries.length).toBeGreaterThanOrEqual(2);
    expect(retries.every((l) => l.level === 'warn')).toBe(true);
    expect(retries[0]?.fields).toMatchObject({ call: `GET /workflows/${workflowId}`, retry: 1 });
    expect(retries.map((l) => l.fields.retry)).toEqual(retries.map((_, i) => i + 1));
    expect(fake.state.logins).toHaveLength(3);
  });

  it('stops retrying a refused fresh token as soon as the caller aborts', async () => {
    fake.setValidatorDown(true);
    const aborter = new AbortController();
    const call = client({ refusedTokenRetryMs: 60_000 }).getWorkflow(workflowId, { signal: aborter.signal });
    await eventually('a refusal of the fresh token', () => fake.state.requests.length >= 2);
    aborter.abort(new Error('the workflow ended'));
    await expect(call).rejects.toThrow('the workflow ended');
  });

  it('also renews on a 401 to a POST, which the Manager rejected without acting on it', async () => {
    const manager = client();
    await manager.getWorkflow(workflowId);
    fake.revokeTokens();
    await manager.createSystemEvent({ type: 't', severity: 'info', message: 'm', data: null, unique: false });
    expect(fake.state.systemEvents).toHaveLength(1);
  });

  it('fails with ManagerAuthError, without the secret, when the login is refused', async () => {
    const err = await failure(client({ oauthClientSecret: 'wrong-secret-value' }).getWorkflow(workflowId));
    expect(err).toBeInstanceOf(ManagerAuthError);
    expect(err.message).toBe('POST OAuth login: refused with status 401');
    expect(err.message).not.toContain('wrong-secret-value');
    expect(fake.state.requests).toHaveLength(0);
  });

  it('retries a login that fails with 5xx and then succeeds', async () => {
    fake.failNext('/oauth/token', 502, 2);
    await expect(client().getWorkflow(workflowId)).resolves.toMatchObject({ id: workflowId });
    expect(fake.state.logins).toHaveLength(1);
  });

  it('fails with ManagerUnavailableError when the login keeps failing', async () => {
    fake.failNext('/oauth/token', 503, 3);
    const err = await failure(client().getWorkflow(workflowId));
    expect(err).toBeInstanceOf(ManagerUnavailableError);
    expect(err.message).toBe('POST OAuth login: status 503');
  });

  it('fails with ManagerAuthError when the login answer has no numeric expires_in', async () => {
    fake.setTokenTtl(Number.NaN);
    const err = await failure(client().getWorkflow(workflowId));
    expect(err).toBeInstanceOf(ManagerAuthError);
    expect(err.message).toBe('POST OAuth login: answer has no numeric expires_in');
  });

  it('lets a caller abandon a slow shared login without failing the other callers', async () => {
    fake.delayNext('/oauth/token', 300);
    const manager = client();
    const impatient = new AbortController();
    const first = manager.getWorkflow(workflowId, { signal: impatient.signal });
    const second = manager.getWorkflow(workflowId);
    impatient.abort();
    await expect(first).rejects.toMatchObject({ name: 'AbortError' });
    await expect(second).resolves.toMatchObject({ id: workflowId });
    expect(fake.state.logins).toHaveLength(1);
  });
});
