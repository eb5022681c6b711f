'use strict';
// A stand-in OpenAperture Manager for trying the service mode by hand and for docker-compose.yml: plain Node,
// no dependencies, no compile step. Written from protocol §3 like the tests' fake (test/fakes/manager.ts,
// whose behaviour it keeps; test/unit/deploy/fake-manager.test.ts runs both side by side), without the
// failure knobs: the OAuth client-credentials login, the `:secure` pipeline's token check, and the resources a
// system module uses. The writes follow the real Manager's rules in fake-manager-rules.js, which the tests'
// fake applies too (docs/manager.md). State lives in memory only.
//
// usage: node scripts/fake-manager.js [--host 127.0.0.1] [--port 4000] [--seed FILE]
//   --seed FILE (or FAKE_MANAGER_SEED=FILE, or the JSON itself in FAKE_MANAGER_SEED_JSON) holds
//   { clientId, clientSecret, tokenTtlSeconds, brokers, connections, exchanges, restrictions, workflows,
//     systemComponents }, every key optional, as test/fakes/manager-data.ts describes them.
//   The REST API is served at http://HOST:PORT/ (MANAGER_URL) and the token endpoint at /oauth/token
//   (OAUTH_LOGIN_URL). The first line on standard output names the bound address.
//   GET /_fake/requests reads back every request it answered, oldest first (`?since=N` skips the first N):
//   method, path, query, JSON body (a login's is left out: it holds the client secret), status and time.
//   No token needed; it is not part of the Manager's API.

const http = require('node:http');
const fs = require('node:fs');
const crypto = require('node:crypto');
const { URLSearchParams } = require('node:url');
const {
  registerModule,
  updateWorkflow,
  createSystemEvent,
  rfc1123,
  errors,
} = require('./fake-manager-rules');

const AUTH = /bearer\s?(access_token=)?/i;

const sameId = (a, b) => (typeof a === 'string' || typeof a === 'number') && String(a) === String(b);
const rowsWhere = (rows, field, id) => rows.filter((row) => sameId(row[field], id));

/** An exchange as GET returns it: `routing_key` joins the fragments root first, `root_exchange_name` is the top. */
function exchangeView(exchanges, id) {
  const exchange = exchanges.find((e) => sameId(e.id, id));
  if (!exchange) return undefined;
  const chain = [];
  for (let e = exchange; e && !chain.includes(e);) {
    chain.unshift(e);
    const parent = e.parent_exchange_id;
    e = parent === null || parent === undefined ? undefined : exchanges.find((p) => sameId(p.id, parent));
  }
  return {
    failover_exchange_id: null,
    parent_exchange_id: null,
    ...exchange,
    routing_key: chain.map((e) => e.routing_key_fragment).join('.'),
    root_exchange_name: chain[0].name,
    inserted_at: rfc1123(0),
    updated_at: rfc1123(0),
  };
}

