import { GitUnreachableError } from '../../../src/git';
import { withRemote } from '../../../src/git/transport';
import { nopLogger } from '../../../src/log';
import { isTransient } from '../../../src/outage';

const remote = { url: 'http://git.test:8080/org/repo.git', credentials: () => undefined, timeoutMs: 60_000 };
const ctx = { signal: new AbortController().signal, log: nopLogger };

describe('a git network operation', () => {
  it('reports a socket that went silent past the HTTP idle timeout as an unreachable server, worth a retry', async () => {
    // isomorphic-git's HTTP client says only this when the agent's idle timeout ends a request.
    const err: unknown = await withRemote('push', remote, ctx, () =>
      Promise.reject(new Error('Request timed out')),
    ).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(GitUnreachableError);
    expect((err as Error).message).toBe(
      'git push failed: git server git.test:8080 is unreachable (ETIMEDOUT)',
    );
    expect(isTransient(err)).toBe(true);
  });

  it('makes one attempt when the caller gives no outage policy', async () => {
    const run = jest
      .fn()
      .mockRejectedValue(Object.assign(new Error('refused'), { code: 'ECONNREFUSED', syscall: 'connect' }));
    await expect(withRemote('clone', remote, ctx, run)).rejects.toBeInstanceOf(GitUnreachableError);
    expect(run).toHaveBeenCalledTimes(1);
  });

  it('tells the attempt number to each try within the outage policy', async () => {
    const refused = Object.assign(new Error('refused'), { code: 'ECONNREFUSED', syscall: 'connect' });
    const run = jest.fn().mockRejectedValueOnce(refused).mockResolvedValue('done');
    const notices: string[] = [];
    const outage = {
      budgetMs: 5000,
      initialDelayMs: 1,
      maxDelayMs: 2,
      onRetry: (n: { text: string }) => notices.push(n.text),
    };

    await expect(withRemote('fetch', remote, { ...ctx, outage }, run)).resolves.toBe('done');
    expect(run.mock.calls.map((call: unknown[]) => call[1])).toEqual([1, 2]);
    expect(notices).toEqual([
      expect.stringMatching(/^git server unavailable, retrying in [0-9.]+ s \(attempt 2\)$/),
    ]);
  });
});
