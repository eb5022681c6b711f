import {
  DockerEngineError,
  DockerPushError,
  DockerTimeoutError,
  pushImage,
  type Engine,
  type PushInput,
} from '../../../src/docker';
import { pushFailure } from '../../../src/docker/push';
import type { RetryNotice } from '../../../src/outage';
import {
  imageName,
  ImageNotFoundError,
  RegistryAuthError,
  RegistryUnavailableError,
  type RegistryAccess,
} from '../../../src/registry';
import {
  sendJson,
  type FakeHandler,
  type FakeHttpServer,
  type ReceivedRequest,
} from '../registry/fake-http-server';
import { recordingLogger } from '../../fakes/logger';
import { apiPath, startFakeEngine, streamLines } from './fake-engine';

const fast = { attempts: 3, initialDelayMs: 1, maxDelayMs: 2 };
const access: RegistryAccess = {
  url: 'http://127.0.0.1:5001',
  credentials: { username: 'builder', password: 'pw' },
};
const pushed = (tag: string) => [
  { status: 'The push refers to repository [127.0.0.1:5001/org/app]' },
  { status: 'Preparing', progressDetail: {}, id: '7622a2cdf09d' },
  {
    status: 'Pushing',
    progressDetail: { current: 512, total: 1024 },
    progress: '[=>  ]',
    id: '7622a2cdf09d',
  },
  { status: 'Pushed', progressDetail: {}, id: '7622a2cdf09d' },
  { status: `${tag}: digest: sha256:2c38 size: 735` },
  { progressDetail: {}, aux: { Tag: tag, Digest: `sha256:digest-of-${tag}`, Size: 735 } },
];
const inBand = (message: string) => [
  { status: 'The push refers to repository [127.0.0.1:5001/org/app]' },
  { errorDetail: { message }, error: message },
];

let server: FakeHttpServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function engineAnswering(push: FakeHandler): Promise<{ fake: FakeHttpServer; engine: Engine }> {
  const { server: fake, engine } = await startFakeEngine(push);
  server = fake;
  return { fake, engine };
}

function input(engine: Engine, extra: Partial<PushInput> = {}): PushInput {
  return {
    engine,
    image: imageName('org/app', access.url),
    tags: ['abc123', 'latest'],
    access,
    retry: fast,
    ...extra,
  };
}

const ctx = () => ({ signal: new AbortController().signal });
const authHeader = (req: ReceivedRequest | undefined) =>
  JSON.parse(Buffer.from(String(req?.headers['x-registry-auth']), 'base64url').toString()) as unknown;

