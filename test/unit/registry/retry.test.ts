import { retry } from '../../../src/registry';

const fast = { attempts: 3, initialDelayMs: 1, maxDelayMs: 2 };
const transient = new Error('transient');
const never = new AbortController().signal;

describe('retry', () => {
  it('retries transient failures until the work succeeds', async () => {
    const work = jest
      .fn()
      .mockRejectedValueOnce(transient)
      .mockRejectedValueOnce(transient)
      .mockResolvedValue('ok');
    const onRetry = jest.fn();
    await expect(retry(work, { policy: fast, signal: never, retryable: () => true, onRetry })).resolves.toBe(
      'ok',
    );
    expect(work).toHaveBeenCalledTimes(3);
    expect(onRetry.mock.calls.map(([, attempt]: unknown[]) => attempt)).toEqual([1, 2]);
  });

  it('throws the last failure once the attempts are used up', async () => {
    const work = jest.fn().mockRejectedValue(transient);
    await expect(retry(work, { policy: fast, signal: never, retryable: () => true })).rejects.toBe(transient);
    expect(work).toHaveBeenCalledTimes(3);
  });

  it('does not retry a failure that is not transient', async () => {
    const permanent = new Error('permanent');
    const work = jest.fn().mockRejectedValue(permanent);
    await expect(
      retry(work, { policy: fast, signal: never, retryable: (e) => e === transient }),
    ).rejects.toBe(permanent);
    expect(work).toHaveBeenCalledTimes(1);
  });

  it('grows the delay exponentially within the cap', async () => {
    const delays: number[] = [];
    const work = jest.fn().mockRejectedValue(transient);
    const policy = { attempts: 4, initialDelayMs: 8, maxDelayMs: 16 };
    await expect(
      retry(work, {
        policy,
        signal: never,
        retryable: () => true,
        onRetry: (_e, _n, delay) => delays.push(delay),
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
    const policy = { attempts: 5, initialDelayMs: 60_000 };
    const started = Date.now();
    const pending = retry(work, { policy, signal: controller.signal, retryable: () => true });
    setTimeout(() => controller.abort(reason), 10);
    await expect(pending).rejects.toBe(reason);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(work).toHaveBeenCalledTimes(1);
  });
});
