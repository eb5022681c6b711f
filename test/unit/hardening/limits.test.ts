import type { ConsumeMessage } from 'amqplib';
import { deadLetterHeaders, deadLetterProperties, MAX_REASON_LENGTH } from '../../../src/amqp/dead-letter';
import { atom, tuple } from '../../../src/etf';
import { quoted } from '../../../src/git/quoted';
import { InvalidRequestError, MAX_NAMED_ISSUES } from '../../../src/messages/errors';
import { Redactor, MASK } from '../../../src/redact';
import { redactTerm } from '../../../src/workflow/redacting-reporter';

const delivery = { queue: 'builder', deliveryCount: 1 } as Parameters<typeof deadLetterProperties>[2];
const message = (headers: Record<string, unknown>): ConsumeMessage =>
  ({ properties: { headers }, content: Buffer.alloc(0) }) as unknown as ConsumeMessage;

describe('what hostile input can make the builder print', () => {
  it('quotes a name with its invisible and reordering characters escaped', () => {
    expect(quoted('org/\u202erepo')).toBe('"org/\\u202erepo"');
    expect(quoted('a\u200bb')).toBe('"a\\u200bb"');
  });

  it('shows the first hundred characters of a huge name and counts the rest', () => {
    expect(quoted('x'.repeat(1_000_000))).toBe(`"${'x'.repeat(100)}"... (1000000 characters)`);
  });

  it('names at most ten issues of an invalid request and counts the others', () => {
    const issues = Array.from({ length: 100_000 }, (_, i) => ({
      field: `milestones`,
      message: `/${i} must be string`,
    }));
    const error = new InvalidRequestError(issues, null);
    expect(error.message.split('; ')).toHaveLength(MAX_NAMED_ISSUES + 1);
    expect(error.message).toMatch(/; and 99990 more issue\(s\)$/);
    expect(error.issues).toHaveLength(100_000);
  });

  it('cuts a dead-letter reason and leaves out original headers that would not fit in one frame', () => {
    const props = deadLetterProperties(message({ big: 'h'.repeat(70_000) }), 'r'.repeat(5000), delivery);
    const headers = props.headers as Record<string, unknown>;
    expect(String(headers[deadLetterHeaders.reason]).length).toBeLessThanOrEqual(MAX_REASON_LENGTH);
    expect(headers.big).toBeUndefined();
    expect(headers[deadLetterHeaders.headersDropped]).toBe(true);
    const small = deadLetterProperties(message({ origin: 'test' }), 'bad', delivery).headers as Record<
      string,
      unknown
    >;
    expect(small).toMatchObject({ origin: 'test', [deadLetterHeaders.reason]: 'bad' });
  });

  it('redacts every binary inside an echoed term and keeps atoms and tuples as they are', () => {
    const redactor = new Redactor(['s3cr3t-pass']);
    const term = {
      kind: 'map' as const,
      entries: [
        [atom('repo'), 'https://u:s3cr3t-pass@h/r'],
        [atom('t'), tuple(atom('x'), ['s3cr3t-pass'])],
      ] as [never, never][],
    };
    expect(redactTerm(term, redactor)).toEqual({
      kind: 'map',
      entries: [
        [atom('repo'), `https://u:${MASK}@h/r`],
        [atom('t'), tuple(atom('x'), [MASK])],
      ],
    });
  });
});
