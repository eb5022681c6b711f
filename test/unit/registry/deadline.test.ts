import { withDeadline } from '../../../src/registry';

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
});
