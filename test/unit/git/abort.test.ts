import { abortReason, raceAbort } from '../../../src/git/abort';

describe('raceAbort', () => {
  it('settles like the promise when the signal stays quiet', async () => {
    const signal = new AbortController().signal;
    await expect(raceAbort(Promise.resolve(7), signal)).resolves.toBe(7);
    await expect(raceAbort(Promise.reject(new Error('boom')), signal)).rejects.toThrow('boom');
  });

  it('rejects with the abort reason as soon as the signal aborts, even if the promise never settles', async () => {
    const controller = new AbortController();
    const pending = raceAbort(new Promise<never>(() => undefined), controller.signal);
    controller.abort(new Error('stop now'));
    await expect(pending).rejects.toThrow('stop now');
  });

  it('rejects at once for a signal that has already aborted, and swallows the late rejection', async () => {
    const controller = new AbortController();
    controller.abort();
    let fail = (_: Error): void => undefined;
    const late = new Promise<never>((_resolve, reject) => (fail = reject));
    await expect(raceAbort(late, controller.signal)).rejects.toThrow('aborted');
    fail(new Error('late failure nobody awaits'));
    await new Promise((resolve) => setImmediate(resolve));
  });

  it('passes a rejection on untouched, so system errors keep their code', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    await expect(raceAbort(Promise.reject(refused), new AbortController().signal)).rejects.toBe(refused);
  });
});

describe('abortReason', () => {
  it('returns an Error reason as is and an AbortError otherwise', () => {
    const controller = new AbortController();
    controller.abort('just a string');
    expect(abortReason(controller.signal)).toMatchObject({ name: 'AbortError' });
    const timeout = new AbortController();
    const reason = new Error('deadline');
    timeout.abort(reason);
    expect(abortReason(timeout.signal)).toBe(reason);
  });
});
