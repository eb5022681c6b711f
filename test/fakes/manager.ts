import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createSystemEvent,
  errors,
  exchangeView,
  registerModule,
  rowsWhere,
  updateWorkflow,
  type FakeManagerSeed,
  type Row,
  type StoredEvent,
} from './manager-data';

export type { FakeManagerSeed, Row } from './manager-data';

/**
 * A fake OpenAperture Manager on 127.0.0.1, written from protocol §3: the OAuth client-credentials login, the
 * `:secure` pipeline's token check, and the resources a system module uses, with knobs to make it fail.
 */

/** One request as the fake saw it. Header names are lower case. */
export interface SeenRequest {
  method: string;
  /** Path without the query, as sent (still percent-encoded). */
  path: string;
  /** Decoded query parameters. */
  query: Record<string, string>;
  /** The raw query string after `?`, or '' (to check encoding). */
  rawQuery: string;
  headers: http.IncomingHttpHeaders;
  /** The body parsed as JSON, or the text when it is not JSON, or undefined when empty. */
  body: unknown;
}

export interface FakeManagerState {
  /** Every login request. */
  logins: SeenRequest[];
  /** Every other request, in arrival order. */
  requests: SeenRequest[];
  workflowPuts: { id: string; body: Row }[];
  /** Current module rows by exchange id, then hostname. */
  modules: Map<string, Map<string, Row>>;
  /** Every module POST body, accepted or not. */
  modulePosts: { exchangeId: string; body: Row }[];
  /** Stored system events. */
  systemEvents: Row[];
  workflows: Map<string, Row>;
}

export interface FakeManager {
  /** Base URL of the REST API (MANAGER_URL). */
  url: string;
  /** The token endpoint (OAUTH_LOGIN_URL). */
  oauthUrl: string;
  clientId: string;
  clientSecret: string;
  state: FakeManagerState;
  /** The next `times` requests whose path (no query) equals `path` get `status`, or a reset connection. */
  failNext(path: string, status: number | 'reset', times?: number): void;
  /** The next `times` requests to `path` are answered only after `ms`. */
  delayNext(path: string, ms: number, times?: number): void;
  /** Creates or replaces a workflow as GET will return it. */
  setWorkflow(id: string, body: Row): void;
  /** Makes every token issued so far invalid, so their next use gets 401. */
  revokeTokens(): void;
  /**
   * Cuts the Manager off from its token validator, or reconnects it: meanwhile every secured call gets 401,
   * whatever its token, as the real Manager answers when it cannot validate one.
   */
  setValidatorDown(down: boolean): void;
  /** `expires_in` of tokens issued from now on, in seconds. */
  setTokenTtl(seconds: number): void;
  close(): Promise<void>;
}

type Handler = (req: SeenRequest, params: string[]) => { status: number; body?: unknown; location?: string };

const authPattern = /bearer\s?(access_token=)?/i;

