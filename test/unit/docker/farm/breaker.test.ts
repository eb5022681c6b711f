import { closedBreaker, probeDue, tripped } from '../../../../src/docker/farm/breaker';

describe('the engine breaker', () => {
  it('opens on a failure and backs off its probes, doubling up to eight intervals', () => {
    let breaker = closedBreaker;
    const retries: number[] = [];
    for (let i = 0; i < 6; i++) {
      breaker = tripped(breaker, 'docker engine x is unreachable: ECONNREFUSED', 1000, 10);
      retries.push(breaker.retryAt - 1000);
    }
    expect(retries).toEqual([10, 20, 40, 80, 80, 80]);
    expect(breaker).toMatchObject({ state: 'open', failures: 6 });
    expect(breaker.lastError).toBe('docker engine x is unreachable: ECONNREFUSED');
  });

  it('probes a closed engine every time and an open one once its backoff is over', () => {
    const open = tripped(closedBreaker, 'down', 1000, 10);
    expect(probeDue(closedBreaker, 0)).toBe(true);
    expect(probeDue(open, 1009)).toBe(false);
    expect(probeDue(open, 1010)).toBe(true);
  });
});
