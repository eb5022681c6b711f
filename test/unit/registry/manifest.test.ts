import type { ServerResponse } from 'node:http';
import {
  imageName,
  ImageNotFoundError,
  manifestExists,
  RegistryAuthError,
  RegistryResponseError,
  RegistryUnavailableError,
  verifyImage,
  type ManifestQuery,
  type RegistryAccess,
} from '../../../src/registry';
import { sendJson, startFakeHttpServer, type FakeHttpServer, type ReceivedRequest } from './fake-http-server';
import { recordingLogger } from '../../fakes/logger';

const fast = { attempts: 3, initialDelayMs: 1, maxDelayMs: 2 };
const credentials = { username: 'builder', password: 'p4ss-word' };
const basicHeader = `Basic ${Buffer.from('builder:p4ss-word').toString('base64')}`;
const ctx = () => ({ signal: new AbortController().signal });

let server: FakeHttpServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function registry(
  handler: (req: ReceivedRequest, res: ServerResponse) => void,
): Promise<FakeHttpServer> {
  server = await startFakeHttpServer(handler);
  return server;
}

function query(access: RegistryAccess, tag = 'abc123'): ManifestQuery {
  return { image: imageName('org/app', access.url), tag, access, retry: fast };
}

function manifestOnly(tags: string[]) {
  return (req: ReceivedRequest, res: ServerResponse) => {
    const match = /^\/v2\/org\/app\/manifests\/(.+)$/.exec(req.url.pathname);
    res.writeHead(match && tags.includes(match[1] ?? '') ? 200 : 404);
    res.end();
  };
}

