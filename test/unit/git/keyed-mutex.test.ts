import { KeyedMutex } from '../../../src/git';

const never = new AbortController().signal;

function gate(): { promise: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** Takes the lock for `repo` until `release()`, recording when the holder finishes. */
function occupy(mutex: KeyedMutex, events: string[]): { held: Promise<void>; release: () => void } {
  const holder = gate();
  const held = mutex.run('repo', never, async () => {
    await holder.promise;
    events.push('holder done');
  });
  return { held, release: holder.open };
}

describe('KeyedMutex', () => {
  it('runs tasks for one key one at a time, in arrival order', async () => {
    const mutex = new KeyedMutex();
    const events: string[] = [];
    const task = (name: string) => async () => {
      events.push(`start ${name}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
      events.push(`end ${name}`);
      return name;
    };
    const results = await Promise.all([
      mutex.run('repo', never, task('a')),
      mutex.run('repo', never, task('b')),
      mutex.run('repo', never, task('c')),
    ]);
    expect(results).toEqual(['a', 'b', 'c']);
    expect(events).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  });

  it('runs tasks for different keys at the same time', async () => {
    const mutex = new KeyedMutex();
    const first = gate();
    let secondRan = false;
    const one = mutex.run('repo-1', never, () => first.promise);
    await mutex.run('repo-2', never, () => {
      secondRan = true;
      return Promise.resolve();
    });
    expect(secondRan).toBe(true);
    first.open();
    await one;
  });

  it('passes a failure to its caller and still lets the next task run', async () => {
    const mutex = new KeyedMutex();
    const failing = mutex.run('repo', never, () => Promise.reject(new Error('push failed')));
    const next = mutex.run('repo', never, () => Promise.resolve('next ran'));
    await expect(failing).rejects.toThrow('push failed');
    await expect(next).resolves.toBe('next ran');
  });

  it('stops waiting when the signal aborts, without running the task or breaking the queue', async () => {
    const mutex = new KeyedMutex();
    const events: string[] = [];
    const { held, release } = occupy(mutex, events);
    const controller = new AbortController();
    const waiter = mutex.run('repo', controller.signal, () => {
      events.push('aborted waiter ran');
      return Promise.resolve();
    });
    const later = mutex.run('repo', never, () => {
      events.push('later ran');
      return Promise.resolve();
    });
    controller.abort(new Error('workflow cancelled'));
    await expect(waiter).rejects.toThrow('workflow cancelled');
    expect(events).toEqual([]);
    release();
    await Promise.all([held, later]);
    expect(events).toEqual(['holder done', 'later ran']);
  });

  it('keeps the queue intact when the last waiter gives up', async () => {
    const mutex = new KeyedMutex();
    const events: string[] = [];
    const { held, release } = occupy(mutex, events);
    const controller = new AbortController();
    const waiter = mutex.run('repo', controller.signal, () => Promise.resolve());
    controller.abort();
    await expect(waiter).rejects.toThrow('aborted');
    const after = mutex.run('repo', never, () => {
      events.push('after ran');
      return Promise.resolve();
    });
    release();
    await Promise.all([held, after]);
    expect(events).toEqual(['holder done', 'after ran']);
  });

  it('rejects at once when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(new KeyedMutex().run('repo', controller.signal, () => Promise.resolve())).rejects.toThrow(
      'aborted',
    );
  });
});