function parseBody(text: string): unknown {
  if (text.length === 0) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Starts the fake on an ephemeral loopback port. */
export async function startFakeManager(seed: FakeManagerSeed = {}): Promise<FakeManager> {
  const clientId = seed.clientId ?? 'builder-client';
  const clientSecret = seed.clientSecret ?? 's3cr3t-client-secret';
  let tokenTtl = seed.tokenTtlSeconds ?? 3600;
  const valid = new Set<string>();
  let validatorDown = false;
  let issued = 0;
  const failures: { path: string; status: number | 'reset'; left: number }[] = [];
  const delays: { path: string; ms: number; left: number }[] = [];
  const events: StoredEvent[] = [];
  const state: FakeManagerState = {
    logins: [],
    requests: [],
    workflowPuts: [],
    modules: new Map(),
    modulePosts: [],
    systemEvents: [],
    workflows: new Map((seed.workflows ?? []).map((w) => [w.id, w])),
  };
  const exchanges = seed.exchanges ?? [];

  const login: Handler = (req) => {
    state.logins.push(req);
    const body = (req.body ?? {}) as Row;
    const ok =
      body.grant_type === 'client_credentials' &&
      body.client_id === clientId &&
      body.client_secret === clientSecret;
    if (!ok) return { status: 401, body: { error: 'invalid_client' } };
    const token = `token-${++issued}-${Math.random().toString(36).slice(2)}`;
    valid.add(token);
    return { status: 200, body: { access_token: token, token_type: 'bearer', expires_in: tokenTtl } };
  };

  const found = (row: unknown): { status: number; body?: unknown } =>
    row === undefined ? { status: 404 } : { status: 200, body: row };

  const routes: [string, RegExp, Handler][] = [
    [
      'GET',
      /^\/messaging\/brokers\/([^/]+)$/,
      (_, [id]) => found(seed.brokers?.find((b) => String(b.id) === id)),
    ],
    [
      'GET',
      /^\/messaging\/brokers\/([^/]+)\/connections$/,
      (_, [id]) => found(rowsWhere(seed.connections ?? [], 'messaging_broker_id', id ?? '')),
    ],
    ['GET', /^\/messaging\/exchanges\/([^/]+)$/, (_, [id]) => found(exchangeView(exchanges, id ?? ''))],
    [
      'GET',
      /^\/messaging\/exchanges\/([^/]+)\/brokers$/,
      (_, [id]) => found(rowsWhere(seed.restrictions ?? [], 'messaging_exchange_id', id ?? '')),
    ],
    [
      'POST',
      /^\/messaging\/exchanges\/([^/]+)\/modules$/,
      (req, [id = '']) => {
        state.modulePosts.push({ exchangeId: id, body: (req.body ?? {}) as Row });
        if (!exchangeView(exchanges, id)) return { status: 404 };
        const rows = state.modules.get(id) ?? new Map<string, Row>();
        state.modules.set(id, rows);
        return registerModule(rows, id, req.body, Date.now());
      },
    ],
    [
      'GET',
      /^\/messaging\/exchanges\/([^/]+)\/modules$/,
      (_, [id]) => found([...(state.modules.get(id ?? '')?.values() ?? [])]),
    ],
    [
      'GET',
      /^\/messaging\/exchanges\/([^/]+)\/modules\/([^/]+)$/,
      (_, [id, host]) => found(state.modules.get(id ?? '')?.get(host ?? '')),
    ],
    [
      'DELETE',
      /^\/messaging\/exchanges\/([^/]+)\/modules\/([^/]+)$/,
      (_, [id, host]) => ({ status: state.modules.get(id ?? '')?.delete(host ?? '') ? 204 : 404 }),
    ],
    ['GET', /^\/workflows\/([^/]+)$/, (_, [id]) => found(state.workflows.get(id ?? ''))],
    [
      'PUT',
      /^\/workflows\/([^/]+)$/,
      (req, [id = '']) => {
        state.workflowPuts.push({ id, body: (req.body ?? {}) as Row });
        return updateWorkflow(state.workflows, id, req.body, Date.now());
      },
    ],
    [
      'GET',
      /^\/system_components$/,
      (req) =>
        found((seed.systemComponents ?? []).filter((c) => !req.query.type || c.type === req.query.type)),
    ],
    [
      'POST',
      /^\/system_events$/,
      (req) => {
        const answer = createSystemEvent(events, req.body, Date.now());
        if (answer.status === 201) state.systemEvents.push((req.body ?? {}) as Row);
        return answer;
      },
    ],
  ];

  function route(req: SeenRequest): { status: number; body?: unknown; location?: string } {
    if (req.method === 'GET' && req.path === '/status') return { status: 200, body: '' };
    if (req.method === 'POST' && req.path === '/oauth/token') return login(req, []);
    state.requests.push(req);
    const header = req.headers.authorization ?? '';
    const match = authPattern.exec(header);
    const token = match ? header.slice(match.index + match[0].length).trim() : '';
    if (validatorDown || !valid.has(token)) return { status: 401, body: 'Unauthorized' };
    for (const [method, pattern, handler] of routes) {
      const m = pattern.exec(req.path);
      if (m && method === req.method)
        return handler(
          req,
          m.slice(1).map((s) => decodeURIComponent(s)),
        );
    }
    return { status: 404 };
  }

  const server = http.createServer((request, response) => {
    let text = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (text += chunk));
    request.on('end', () => {
      const [path = '/', rawQuery = ''] = (request.url ?? '/').split('?', 2);
      const seen: SeenRequest = {
        method: request.method ?? 'GET',
        path,
        query: Object.fromEntries(new URLSearchParams(rawQuery)),
        rawQuery,
        headers: request.headers,
        body: parseBody(text),
      };
      const failure = failures.find((f) => f.path === path && f.left > 0);
      if (failure) {
        failure.left--;
        if (failure.status === 'reset') return void request.socket.destroy();
        response.writeHead(failure.status, { 'content-type': 'application/json' });
        return void response.end(JSON.stringify(errors({ message: 'injected failure' })));
      }
      const answer = route(seen);
      const delay = delays.find((d) => d.path === path && d.left > 0);
      if (delay) delay.left--;
      setTimeout(() => {
        const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json' };
        if (answer.location) headers.location = answer.location;
        response.writeHead(answer.status, headers);
        response.end(answer.body === undefined ? '' : JSON.stringify(answer.body));
      }, delay?.ms ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    oauthUrl: `${url}/oauth/token`,
    clientId,
    clientSecret,
    state,
    failNext: (path, status, times = 1) => void failures.push({ path, status, left: times }),
    delayNext: (path, ms, times = 1) => void delays.push({ path, ms, left: times }),
    setWorkflow: (id, body) => void state.workflows.set(id, { ...body, id }),
    revokeTokens: () => valid.clear(),
    setValidatorDown: (down) => void (validatorDown = down),
    setTokenTtl: (seconds) => void (tokenTtl = seconds),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

/** The fields of a heartbeat the Overseer forwards; it drops the rest. */
export interface ForwardedHeartbeat {
  hostname: string;
  type: string;
  status: string;
  workload: unknown;
}

/**
 * What the Overseer does with each heartbeat (protocol §4.2): `POST /messaging/exchanges/<its exchange>/modules`
 * with the heartbeat's hostname, type, status and workload, logged in as any module. Resolves to the status.
 */
export async function overseerForward(
  manager: FakeManager,
  exchangeId: string,
  heartbeat: ForwardedHeartbeat,
): Promise<number> {
  const json = { 'content-type': 'application/json', accept: 'application/json' };
  const login = await fetch(manager.oauthUrl, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({
      grant_type: 'client_credentials',
      client_id: manager.clientId,
      client_secret: manager.clientSecret,
    }),
  });
  const { access_token: token } = (await login.json()) as { access_token: string };
  const response = await fetch(`${manager.url}/messaging/exchanges/${exchangeId}/modules`, {
    method: 'POST',
    headers: { ...json, authorization: `Bearer access_token=${token}` },
    body: JSON.stringify(heartbeat),
  });
  await response.text();
  return response.status;
}