describe('manifestExists', () => {
  it('finds a tag by a HEAD of its manifest, asking for every manifest kind', async () => {
    const fake = await registry(manifestOnly(['abc123']));
    await expect(manifestExists(query({ url: fake.url }), ctx())).resolves.toBe(true);
    const [req] = fake.requests;
    expect(req?.method).toBe('HEAD');
    expect(req?.url.pathname).toBe('/v2/org/app/manifests/abc123');
    expect(req?.headers.accept).toContain('application/vnd.docker.distribution.manifest.v2+json');
    expect(req?.headers.accept).toContain('application/vnd.oci.image.index.v1+json');
  });

  it('says false for a tag the registry does not have', async () => {
    const fake = await registry(manifestOnly(['other']));
    await expect(manifestExists(query({ url: fake.url }), ctx())).resolves.toBe(false);
  });

  it('falls back to GET where HEAD is not implemented', async () => {
    const fake = await registry((req, res) => {
      res.writeHead(req.method === 'HEAD' ? 405 : 200);
      res.end(req.method === 'GET' ? '{}' : undefined);
    });
    await expect(manifestExists(query({ url: fake.url }), ctx())).resolves.toBe(true);
    expect(fake.requests.map((r) => r.method)).toEqual(['HEAD', 'GET']);
  });

  it('answers a Basic challenge with the configured credentials', async () => {
    const fake = await registry((req, res) => {
      if (req.headers.authorization !== basicHeader) {
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="test"' });
        res.end();
      } else manifestOnly(['abc123'])(req, res);
    });
    await expect(manifestExists(query({ url: fake.url, credentials }), ctx())).resolves.toBe(true);
    expect(fake.requests.map((r) => r.headers.authorization)).toEqual([undefined, basicHeader]);
  });

  it('fails fast with RegistryAuthError when the password is wrong', async () => {
    const fake = await registry((_req, res) => {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="test"' });
      res.end();
    });
    const failure = manifestExists(
      query({ url: fake.url, credentials: { ...credentials, password: 'wrong' } }),
      ctx(),
    );
    await expect(failure).rejects.toThrow(RegistryAuthError);
    await expect(failure).rejects.toThrow(/credentials were rejected/);
    await expect(failure).rejects.not.toThrow(/wrong/);
    expect(fake.requests).toHaveLength(2);
  });

  it('says credentials are required when a Basic registry gets none', async () => {
    const fake = await registry((_req, res) => {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="test"' });
      res.end();
    });
    await expect(manifestExists(query({ url: fake.url }), ctx())).rejects.toThrow(/credentials are required/);
    expect(fake.requests).toHaveLength(1);
  });

  it('follows the Bearer token flow, sending the credentials only to the token realm', async () => {
    const fake = await registry((req, res) => {
      if (req.url.pathname === '/token') {
        const ok = req.headers.authorization === basicHeader;
        sendJson(res, ok ? 200 : 401, ok ? { token: 'tok-1' } : {});
      } else if (req.headers.authorization === 'Bearer tok-1') {
        manifestOnly(['abc123'])(req, res);
      } else {
        const realm = `http://${req.headers.host ?? ''}/token`;
        res.writeHead(401, { 'WWW-Authenticate': `Bearer realm="${realm}",service="fake-registry"` });
        res.end();
      }
    });
    await expect(manifestExists(query({ url: fake.url, credentials }), ctx())).resolves.toBe(true);
    const token = fake.requests.find((r) => r.url.pathname === '/token');
    expect(token?.url.searchParams.get('service')).toBe('fake-registry');
    expect(token?.url.searchParams.get('scope')).toBe('repository:org/app:pull');
    expect(fake.requests.at(-1)?.headers.authorization).toBe('Bearer tok-1');
  });

  it('asks the token realm anonymously without credentials and accepts access_token', async () => {
    const fake = await registry((req, res) => {
      if (req.url.pathname === '/token') sendJson(res, 200, { access_token: 'anon' });
      else if (req.headers.authorization === 'Bearer anon') manifestOnly([])(req, res);
      else {
        res.writeHead(401, {
          'WWW-Authenticate': `Bearer realm="http://${req.headers.host ?? ''}/token",scope="x"`,
        });
        res.end();
      }
    });
    await expect(manifestExists(query({ url: fake.url }), ctx())).resolves.toBe(false);
    const token = fake.requests.find((r) => r.url.pathname === '/token');
    expect(token?.headers.authorization).toBeUndefined();
    expect(token?.url.searchParams.get('scope')).toBe('x');
  });

  it('reports a token service that refuses the credentials as RegistryAuthError', async () => {
    const fake = await registry((req, res) => {
      if (req.url.pathname === '/token') sendJson(res, 401, {});
      else {
        res.writeHead(401, { 'WWW-Authenticate': `Bearer realm="http://${req.headers.host ?? ''}/token"` });
        res.end();
      }
    });
    await expect(manifestExists(query({ url: fake.url, credentials }), ctx())).rejects.toThrow(
      /token service refused the credentials/,
    );
  });

  it('reports a token service that gives no token as RegistryResponseError', async () => {
    const fake = await registry((req, res) => {
      if (req.url.pathname === '/token') sendJson(res, 200, { nothing: true });
      else {
        res.writeHead(401, { 'WWW-Authenticate': `Bearer realm="http://${req.headers.host ?? ''}/token"` });
        res.end();
      }
    });
    await expect(manifestExists(query({ url: fake.url }), ctx())).rejects.toThrow(RegistryResponseError);
  });

  it('refuses a Bearer challenge without an http(s) realm and an unknown scheme', async () => {
    let header = 'Bearer service="x"';
    const fake = await registry((_req, res) => {
      res.writeHead(401, { 'WWW-Authenticate': header });
      res.end();
    });
    await expect(manifestExists(query({ url: fake.url }), ctx())).rejects.toThrow(/no http\(s\) token realm/);
    header = 'Negotiate abc';
    await expect(manifestExists(query({ url: fake.url }), ctx())).rejects.toThrow(
      /unsupported authentication scheme negotiate/,
    );
  });

  it('treats 403 as RegistryAuthError without retrying', async () => {
    const fake = await registry((_req, res) => {
      res.writeHead(403);
      res.end();
    });
    await expect(manifestExists(query({ url: fake.url }), ctx())).rejects.toThrow(/access denied/);
    expect(fake.requests).toHaveLength(1);
  });

  it('retries 5xx and 429 with backoff and succeeds when the registry recovers', async () => {
    const statuses = [503, 429];
    const fake = await registry((req, res) => {
      const status = statuses.shift();
      if (status !== undefined) {
        res.writeHead(status);
        res.end();
      } else manifestOnly(['abc123'])(req, res);
    });
    const log = recordingLogger();
    await expect(manifestExists(query({ url: fake.url }), { ...ctx(), log })).resolves.toBe(true);
    expect(fake.requests).toHaveLength(3);
    expect(log.lines.filter((e) => e.level === 'warn')).toHaveLength(2);
  });

  it('gives up with RegistryUnavailableError after the bounded attempts', async () => {
    const fake = await registry((_req, res) => {
      res.writeHead(500);
      res.end();
    });
    await expect(manifestExists(query({ url: fake.url }), ctx())).rejects.toThrow(RegistryUnavailableError);
    expect(fake.requests).toHaveLength(fast.attempts);
  });

  it('reports a registry nobody listens on as RegistryUnavailableError', async () => {
    const fake = await registry(manifestOnly([]));
    await fake.close();
    await expect(manifestExists(query({ url: fake.url }), ctx())).rejects.toThrow(
      /unavailable: request failed \(ECONNREFUSED\)/,
    );
  });

  it('times out a registry that does not answer', async () => {
    const fake = await registry(() => undefined);
    const slow = { ...query({ url: fake.url }), timeoutMs: 50, retry: { attempts: 1 } };
    await expect(manifestExists(slow, ctx())).rejects.toThrow(/no answer within 0.05 s/);
  });

  it("stops with the caller's reason when aborted", async () => {
    const fake = await registry(() => undefined);
    const controller = new AbortController();
    const reason = new Error('workflow cancelled');
    setTimeout(() => controller.abort(reason), 20);
    await expect(manifestExists(query({ url: fake.url }), { signal: controller.signal })).rejects.toBe(
      reason,
    );
  });

  it('reports an unexpected status as RegistryResponseError without retrying', async () => {
    const fake = await registry((_req, res) => {
      res.writeHead(400);
      res.end();
    });
    await expect(manifestExists(query({ url: fake.url }), ctx())).rejects.toThrow(/answered HTTP 400/);
    expect(fake.requests).toHaveLength(1);
  });
});

describe('verifyImage', () => {
  it('passes when the tag is in the registry', async () => {
    const fake = await registry(manifestOnly(['abc123']));
    await expect(verifyImage(query({ url: fake.url }), ctx())).resolves.toBeUndefined();
  });

  it('throws ImageNotFoundError naming the reference when it is not', async () => {
    const fake = await registry(manifestOnly([]));
    const failure = verifyImage(query({ url: fake.url }), ctx());
    await expect(failure).rejects.toThrow(ImageNotFoundError);
    await expect(failure).rejects.toThrow(`image ${fake.host}/org/app:abc123 does not exist on the registry`);
  });
});
