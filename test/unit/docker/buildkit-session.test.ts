import type http2 from 'node:http2';
import { DockerUnreachableError } from '../../../src/docker';
import { frame, unframe } from '../../../src/docker/buildkit/grpc';
import { decodeMessage, encodeMessage } from '../../../src/docker/buildkit/proto';
import { openSession, type BuildSession, type SessionServices } from '../../../src/docker/buildkit/session';
import { sessionEngine, type SessionEngine } from './fake-session-engine';

interface CallResult {
  readonly status: string | undefined;
  readonly message: string | undefined;
  readonly body: Buffer | undefined;
}

/** One unary gRPC call as the engine's client makes it. */
function call(client: http2.ClientHttp2Session, path: string, request: Buffer): Promise<CallResult> {
  return new Promise((resolve, reject) => {
    const stream = client.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc' });
    const chunks: Buffer[] = [];
    let headers: http2.IncomingHttpHeaders = {};
    stream.on('response', (h) => (headers = h));
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('trailers', (trailers: http2.IncomingHttpHeaders) => (headers = { ...headers, ...trailers }));
    stream.on('error', reject);
    stream.on('end', () => {
      const body = Buffer.concat(chunks);
      resolve({
        status: headers['grpc-status'] as string | undefined,
        message:
          headers['grpc-message'] === undefined
            ? undefined
            : decodeURIComponent(String(headers['grpc-message'])),
        body: body.length > 0 ? unframe(body) : undefined,
      });
    });
    stream.end(frame(request));
  });
}

const services: SessionServices = {
  registry: '127.0.0.1:25051',
  credentials: { username: 'builder', password: 'registry-pass' },
  secrets: { git_token: 'token-value' },
};

let fake: SessionEngine | undefined;
let session: BuildSession | undefined;
afterEach(async () => {
  session?.close();
  await fake?.close();
  fake = session = undefined;
});

async function opened(): Promise<http2.ClientHttp2Session> {
  fake = await sessionEngine();
  session = await openSession(fake.engine, services, new AbortController().signal);
  return fake.client;
}

describe('openSession', () => {
  it('asks the engine for an h2c upgrade of POST /session, naming itself and the methods it serves', async () => {
    await opened();
    const headers = fake?.upgrades[0] ?? {};
    expect(headers.upgrade).toBe('h2c');
    expect(headers['x-docker-expose-session-uuid']).toBe(session?.id);
    expect(String(headers['x-docker-expose-session-grpc-method']).split(', ')).toEqual(
      expect.arrayContaining([
        '/grpc.health.v1.Health/Check',
        '/moby.filesync.v1.Auth/Credentials',
        '/moby.buildkit.secrets.v1.Secrets/GetSecret',
      ]),
    );
  });

  it('answers health checks as serving, which keeps the engine from dropping the session', async () => {
    const client = await opened();
    const result = await call(client, '/grpc.health.v1.Health/Check', Buffer.alloc(0));
    expect(result.status).toBe('0');
    expect(decodeMessage('grpc.health.v1.HealthCheckResponse', result.body ?? Buffer.alloc(0))).toEqual({
      status: 1,
    });
  });

  it('gives the credentials for the configured registry and none for any other', async () => {
    const client = await opened();
    const ask = async (Host: string) => {
      const result = await call(
        client,
        '/moby.filesync.v1.Auth/Credentials',
        encodeMessage('moby.filesync.v1.CredentialsRequest', { Host }),
      );
      return decodeMessage('moby.filesync.v1.CredentialsResponse', result.body ?? Buffer.alloc(0));
    };
    expect(await ask('127.0.0.1:25051')).toEqual({ Username: 'builder', Secret: 'registry-pass' });
    expect(await ask('evil.example:443')).toEqual({ Username: '', Secret: '' });
  });

  it('leaves the token authority unimplemented, so BuildKit falls back to plain credentials', async () => {
    const client = await opened();
    const result = await call(client, '/moby.filesync.v1.Auth/GetTokenAuthority', Buffer.alloc(0));
    expect(result.status).toBe('12');
    expect(result.body).toBeUndefined();
  });

  it('gives a configured secret and answers NOT_FOUND for any other, inherited names included', async () => {
    const client = await opened();
    const ask = (ID: string) =>
      call(
        client,
        '/moby.buildkit.secrets.v1.Secrets/GetSecret',
        encodeMessage('moby.buildkit.secrets.v1.GetSecretRequest', { ID }),
      );
    const found = await ask('git_token');
    expect(found.status).toBe('0');
    expect(
      decodeMessage('moby.buildkit.secrets.v1.GetSecretResponse', found.body ?? Buffer.alloc(0)),
    ).toEqual({
      data: Buffer.from('token-value'),
    });
    for (const id of ['registry_password', 'constructor']) {
      const missing = await ask(id);
      expect(missing).toEqual({ status: '5', message: `secret ${id} not found`, body: undefined });
    }
  });

  it('answers a request that is not one gRPC message with INTERNAL', async () => {
    const client = await opened();
    const stream = client.request({ ':method': 'POST', ':path': '/grpc.health.v1.Health/Check' });
    const headers = await new Promise<http2.IncomingHttpHeaders>((resolve) => {
      stream.on('response', resolve);
      stream.end(Buffer.from([0, 0, 0]));
    });
    expect(headers['grpc-status']).toBe('13');
  });

  it("fails with the engine's message when the engine refuses the session", async () => {
    fake = await sessionEngine((_req, res) => {
      res.writeHead(400, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ message: 'session not supported' }));
    }, false);
    await expect(openSession(fake.engine, services, new AbortController().signal)).rejects.toThrow(
      new DockerUnreachableError(
        fake.engine.endpoint,
        'no BuildKit session: HTTP 400: session not supported',
      ),
    );
  });
});

describe('gRPC framing', () => {
  it('prefixes a message with a zero flag and its length, and reads it back', () => {
    const framed = frame(Buffer.from('abc'));
    expect([...framed]).toEqual([0, 0, 0, 0, 3, 97, 98, 99]);
    expect(unframe(framed).toString()).toBe('abc');
  });

  it('rejects compressed and truncated messages', () => {
    expect(() => unframe(Buffer.from([1, 0, 0, 0, 0]))).toThrow('compressed messages are not accepted');
    expect(() => unframe(Buffer.from([0, 0, 0, 0, 9, 1]))).toThrow('the gRPC message is truncated');
  });
});
