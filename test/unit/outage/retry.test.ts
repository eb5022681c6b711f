import { OutageError, retry, retryText, type RetryNotice } from '../../../src/outage';
import { RegistryAuthError, RegistryUnavailableError } from '../../../src/registry';

const fast = { attempts: 3, initialDelayMs: 1, maxDelayMs: 2 };
const transient = new RegistryUnavailableError('registry.test', 'HTTP 503');
const never = new AbortController().signal;
const options = { dependency: 'registry' as const, signal: never };

describe('retry', () => {
  it('retries transient failures until the work succeeds, telling each retry once', async () => {
    const work = jest
      .fn()
      .mockRejectedValueOnce(transient)
      .mockRejectedValueOnce(transient)
      .mockResolvedValue('ok');
    const notices: RetryNotice[] = [];
    const onRetry = (notice: RetryNotice) => notices.push(notice);
    await expect(retry(work, { ...options, policy: fast, onRetry })).resolves.toBe('ok');
    expect(work).toHaveBeenCalledTimes(3);
    expect(work.mock.calls.map(([attempt]: unknown[]) => attempt)).toEqual([1, 2, 3]);
    expect(notices.map((notice) => notice.attempt)).toEqual([2, 3]);
    expect(notices[0]).toMatchObject({ dependency: 'registry', error: transient });
  });

  it('throws the last failure once the attempts are used up', async () => {
    const work = jest.fn().mockRejectedValue(transient);
    await expect(retry(work, { ...options, policy: fast })).rejects.toBe(transient);
    expect(work).toHaveBeenCalledTimes(3);
  });

  it("throws a request's own failure at once", async () => {
    const refused = new RegistryAuthError('registry.test', 'the credentials were rejected');
    const work = jest.fn().mockRejectedValue(refused);
    await expect(retry(work, { ...options, policy: fast })).rejects.toBe(refused);
    expect(work).toHaveBeenCalledTimes(1);
  });

  it('gives up with OutageError naming the dependency and the time waited once the budget is spent', async () => {
    const work = jest.fn().mockRejectedValue(transient);
    const err: unknown = await retry(work, {
      ...options,
      policy: { budgetMs: 300, initialDelayMs: 40, maxDelayMs: 80 },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutageError);
    const outage = err as OutageError;
    expect(outage.dependency).toBe('registry');
    expect(outage.waitedMs).toBeGreaterThan(100);
    expect(outage.waitedMs).toBeLessThanOrEqual(300);
    expect(outage.last).toBe(transient);
    expect(outage.message).toMatch(
      /^registry unavailable for [0-9.]+ s \([0-9]+ attempts\), giving up: registry registry\.test is unavailable: HTTP 503$/,
    );
  });

  it('does not wait past the deadline it is given', async () => {
    const work = jest.fn().mockRejectedValue(transient);
    const started = Date.now();
    const err: unknown = await retry(work, {
      ...options,
      // Every draw of the first wait (5 to 10 s) would reach past the deadline.
      policy: { initialDelayMs: 10_000, maxDelayMs: 10_000, deadline: Date.now() + 5000 },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutageError);
    expect(work).toHaveBeenCalledTimes(1);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('grows the delay exponentially within the cap', async () => {
    const delays: number[] = [];
    const work = jest.fn().mockRejectedValue(transient);
    await expect(
      retry(work, {
        ...options,
        policy: { attempts: 4, initialDelayMs: 8, maxDelayMs: 16 },
        onRetry: (notice) => delays.push(notice.delayMs),
      }),
    ).rejects.toBe(transient);
    expect(delays).toHaveLength(3);
    expect(delays[0]).toBeGreaterThanOrEqual(4);
    expect(delays[0]).toBeLessThanOrEqual(8);
    expect(delays[2]).toBeGreaterThanOrEqual(8);
    expect(delays[2]).toBeLessThanOrEqual(16);
  });

  it("ends a backoff sleep with the signal's reason when aborted", async () => {
    const controller = new AbortController();
    const reason = new Error('cancelled');
    const work = jest.fn().mockRejectedValue(transient);
    const started = Date.now();
    const pending = retry(work, {
      ...options,
      policy: { attempts: 5, initialDelayMs: 60_000, budgetMs: 600_000 },
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(reason), 10);
    await expect(pending).rejects.toBe(reason);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(work).toHaveBeenCalledTimes(1);
  });

  it('words a retry as the event log shows it', () => {
    expect(retryText('git server', 4000, 3)).toBe('git server unavailable, retrying in 4 s (attempt 3)');
    expect(retryText('Manager', 640, 2)).toBe('Manager unavailable, retrying in 0.6 s (attempt 2)');
  });
});
