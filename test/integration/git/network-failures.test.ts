import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import {
  checkoutRepo,
  GitAuthError,
  GitRemoteError,
  GitTimeoutError,
  GitUnreachableError,
  resolveSourceCommit,
} from '../../../src/git';
import { nopLogger } from '../../../src/log';
import { createBareRepo, removeBareRepo, uniqueName, type BareRepo } from '../../harness/env';
import { fixedAnswerServer, quiet, remote, scratchDir, stallingProxy } from './helpers';
import { freeLoopbackPort } from '../../harness/ports';

let repo: BareRepo;
let scratch: string;

// A repository big enough that its pack cannot arrive in the proxy's first chunk.
beforeAll(async () => {
  const files: Record<string, Uint8Array> = {};
  for (let i = 0; i < 8; i++)
    files[`blob-${i}.bin`] = new Uint8Array(Buffer.alloc(256 * 1024, `${i}`.repeat(97)));
  repo = await createBareRepo(uniqueName('network'), { files, branch: 'master' });
});

afterAll(() => removeBareRepo(repo));

beforeEach(() => {
  scratch = scratchDir();
});

afterEach(() => fs.rmSync(scratch, { recursive: true, force: true }));

const dir = (): string => path.join(scratch, 'deployment');

describe('git network failures', () => {
  it('rejects with the abort reason soon after the caller aborts mid-clone, and drops the connection', async () => {
    const proxy = await stallingProxy(new URL(repo.url).origin);
    try {
      const controller = new AbortController();
      const url = `${proxy.url}${new URL(repo.url).pathname}`;
      const clone = checkoutRepo(
        { remote: remote(url), ref: 'master', dir: dir() },
        { signal: controller.signal, log: nopLogger },
      );
      clone.catch(() => undefined);
      await proxy.stalled;
      const abortedAt = Date.now();
      controller.abort();
      await expect(clone).rejects.toMatchObject({ name: 'AbortError' });
      expect(Date.now() - abortedAt).toBeLessThan(1000);
      await proxy.clientGone;
    } finally {
      await proxy.close();
    }
  });

  it('rejects with GitTimeoutError when the operation outlives its deadline', async () => {
    const proxy = await stallingProxy(new URL(repo.url).origin);
    try {
      const url = `${proxy.url}${new URL(repo.url).pathname}`;
      const failure = checkoutRepo(
        { remote: remote(url, undefined, 1500), ref: 'master', dir: dir() },
        quiet,
      );
      await expect(failure).rejects.toThrow(GitTimeoutError);
      await expect(failure).rejects.toThrow(
        `git clone from ${new URL(proxy.url).host} timed out after 1.5 s`,
      );
      await proxy.clientGone;
    } finally {
      await proxy.close();
    }
  });

  it('does not start at all when the signal has already aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('workflow cancelled'));
    await expect(
      resolveSourceCommit(
        { remote: remote(repo.url), ref: 'master', dir: dir() },
        { signal: controller.signal, log: nopLogger },
      ),
    ).rejects.toThrow('workflow cancelled');
  });

  it('reports a closed port as GitUnreachableError naming the host', async () => {
    const port = await freeLoopbackPort();
    const failure = checkoutRepo(
      { remote: remote(`http://127.0.0.1:${port}/anon/x.git`), ref: 'master', dir: dir() },
      quiet,
    );
    await expect(failure).rejects.toThrow(GitUnreachableError);
    await expect(failure).rejects.toThrow(`git server 127.0.0.1:${port} is unreachable (ECONNREFUSED)`);
  });

  it.each([
    [500, 'boom', GitRemoteError, 'the server answered HTTP 500 Internal Server Error'],
    [
      200,
      '<html>a login page</html>',
      GitRemoteError,
      'the server did not answer as a git smart-HTTP server',
    ],
    [403, 'forbidden', GitAuthError, 'the server denied access'],
  ])('reports an HTTP %i answer of %j as %p', async (status, body, type, message) => {
    const server = await fixedAnswerServer(status, body);
    try {
      const failure = checkoutRepo(
        { remote: remote(`${server.url}/r.git`), ref: 'master', dir: dir() },
        quiet,
      );
      await expect(failure).rejects.toThrow(type);
      await expect(failure).rejects.toThrow(message);
    } finally {
      await server.close();
    }
  });
});

describe('a git server that drops the connection', () => {
  it('is reported as unreachable with the host and ECONNRESET, not as a bare "socket hang up"', async () => {
    const server = http.createServer((req) => req.socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const error: unknown = await checkoutRepo(
        { remote: remote(`http://127.0.0.1:${port}/org/app.git`), ref: 'master', dir: dir() },
        quiet,
      ).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(GitUnreachableError);
      expect((error as Error).message).toContain(`127.0.0.1:${port}`);
      expect((error as Error).message).toContain('ECONNRESET');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
