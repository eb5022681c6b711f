'use strict';
// A git smart-HTTP server for the builder's tests: `git http-backend` run as CGI behind node:http.
// Plain JavaScript so that `scripts/test-env.sh` can run it without a compile step, while TypeScript
// tests import `startGitServer` (typed by the .d.ts beside this file) to run one in-process on port 0.
//
// Two areas serve the same repositories under `root`:
//   /anon/<repo>.git  no credentials (pushes need `http.receivepack true` in the repo's config)
//   /auth/<repo>.git  HTTP Basic auth; 401 without credentials or with wrong ones, as most git hosts do
// and GET /_health answers 200 so a readiness probe can tell this server from anything else on the port.

const http = require('node:http');
const crypto = require('node:crypto');
const fs = require('node:fs');
const { spawn } = require('node:child_process');
const { Buffer } = require('node:buffer');
const { URL } = require('node:url');

const REALM = 'oa-builder-test git';

/** Compares through fixed-length digests so the time taken says nothing about the password. */
function sameSecret(given, expected) {
  const digest = (s) => crypto.createHash('sha256').update(s).digest();
  return crypto.timingSafeEqual(digest(given), digest(expected));
}

function hasBasicAuth(header, auth) {
  const match = /^Basic\s+(\S+)$/i.exec(header || '');
  if (!match) return false;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return false;
  const userOk = sameSecret(decoded.slice(0, colon), auth.username);
  const passwordOk = sameSecret(decoded.slice(colon + 1), auth.password);
  return userOk && passwordOk;
}

/** Splits a CGI response head ("Status: 404 Not Found", "Content-Type: ...") into a status and headers. */
function parseCgiHead(head) {
  let status = 200;
  const headers = {};
  for (const line of head.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10) || 500;
    else headers[name] = value;
  }
  return { status, headers };
}

function endWith(res, status, text, headers = {}) {
  res.writeHead(status, { 'Content-Type': 'text/plain', ...headers });
  res.end(`${text}\n`);
}

function runBackend(req, res, root, pathInfo, query, user) {
  const env = {
    PATH: process.env.PATH,
    GIT_PROJECT_ROOT: root,
    GIT_HTTP_EXPORT_ALL: '1',
    REQUEST_METHOD: req.method,
    PATH_INFO: pathInfo,
    QUERY_STRING: query,
    CONTENT_TYPE: req.headers['content-type'] || '',
    REMOTE_ADDR: req.socket.remoteAddress || '',
    REMOTE_USER: user,
    HTTP_CONTENT_ENCODING: req.headers['content-encoding'] || '',
    HTTP_GIT_PROTOCOL: req.headers['git-protocol'] || '',
  };
  // Without CONTENT_LENGTH http-backend reads the body to EOF, which is what a chunked push needs.
  if (req.headers['content-length']) env.CONTENT_LENGTH = req.headers['content-length'];

  const cgi = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let head = Buffer.alloc(0);
  let headDone = false;

  cgi.on('error', (err) => {
    if (!res.headersSent) endWith(res, 500, `cannot run git http-backend: ${err.message}`);
    else res.destroy(err);
  });
  cgi.stderr.on('data', (chunk) => process.stderr.write(chunk));
  // A client that hangs up early must not leave a backend waiting for a body that will never come.
  res.on('close', () => {
    if (cgi.exitCode === null && cgi.signalCode === null) cgi.kill('SIGTERM');
  });
  cgi.stdin.on('error', () => undefined);
  req.pipe(cgi.stdin);

  cgi.stdout.on('data', (chunk) => {
    if (headDone) {
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const text = head.toString('latin1');
    const crlf = text.indexOf('\r\n\r\n');
    const lf = text.indexOf('\n\n');
    const end = crlf >= 0 && (lf < 0 || crlf < lf) ? crlf + 4 : lf >= 0 ? lf + 2 : -1;
    if (end < 0) return;
    headDone = true;
    const { status, headers } = parseCgiHead(text.slice(0, end));
    res.writeHead(status, headers);
    res.write(head.subarray(end));
  });
  cgi.stdout.on('end', () => {
    if (headDone) res.end();
    else if (!res.headersSent) endWith(res, 502, 'git http-backend ended without a response');
  });
}

function handle(req, res, root, auth) {
  const url = new URL(req.url || '/', 'http://git.invalid');
  if (url.pathname === '/_health') return endWith(res, 200, 'ok');
  const match = /^\/(anon|auth)(\/.*)$/.exec(url.pathname);
  if (!match) return endWith(res, 404, 'not found: use /anon/<repo>.git or /auth/<repo>.git');
  let pathInfo;
  try {
    pathInfo = decodeURIComponent(match[2]);
  } catch {
    return endWith(res, 400, 'bad path encoding');
  }
  let user = '';
  if (match[1] === 'auth') {
    if (!auth) return endWith(res, 404, 'this server has no authenticated area');
    if (!hasBasicAuth(req.headers.authorization, auth)) {
      return endWith(res, 401, 'valid credentials required', {
        'WWW-Authenticate': `Basic realm="${REALM}"`,
      });
    }
    user = auth.username;
  }
  return runBackend(req, res, root, pathInfo, url.search.slice(1), user);
}

/**
 * Starts a server on `host:port` (port 0 picks a free one) serving the bare repositories under `root`.
 * Resolves once it listens, with its base URL and a `close()` that also drops open connections.
 */
function startGitServer({ root, port = 0, host = '127.0.0.1', auth }) {
  if (!fs.statSync(root).isDirectory()) throw new Error(`git server root is not a directory: ${root}`);
  const server = http.createServer((req, res) => handle(req, res, root, auth));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      const url = `http://${host}:${address.port}`;
      const close = () =>
        new Promise((done) => {
          server.close(() => done());
          server.closeAllConnections();
        });
      resolve({ url, port: address.port, close });
    });
  });
}

function parseArgs(argv) {
  const options = { host: '127.0.0.1', port: '0' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i];
    const value = argv[i + 1];
    if (!key || !key.startsWith('--') || value === undefined) throw new Error(`bad argument: ${key}`);
    options[key.slice(2)] = value;
  }
  if (!options.root) throw new Error('--root <dir> is required');
  return options;
}

/** Reads "user:password" from a file, so the password never shows in the process list. */
function readAuthFile(file) {
  const line = fs.readFileSync(file, 'utf8').trim();
  const colon = line.indexOf(':');
  if (colon <= 0) throw new Error(`${file} must hold "user:password"`);
  return { username: line.slice(0, colon), password: line.slice(colon + 1) };
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const auth = options['auth-file'] ? readAuthFile(options['auth-file']) : undefined;
  const server = await startGitServer({
    root: options.root,
    host: options.host,
    port: Number(options.port),
    auth,
  });
  console.log(`git-http-server: serving ${options.root} on ${server.url} (areas /anon, /auth)`);
  for (const signal of ['SIGTERM', 'SIGINT']) {
    process.once(signal, () => {
      void server.close().then(() => process.exit(0));
    });
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(`git-http-server: ${err.message}`);
    process.exit(1);
  });
}

module.exports = { startGitServer };
