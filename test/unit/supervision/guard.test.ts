import { EventEmitter } from 'node:events';
import { installProcessGuard, startTree, supervisor, type FailureInfo } from '../../../actors/supervision';
import { RecordingLogger } from './helpers';

describe('installProcessGuard', () => {
  it('logs an unhandled rejection, records it for health and reports it, instead of letting the process exit', async () => {
    const target = new EventEmitter();
    const log = new RecordingLogger();
    const failures: FailureInfo[] = [];
    const tree = await startTree(supervisor({ children: [] }));
    const before = tree.health().processFailures.count;
    const uninstall = installProcessGuard({ log, target, onFailure: (f) => failures.push(f) });
    const reason = new Error('nobody awaited me');
    target.emit('unhandledRejection', reason, Promise.resolve());
    expect(failures).toMatchObject([{ name: 'Error', message: 'nobody awaited me', path: 'process' }]);
    expect(log.lines[0]).toMatchObject({
      level: 'error',
      message: 'unhandled promise rejection',
      fields: { err: reason },
    });
    expect(tree.health().processFailures).toEqual({ count: before + 1, last: failures[0] });
    uninstall();
    expect(target.listenerCount('unhandledRejection')).toBe(0);
    await tree.stop();
  });

  it('keeps working when its onFailure callback throws, logging that too', () => {
    const target = new EventEmitter();
    const log = new RecordingLogger();
    const uninstall = installProcessGuard({
      log,
      target,
      onFailure: () => {
        throw new Error('reporter down');
      },
    });
    target.emit('unhandledRejection', 'a string reason');
    target.emit('unhandledRejection', 'another');
    expect(log.messages('error')).toEqual([
      'unhandled promise rejection',
      'process guard onFailure threw',
      'unhandled promise rejection',
      'process guard onFailure threw',
    ]);
    expect(log.lines[0]?.fields).toMatchObject({
      failure: { name: 'NonErrorThrown', message: 'a string reason' },
    });
    uninstall();
  });

  it('guards the real process by default and removes itself again', () => {
    const before = process.listenerCount('unhandledRejection');
    const uninstall = installProcessGuard({ log: new RecordingLogger() });
    expect(process.listenerCount('unhandledRejection')).toBe(before + 1);
    uninstall();
    expect(process.listenerCount('unhandledRejection')).toBe(before);
  });
});