describe('pushImage', () => {
  it('pushes each tag explicitly and returns their digests', async () => {
    const { fake, engine } = await engineAnswering((req, res) =>
      streamLines(res, pushed(req.url.searchParams.get('tag') ?? '')),
    );
    await expect(pushImage(input(engine), ctx())).resolves.toEqual([
      { tag: 'abc123', digest: 'sha256:digest-of-abc123' },
      { tag: 'latest', digest: 'sha256:digest-of-latest' },
    ]);
    expect(fake.requests.map((r) => `${apiPath(r.url.pathname)}${r.url.search}`).slice(1)).toEqual([
      '/images/127.0.0.1:5001/org/app/push?tag=abc123',
      '/images/127.0.0.1:5001/org/app/push?tag=latest',
    ]);
  });

  it('sends the configured credentials in X-Registry-Auth for the configured registry', async () => {
    const { fake, engine } = await engineAnswering((_req, res) => streamLines(res, pushed('abc123')));
    await pushImage(input(engine, { tags: ['abc123'] }), ctx());
    expect(authHeader(fake.requests[1])).toEqual({
      username: 'builder',
      password: 'pw',
      serveraddress: '127.0.0.1:5001',
    });
  });

  it('sends an empty X-Registry-Auth for anonymous pushes, as the daemon requires one', async () => {
    const { fake, engine } = await engineAnswering((_req, res) => streamLines(res, pushed('abc123')));
    await pushImage(input(engine, { tags: ['abc123'], access: { url: access.url } }), ctx());
    expect(fake.requests[1]?.headers['x-registry-auth']).toBe('e30=');
  });

  it('streams status lines without the byte-count updates', async () => {
    const { engine } = await engineAnswering((_req, res) =>
      streamLines(res, [...pushed('abc123'), 'proxy noise']),
    );
    const lines: string[] = [];
    await pushImage(input(engine, { tags: ['abc123'] }), { ...ctx(), onLine: (l) => lines.push(l) });
    expect(lines).toEqual([
      'The push refers to repository [127.0.0.1:5001/org/app]',
      '7622a2cdf09d: Preparing',
      '7622a2cdf09d: Pushed',
      'abc123: digest: sha256:2c38 size: 735',
      'proxy noise',
    ]);
  });

  it('retries a registry 5xx reported in-band and succeeds when the registry recovers', async () => {
    let failures = 2;
    const { fake, engine } = await engineAnswering((_req, res) =>
      streamLines(
        res,
        failures-- > 0
          ? inBand('received unexpected HTTP status: 500 Internal Server Error')
          : pushed('abc123'),
      ),
    );
    const log = recordingLogger();
    await expect(pushImage(input(engine, { tags: ['abc123'] }), { ...ctx(), log })).resolves.toHaveLength(1);
    expect(fake.requests.filter((r) => r.method === 'POST')).toHaveLength(3);
    expect(log.lines.filter((e) => e.level === 'warn').map((e) => e.message)).toEqual([
      'docker push failed; retrying',
      'docker push failed; retrying',
    ]);
  });

  it('retries an HTTP 5xx from the engine', async () => {
    let failures = 1;
    const { engine } = await engineAnswering((_req, res) =>
      failures-- > 0 ? sendJson(res, 500, { message: 'server error' }) : streamLines(res, pushed('abc123')),
    );
    await expect(pushImage(input(engine, { tags: ['abc123'] }), ctx())).resolves.toHaveLength(1);
  });

  it('names the engine in a retry notice when the engine failed, and the registry when it relayed its failure', async () => {
    let calls = 0;
    const { engine } = await engineAnswering((_req, res) => {
      calls++;
      if (calls === 1) sendJson(res, 500, { message: 'server error' });
      else if (calls === 2)
        streamLines(res, inBand('received unexpected HTTP status: 503 Service Unavailable'));
      else streamLines(res, pushed('abc123'));
    });
    const notices: RetryNotice[] = [];
    const outage = { ...fast, onRetry: (notice: RetryNotice) => notices.push(notice) };

    await expect(pushImage(input(engine, { tags: ['abc123'] }), { ...ctx(), outage })).resolves.toHaveLength(
      1,
    );

    expect(notices.map((n) => n.text.replace(/[\d.]+ s/, 'N s'))).toEqual([
      'docker engine unavailable, retrying in N s (attempt 2)',
      'registry unavailable, retrying in N s (attempt 3)',
    ]);
  });

  it('gives up with RegistryUnavailableError after the bounded attempts', async () => {
    const { fake, engine } = await engineAnswering((_req, res) =>
      streamLines(res, inBand('dial tcp: connection refused')),
    );
    await expect(pushImage(input(engine), ctx())).rejects.toThrow(RegistryUnavailableError);
    expect(fake.requests.filter((r) => r.method === 'POST')).toHaveLength(fast.attempts);
  });

  it('fails fast on an auth failure without retrying', async () => {
    const { fake, engine } = await engineAnswering((_req, res) =>
      streamLines(res, inBand('unauthorized: authentication required')),
    );
    const failure = pushImage(input(engine), ctx());
    await expect(failure).rejects.toThrow(RegistryAuthError);
    await expect(failure).rejects.toThrow(
      'registry 127.0.0.1:5001 refused access: unauthorized: authentication required',
    );
    expect(fake.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  it('reports an image missing on the build host as ImageNotFoundError', async () => {
    const { engine } = await engineAnswering((_req, res) => sendJson(res, 404, { message: 'No such image' }));
    await expect(pushImage(input(engine), ctx())).rejects.toThrow(
      new ImageNotFoundError('127.0.0.1:5001/org/app:abc123', 'build host'),
    );
  });

  it('fails on an HTTP 4xx refusal without retrying, as an auth failure when it says so', async () => {
    let answer = { status: 400, message: 'Bad parameters and missing X-Registry-Auth: EOF' };
    const { fake, engine } = await engineAnswering((_req, res) =>
      sendJson(res, answer.status, { message: answer.message }),
    );
    await expect(pushImage(input(engine), ctx())).rejects.toThrow(
      new DockerEngineError(engine.endpoint, 400, answer.message),
    );
    expect(fake.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
    answer = { status: 401, message: 'unauthorized: authentication required' };
    await expect(pushImage(input(engine), ctx())).rejects.toThrow(RegistryAuthError);
  });

  it('cancels a push that outlives its deadline with DockerTimeoutError and does not retry it', async () => {
    const { fake, engine } = await engineAnswering((_req, res) => {
      res.writeHead(200);
    });
    await expect(pushImage(input(engine, { timeoutMs: 50 }), ctx())).rejects.toThrow(DockerTimeoutError);
    expect(fake.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  it('stops waiting between attempts when aborted', async () => {
    const { engine } = await engineAnswering((_req, res) =>
      streamLines(res, inBand('received unexpected HTTP status: 502 Bad Gateway')),
    );
    const controller = new AbortController();
    const reason = new Error('workflow cancelled');
    const pending = pushImage(input(engine, { retry: { attempts: 5, initialDelayMs: 60_000 } }), {
      signal: controller.signal,
      log: { ...recordingLogger(), warn: () => controller.abort(reason) },
    });
    await expect(pending).rejects.toBe(reason);
  });
});

describe('pushFailure', () => {
  const image = imageName('org/app', access.url);

  it.each([
    ['unauthorized: authentication required', RegistryAuthError],
    ['no basic auth credentials', RegistryAuthError],
    ['denied: requested access to the resource is denied', RegistryAuthError],
    ['An image does not exist locally with the tag: 127.0.0.1:5001/org/app', ImageNotFoundError],
    ['received unexpected HTTP status: 503 Service Unavailable', RegistryUnavailableError],
    ['Put "http://r/v2/": read: connection reset by peer', RegistryUnavailableError],
    ['net/http: TLS handshake timeout', RegistryUnavailableError],
    ['toomanyrequests: slow down', RegistryUnavailableError],
    ['unexpected EOF', RegistryUnavailableError],
    ['manifest invalid: manifest invalid', DockerPushError],
  ])('sorts "%s" as %p', (message, kind) => {
    expect(pushFailure(image, 'abc123', message)).toBeInstanceOf(kind);
  });
});
