// `oa-builder topology` against the real broker: what it reports of missing, matching and different queues,
// what --apply declares, and that it never redeclares an existing queue with other arguments.
import { PassThrough } from 'node:stream';
import { main } from '../../../src/cli/main';
import { BrokerAdmin, eventually, sharedAmqpUrl, uniqueName } from './topology';

let admin: BrokerAdmin;
const exchanges: string[] = [];

beforeAll(async () => {
  admin = await BrokerAdmin.open(sharedAmqpUrl);
});

afterAll(async () => {
  for (const exchange of exchanges) await admin.channel.deleteExchange(exchange);
  await admin.dispose();
});

async function topology(
  queue: string,
  ...args: string[]
): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const text = { out: '', err: '' };
  stdout.on('data', (c: Buffer) => (text.out += c.toString()));
  stderr.on('data', (c: Buffer) => (text.err += c.toString()));
  const env = { AMQP_URL: sharedAmqpUrl, QUEUE_NAME: queue };
  const code = await main(['topology', ...args], { stdin: new PassThrough(), stdout, stderr, env });
  return { code, ...text };
}

/** A queue name of this test, deleted with its dead-letter queue when the file is done. */
function queueName(label: string): string {
  const queue = uniqueName(label);
  admin.forget(queue);
  admin.forget(`${queue}_error`);
  return queue;
}

describe('oa-builder topology', () => {
  it('reports missing queues with exit 1, declares them with --apply, then finds them as expected', async () => {
    const queue = queueName('topo-missing');

    const before = await topology(queue);
    expect(before.code).toBe(1);
    expect(before.out).toContain(`queue ${queue}_error (durable): MISSING`);
    expect(before.out).toContain(
      `queue ${queue} (durable, x-dead-letter-exchange="", x-dead-letter-routing-key="${queue}_error"): MISSING`,
    );
    expect(before.out).toMatch(/each replica asks x-consumer-timeout=\d+ ms/);

    const applied = await topology(queue, '--apply');
    expect(applied.code).toBe(0);
    expect(applied.out).toContain(`queue ${queue}_error (durable): created`);
    expect(applied.out).toContain(`x-dead-letter-routing-key="${queue}_error"): created`);
    // What a message rejected on the queue does proves the arguments: it lands in the dead-letter queue.
    await admin.fill(queue, 'poison');
    const message = await admin.channel.get(queue, { noAck: false });
    if (!message) throw new Error('the message did not arrive');
    admin.channel.nack(message, false, false);
    await eventually(
      'the rejected message is dead-lettered',
      async () => (await admin.ready(`${queue}_error`)) === 1,
    );

    const after = await topology(queue);
    expect(after).toMatchObject({ code: 0, err: '' });
    expect(after.out.split('\n').filter((l) => l.startsWith('queue '))).toEqual([
      `queue ${queue}_error (durable): ok`,
      `queue ${queue} (durable, x-dead-letter-exchange="", x-dead-letter-routing-key="${queue}_error"): ok`,
    ]);
  });

  it('reports a queue declared with other arguments in the broker’s words and leaves it as it is, even with --apply', async () => {
    const queue = queueName('topo-differs');
    const theirs = {
      durable: true,
      arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'elsewhere' },
    };
    await admin.channel.assertQueue(queue, theirs);

    const result = await topology(queue, '--apply');

    expect(result.code).toBe(1);
    expect(result.out).toMatch(
      new RegExp(
        `queue ${queue} \\(durable, .*\\): DIFFERS: inequivalent arg 'x-dead-letter-routing-key'.*'elsewhere'`,
      ),
    );
    // Still the ops' queue: declaring it with their arguments succeeds, which it would not if it had changed.
    await expect(admin.channel.assertQueue(queue, theirs)).resolves.toMatchObject({ queue });
  });

  it('accepts a quorum queue with the expected dead-lettering', async () => {
    const queue = queueName('topo-quorum');
    await admin.channel.assertQueue(`${queue}_error`, { durable: true });
    await admin.channel.assertQueue(queue, {
      durable: true,
      arguments: {
        'x-queue-type': 'quorum',
        'x-dead-letter-exchange': '',
        'x-dead-letter-routing-key': `${queue}_error`,
      },
    });

    const result = await topology(queue);

    expect(result.code).toBe(0);
    expect(result.out).toContain(`x-dead-letter-routing-key="${queue}_error"): ok`);
  });

  it('declares the exchange and binds the queue with <routing key>.builder when given both', async () => {
    const queue = queueName('topo-bound');
    const exchange = uniqueName('topo-exchange');
    exchanges.push(exchange);

    const before = await topology(queue, '--exchange', exchange, '--routing-key', 'local');
    expect(before.code).toBe(1);
    expect(before.out).toContain(`exchange ${exchange} (topic, durable): MISSING`);
    expect(before.out).toContain(`binding ${exchange} -> ${queue} (routing key local.builder): not readable`);

    const applied = await topology(queue, '--apply', `--exchange=${exchange}`, '--routing-key=local');
    expect(applied.code).toBe(0);
    expect(applied.out).toContain(`exchange ${exchange} (topic, durable): created`);
    expect(applied.out).toContain(`binding ${exchange} -> ${queue} (routing key local.builder): bound`);
    admin.channel.publish(exchange, 'local.builder', Buffer.from('routed'));
    await admin.channel.checkQueue(queue);
    expect(await admin.ready(queue)).toBe(1);
  });

  it('exits 2 naming the missing AMQP_URL, and 2 for an exchange without its routing key', async () => {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let err = '';
    stderr.on('data', (c: Buffer) => (err += c.toString()));
    const code = await main(['topology'], { stdin: new PassThrough(), stdout, stderr, env: {} });
    expect(code).toBe(2);
    expect(err).toContain('topology needs AMQP_URL');
    const half = await topology('any', '--exchange', 'x');
    expect(half.code).toBe(2);
    expect(half.err).toContain('--exchange and --routing-key go together');
  });
});
