import { MASK, Redactor, redactUrlCredentials, urlPassword } from '../../../src/redact';
import { redactingReporter } from '../../../src/workflow/redacting-reporter';
import { nopReporter, type WorkflowResult } from '../../../src/workflow/reporter';

/** The simple reference: one regular expression, longest alternative first, over the whole text at once. */
function reference(text: string, secrets: string[]): string {
  const usable = [...new Set(secrets)].filter((s) => s.length >= 6).sort((a, b) => b.length - a.length);
  if (usable.length === 0) return text;
  const pattern = new RegExp(usable.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
  return text.replace(pattern, MASK);
}

/** A small deterministic generator, so a failure can be replayed from its seed. */
function generator(seed: number) {
  let state = seed >>> 0 || 1;
  const next = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  const int = (n: number): number => Math.floor(next() * n);
  const text = (length: number, alphabet: string): string =>
    Array.from({ length }, () => alphabet[int(alphabet.length)]).join('');
  return { int, text };
}

describe('the redactor', () => {
  it('masks every configured secret and leaves short values alone', () => {
    const redactor = new Redactor(['hunter2-password', 'abc', undefined]);
    expect(redactor.redact('login hunter2-password ok abc')).toBe(`login ${MASK} ok abc`);
  });

  it('masks secrets learnt at run time, such as access tokens', () => {
    const redactor = new Redactor();
    redactor.add('token-123456789');
    expect(redactor.redact('Authorization: Bearer access_token=token-123456789')).toBe(
      `Authorization: Bearer access_token=${MASK}`,
    );
  });

  it('masks the password of credentials inside URLs', () => {
    expect(redactUrlCredentials('clone https://user:s3cret@git.example/org/repo.git failed')).toBe(
      `clone https://user:${MASK}@git.example/org/repo.git failed`,
    );
    expect(new Redactor().redact('amqp://guest:guest@127.0.0.1:5672/')).toBe(
      `amqp://guest:${MASK}@127.0.0.1:5672/`,
    );
  });

  it('reads the decoded password of a URL, so it can be masked wherever it turns up alone', () => {
    expect(urlPassword('amqp://guest:p%40ss-word@127.0.0.1:5672/')).toBe('p@ss-word');
    expect(urlPassword('amqp://127.0.0.1:5672/')).toBeUndefined();
    expect(urlPassword('not a url')).toBeUndefined();
    expect(urlPassword(undefined)).toBeUndefined();
  });

  it('catches a secret split across stream chunks and across lines', () => {
    const redactor = new Redactor(['multi\nline-secret', 'registry-pass']);
    const stream = redactor.stream();
    const out =
      ['x regis', 'try-', 'pass y multi', '\nline-sec', 'ret z'].map((c) => stream.write(c)).join('') +
      stream.end();
    expect(out).toBe(`x ${MASK} y ${MASK} z`);
    const lines = redactor.lines();
    const emitted = [...lines.push('before multi'), ...lines.push('line-secret after'), ...lines.end()];
    expect(emitted).toEqual([`before ${MASK} after`]);
  });

  it('agrees with the reference on random texts, secrets and chunkings', () => {
    for (let seed = 1; seed <= 400; seed++) {
      const g = generator(seed);
      const secrets = Array.from({ length: 1 + g.int(4) }, () => g.text(3 + g.int(10), 'abc\n'));
      const pieces = Array.from({ length: 20 }, () =>
        g.int(3) === 0 ? (secrets[g.int(secrets.length)] ?? '') : g.text(g.int(8), 'abcd\n '),
      );
      const text = pieces.join('');
      const redactor = new Redactor(secrets);
      const stream = redactor.stream();
      let out = '';
      for (let i = 0; i < text.length;) {
        const size = 1 + g.int(7);
        out += stream.write(text.slice(i, i + size));
        i += size;
      }
      out += stream.end();
      expect({ seed, out }).toEqual({ seed, out: reference(text, secrets) });
    }
  });

  it('redacts values inside nested data but not the keys', () => {
    const redactor = new Redactor(['sekrit-value']);
    expect(
      redactor.redactValue({ 'sekrit-value': ['a sekrit-value', 3, null, { x: 'sekrit-value' }] }),
    ).toEqual({
      'sekrit-value': [`a ${MASK}`, 3, null, { x: MASK }],
    });
  });
});

describe('the redacting reporter', () => {
  it('masks events, saves, build output and the result before the inner reporter sees them', async () => {
    const seen: unknown[] = [];
    const inner = {
      ...nopReporter,
      event: (e: unknown, s: unknown) => void seen.push(['event', e, s]),
      save: (s: unknown) => void seen.push(['save', s]),
      logLine: (l: string) => void seen.push(['line', l]),
      workflowFinished: (r: WorkflowResult) => {
        seen.push(['finished', r.reason, r.update.event_log]);
        return Promise.resolve();
      },
    };
    const reporter = redactingReporter(inner, new Redactor(['pa55word-xyz']));
    const snapshot = {
      workflowId: 'w',
      currentStep: 'build',
      step: null,
      eventLog: ['has pa55word-xyz'],
      stepDurations: {},
    };
    reporter.event({ kind: 'log', message: 'pa55word-xyz', text: '[OA][w] pa55word-xyz' }, snapshot);
    reporter.save(snapshot);
    reporter.logLine('echo pa55word-xyz');
    await reporter.workflowFinished({
      workflowId: 'w',
      status: 'failed',
      message: 'Milestone has failed',
      reason: 'login with pa55word-xyz refused',
      received: { kind: 'map', entries: [] },
      update: { event_log: ['[OA][w] pa55word-xyz'] },
      image: null,
      imageFound: false,
      elapsedMs: 0,
      stepDurations: {},
      stopped: false,
      crashed: false,
    });
    expect(JSON.stringify(seen)).not.toContain('pa55word-xyz');
    expect(seen).toContainEqual(['line', `echo ${MASK}`]);
    expect(seen).toContainEqual(['finished', `login with ${MASK} refused`, [`[OA][w] ${MASK}`]]);
  });
});
