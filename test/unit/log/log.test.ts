import { PassThrough } from 'node:stream';
import { createLogger, logFormatFor, nopLogger, type LoggerOptions } from '../../../src/log';

function capture(options: LoggerOptions = {}): { lines: () => string[]; options: LoggerOptions } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString()));
  return { lines: () => text.split('\n').filter((l) => l.length > 0), options: { ...options, stream } };
}

describe('createLogger', () => {
  it('writes one JSON object per line carrying the child fields', () => {
    const out = capture({ format: 'json' });
    const log = createLogger(out.options).child({ workflow_id: 'wf-1' }).child({ step: 'build' });
    log.info('image pushed', { tag: 'app:abc' });
    const [line] = out.lines();
    expect(JSON.parse(line ?? '')).toMatchObject({
      level: 'info',
      message: 'image pushed',
      workflow_id: 'wf-1',
      step: 'build',
      tag: 'app:abc',
    });
  });

  it('keeps an error as name, message and stack instead of an empty object', () => {
    const out = capture({ format: 'json' });
    createLogger(out.options).error('build failed', { err: new TypeError('COPY failed') });
    const parsed = JSON.parse(out.lines()[0] ?? '') as { message: string; err: Record<string, string> };
    expect(parsed.message).toBe('build failed');
    expect(parsed.err.name).toBe('TypeError');
    expect(parsed.err.message).toBe('COPY failed');
    expect(parsed.err.stack).toContain('TypeError: COPY failed');
  });

  it('writes readable lines with the workflow id in pretty mode', () => {
    const out = capture({ format: 'pretty' });
    createLogger(out.options).child({ workflow_id: 'wf-2' }).warn('slow step', { seconds: 900 });
    expect(out.lines()[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} warn {2}\[wf-2\] slow step \{"seconds":900\}$/);
  });

  it('drops lines below the configured level', () => {
    const out = capture({ level: 'warn' });
    const log = createLogger(out.options);
    log.info('not shown');
    log.debug('not shown either');
    log.error('shown');
    expect(out.lines()).toHaveLength(1);
  });

  it('does nothing for a line below the level, not even read its fields', () => {
    const out = capture({ level: 'info' });
    let reads = 0;
    const fields = {
      get detail(): string {
        reads++;
        return 'costly';
      },
    };
    const log = createLogger(out.options).child({ workflow_id: 'wf-3' });
    log.debug('not shown', fields);
    expect(reads).toBe(0);
    log.info('shown', fields);
    expect(reads).toBe(1);
    expect(out.lines()).toHaveLength(1);
  });

  it('passes every line through the scrubber before writing it', () => {
    const out = capture({ scrub: (line) => line.replaceAll('hunter2', '[REDACTED]') });
    createLogger(out.options).info('login with hunter2', { password: 'hunter2' });
    expect(out.lines()[0]).not.toContain('hunter2');
    expect(out.lines()[0]).toContain('[REDACTED]');
  });
});

describe('nopLogger', () => {
  it('accepts every call and returns itself as a child', () => {
    expect(() => nopLogger.error('ignored', { err: new Error('x') })).not.toThrow();
    expect(nopLogger.child({ a: 1 })).toBe(nopLogger);
  });
});

describe('LOG_FORMAT', () => {
  it('is readable lines on a terminal and JSON lines anywhere else when set to auto', () => {
    const terminal = Object.assign(new PassThrough(), { isTTY: true });
    expect(logFormatFor('auto', terminal)).toBe('pretty');
    expect(logFormatFor('auto', new PassThrough())).toBe('json');
    expect(logFormatFor('json', terminal)).toBe('json');
    expect(logFormatFor('pretty', new PassThrough())).toBe('pretty');
  });
});
