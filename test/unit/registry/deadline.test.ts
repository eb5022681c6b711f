import { getEventListeners } from 'node:events';
import { Deadline, withDeadline } from '../../../src/registry';

const timeoutError = () => new Error('too slow');

function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) =>
    signal.addEventListener('abort', () => reject(new Error('socket closed'))),
  );
}

describe('withDeadline', () => {
  it('returns what the work returns', async () => {
    await expect(
      withDeadline(new AbortController().signal, 1000, timeoutError, () => Promise.resolve(7)),
    ).resolves.toBe(7);
  });

  it('reports the deadline with the onTimeout error, not the error the abort caused', async () => {
    await expect(withDeadline(new AbortController().signal, 20, timeoutError, untilAborted)).rejects.toThrow(
      'too slow',
    );
  });

  it("rethrows the caller's abort reason when the caller aborts", async () => {
    const caller = new AbortController();
    const reason = new Error('workflow cancelled');
    setTimeout(() => caller.abort(reason), 10);
    await expect(withDeadline(caller.signal, 10_000, timeoutError, untilAborted)).rejects.toBe(reason);
  });

  it('does not start work for a caller that already aborted', async () => {
    const caller = new AbortController();
    caller.abort(new Error('gone'));
    const work = jest.fn(() => Promise.resolve(1));
    await expect(withDeadline(caller.signal, 1000, timeoutError, work)).rejects.toThrow('gone');
    expect(work).not.toHaveBeenCalled();
  });

  it('passes other failures through unchanged', async () => {
    const failure = new Error('boom');
    await expect(
      withDeadline(new AbortController().signal, 1000, timeoutError, () => Promise.reject(failure)),
    ).rejects.toBe(failure);
  });

  it('leaves the signal it gave alone once the work is done, even when the deadline passes later', async () => {
    const onAbort = jest.fn();
    await withDeadline(new AbortController().signal, 20, timeoutError, (signal) => {
      // What fetch does: a listener on the request's signal that outlives the request.
      signal.addEventListener('abort', onAbort);
      return Promise.resolve(1);
    });
    // Timers of the same length fire in the order they were set: once this one has, the deadline would have.
    await new Promise((resolve) => AbortSignal.timeout(20).addEventListener('abort', resolve));
    expect(onAbort).not.toHaveBeenCalled();
  });

  it("leaves no listener on the caller's signal once the work is done", async () => {
    const caller = new AbortController();
    await withDeadline(caller.signal, 1000, timeoutError, () => Promise.resolve(1));
    await withDeadline(caller.signal, 1000, timeoutError, () => Promise.reject(new Error('boom'))).catch(
      () => undefined,
    );
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
  });
});

describe('Deadline', () => {
  it('aborts with a TimeoutError when the time runs out, and says it expired', async () => {
    const deadline = new Deadline(undefined, 10);
    await new Promise((resolve) => deadline.signal.addEventListener('abort', resolve));
    expect(deadline.expired).toBe(true);
    expect((deadline.signal.reason as Error).name).toBe('TimeoutError');
  });

  it("aborts with the caller's reason, at once for a caller that already aborted", () => {
    const caller = new AbortController();
    const reason = new Error('gone');
    caller.abort(reason);
    const deadline = new Deadline(caller.signal, 1000);
    expect(deadline.signal.reason).toBe(reason);
    expect(deadline.expired).toBe(false);
    deadline.dispose();
  });
});