function parseBody(text) {
  if (text.length === 0) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Routes one request; returns { status, body?, location? }. */
function createRouter(seed) {
  const clientId = seed.clientId ?? 'builder-client';
  const clientSecret = seed.clientSecret ?? 's3cr3t-client-secret';
  const ttl = seed.tokenTtlSeconds ?? 3600;
  const exchanges = seed.exchanges ?? [];
  const tokens = new Map(); // token -> expiry (ms)
  const modules = new Map(); // exchange id -> Map(hostname -> row)
  const workflows = new Map((seed.workflows ?? []).map((w) => [String(w.id), w]));
  const events = [];
  const found = (row) => (row === undefined ? { status: 404 } : { status: 200, body: row });

  const login = (body) => {
    const b = body ?? {};
    if (b.grant_type !== 'client_credentials' || b.client_id !== clientId || b.client_secret !== clientSecret)
      return { status: 401, body: { error: 'invalid_client' } };
    const token = crypto.randomBytes(18).toString('base64url');
    tokens.set(token, Date.now() + ttl * 1000);
    return { status: 200, body: { access_token: token, token_type: 'bearer', expires_in: ttl } };
  };

  const routes = [
    [
      'GET',
      /^\/messaging\/brokers\/([^/]+)$/,
      (_, [id]) => found((seed.brokers ?? []).find((b) => sameId(b.id, id))),
    ],
    [
      'GET',
      /^\/messaging\/brokers\/([^/]+)\/connections$/,
      (_, [id]) => found(rowsWhere(seed.connections ?? [], 'messaging_broker_id', id)),
    ],
    ['GET', /^\/messaging\/exchanges\/([^/]+)$/, (_, [id]) => found(exchangeView(exchanges, id))],
    [
      'GET',
      /^\/messaging\/exchanges\/([^/]+)\/brokers$/,
      (_, [id]) => found(rowsWhere(seed.restrictions ?? [], 'messaging_exchange_id', id)),
    ],
    [
      'POST',
      /^\/messaging\/exchanges\/([^/]+)\/modules$/,
      (body, [id]) => {
        if (!exchangeView(exchanges, id)) return { status: 404 };
        if (!modules.has(id)) modules.set(id, new Map());
        return registerModule(modules.get(id), id, body, Date.now());
      },
    ],
    [
      'GET',
      /^\/messaging\/exchanges\/([^/]+)\/modules$/,
      (_, [id]) => found([...(modules.get(id)?.values() ?? [])]),
    ],
    [
      'GET',
      /^\/messaging\/exchanges\/([^/]+)\/modules\/([^/]+)$/,
      (_, [id, host]) => found(modules.get(id)?.get(host)),
    ],
    [
      'DELETE',
      /^\/messaging\/exchanges\/([^/]+)\/modules\/([^/]+)$/,
      (_, [id, host]) => ({ status: modules.get(id)?.delete(host) ? 204 : 404 }),
    ],
    ['GET', /^\/workflows\/([^/]+)$/, (_, [id]) => found(workflows.get(id))],
    ['PUT', /^\/workflows\/([^/]+)$/, (body, [id]) => updateWorkflow(workflows, id, body, Date.now())],
    [
      'GET',
      /^\/system_components$/,
      (_, __, query) =>
        found(
          (seed.systemComponents ?? []).filter((c) => !query.get('type') || c.type === query.get('type')),
        ),
    ],
    ['POST', /^\/system_events$/, (body) => createSystemEvent(events, body, Date.now())],
  ];

  return function route(method, path, query, headers, body) {
    if (method === 'GET' && path === '/status') return { status: 200, body: '' };
    if (method === 'POST' && path === '/oauth/token') return login(body);
    const header = headers.authorization ?? '';
    const match = AUTH.exec(header);
    const token = match ? header.slice(match.index + match[0].length).trim() : '';
    if (!((tokens.get(token) ?? 0) > Date.now())) return { status: 401, body: 'Unauthorized' };
    for (const [m, pattern, handler] of routes) {
      const found = pattern.exec(path);
      if (found && m === method) {
        let params;
        try {
          params = found.slice(1).map((s) => decodeURIComponent(s));
        } catch {
          return { status: 400, body: errors({ message: 'bad path encoding' }) };
        }
        return handler(body, params, query);
      }
    }
    return { status: 404 };
  };
}

/** Starts the fake on `host:port` (port 0 picks a free one); resolves with its URLs and a `close()`. */
const REQUEST_LOG = '/_fake/requests';

function startFakeManager(seed = {}, { host = '127.0.0.1', port = 0 } = {}) {
  const route = createRouter(seed);
  const requests = [];
  const server = http.createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => (text += chunk));
    req.on('end', () => {
      const [path = '/', rawQuery = ''] = (req.url ?? '/').split('?', 2);
      const query = new URLSearchParams(rawQuery);
      if (req.method === 'GET' && path === REQUEST_LOG) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(requests.slice(Number(query.get('since') ?? 0) || 0)));
        return;
      }
      const body = parseBody(text);
      const answer = route(req.method, path, query, req.headers, body);
      requests.push({
        at: new Date().toISOString(),
        method: req.method,
        path,
        query: Object.fromEntries(query),
        ...(path === '/oauth/token' || body === undefined ? {} : { body }),
        status: answer.status,
      });
      const headers = { 'content-type': 'application/json' };
      if (answer.location) headers.location = answer.location;
      res.writeHead(answer.status, headers);
      res.end(answer.body === undefined ? '' : JSON.stringify(answer.body));
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const address = server.address();
      const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      const url = `http://${shown}:${address.port}`;
      const close = () =>
        new Promise((done) => {
          server.close(() => done());
          server.closeAllConnections();
        });
      resolve({ url, oauthUrl: `${url}/oauth/token`, port: address.port, requests, close });
    });
  });
}

function readSeed(options, env) {
  const file = options.seed ?? env.FAKE_MANAGER_SEED;
  const text = file ? fs.readFileSync(file, 'utf8') : env.FAKE_MANAGER_SEED_JSON;
  if (!text) return {};
  const seed = JSON.parse(text);
  if (typeof seed !== 'object' || seed === null || Array.isArray(seed))
    throw new Error('the seed must be a JSON object');
  return seed;
}

function parseArgs(argv) {
  const options = { host: '127.0.0.1', port: '4000' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i];
    const value = argv[i + 1];
    if (!['--host', '--port', '--seed'].includes(key) || value === undefined)
      throw new Error(`bad argument: ${key} (usage: --host HOST --port PORT --seed FILE)`);
    options[key.slice(2)] = value;
  }
  if (!/^\d+$/.test(options.port) || Number(options.port) > 65535)
    throw new Error(`bad port: ${options.port}`);
  return options;
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const manager = await startFakeManager(readSeed(options, process.env), {
    host: options.host,
    port: Number(options.port),
  });
  console.log(`fake-manager: listening on ${manager.url} (token endpoint ${manager.oauthUrl})`);
  for (const signal of ['SIGTERM', 'SIGINT']) {
    process.once(signal, () => {
      void manager.close().then(() => process.exit(0));
    });
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(`fake-manager: ${err.message}`);
    process.exit(1);
  });
}

module.exports = { startFakeManager };
