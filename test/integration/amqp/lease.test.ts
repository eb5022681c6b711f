// Workflow leases on the real broker across a reconnect: what a connection takes again when its predecessor
// went must be only what its workflows still want, even when a workflow gives its lease up while the leases
// are being taken again (a stopped workflow that ends just as the broker comes back).
import amqp, { type ChannelModel } from 'amqplib';
import { onThrowawayChannel } from '../../../src/amqp/dead-letter';
import { leaseQueueName, WorkflowLeases } from '../../../src/amqp/lease';
import { nopLogger } from '../../../src/log';
import { startTcpProxy } from '../../harness/tcp-proxy';
import { eventually, sharedAmqpUrl, uniqueName } from './topology';

const opened: ChannelModel[] = [];

async function open(): Promise<ChannelModel> {
  const connection = await amqp.connect(sharedAmqpUrl);
  // A connection closed by the test itself: nothing to report.
  connection.on('error', () => undefined);
  opened.push(connection);
  return connection;
}

async function close(connection: ChannelModel): Promise<void> {
  await connection.close().catch(() => undefined);
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map(close));
});

/** Leases held by whatever connection `current` names, as the builder's connection holds them. */
async function leasesOnReconnectingConnection(): Promise<{
  leases: WorkflowLeases;
  /** Closes the current connection (the broker drops its leases) and opens the next one. */
  reconnect: () => Promise<void>;
}> {
  let current: ChannelModel | undefined = await open();
  const leases = new WorkflowLeases(() => current, nopLogger);
  return {
    leases,
    reconnect: async () => {
      const old = current;
      current = undefined;
      if (old) await close(old);
      current = await open();
    },
  };
}

/** Whether a connection of another replica can take the lease of `id`, i.e. nobody holds it. */
async function freeElsewhere(id: string): Promise<boolean> {
  const other = await open();
  const taken = await new WorkflowLeases(() => other, nopLogger).take(id);
  await close(other);
  return taken;
}

describe('workflow leases taken again on a new connection', () => {
  it('takes back the leases still held, so another replica waits for their workflows', async () => {
    const { leases, reconnect } = await leasesOnReconnectingConnection();
    const id = uniqueName('wf');
    expect(await leases.take(id)).toBe(true);

    await reconnect();
    expect(await leases.retake()).toEqual([]);

    expect(await freeElsewhere(id)).toBe(false);
  });

  it('does not take back a lease given up while an earlier one is being taken again', async () => {
    const { leases, reconnect } = await leasesOnReconnectingConnection();
    const [first, ended] = [uniqueName('wf'), uniqueName('wf')];
    expect(await leases.take(first)).toBe(true);
    expect(await leases.take(ended)).toBe(true);
    await reconnect();

    // The workflow of `ended` ends while the lease of `first` is being taken again on the new connection.
    const retaking = leases.retake();
    await leases.release(ended);
    await retaking;

    expect(await freeElsewhere(ended)).toBe(true);
    expect(await freeElsewhere(first)).toBe(false);
  });

  it('does not take back, on the next connection, a lease given up while it was being taken again', async () => {
    const { leases, reconnect } = await leasesOnReconnectingConnection();
    const ended = uniqueName('wf');
    expect(await leases.take(ended)).toBe(true);
    await reconnect();

    const retaking = leases.retake();
    await leases.release(ended);
    await retaking;
    await reconnect();
    await leases.retake();

    expect(await freeElsewhere(ended)).toBe(true);
  });

  it('does not keep a lease whose release came while it was being taken', async () => {
    const { leases, reconnect } = await leasesOnReconnectingConnection();
    const id = uniqueName('wf');
    const taking = leases.take(id);
    await leases.release(id);
    expect(await taking).toBe(true);
    await reconnect();
    await leases.retake();

    expect(await freeElsewhere(id)).toBe(true);
  });
});

describe('a lease taken on a throwaway channel whose connection goes while the channel closes', () => {
  // amqplib's channel.close() waits for the broker's close-ok and is never settled when the connection goes
  // first. Lease operations run one at a time per workflow, so one hung on it would hold up every later take of
  // its workflow on this replica: a copy of the request would wait for its lease until the replica stopped.
  it('settles the operation, and the lease is gone with the connection', async () => {
    const broker = new URL(sharedAmqpUrl);
    const proxy = await startTcpProxy({ host: broker.hostname, port: Number(broker.port || 5672) });
    try {
      const through = new URL(sharedAmqpUrl);
      through.hostname = '127.0.0.1';
      through.port = String(proxy.port);
      const cutOff = await amqp.connect(through.toString());
      cutOff.on('error', () => undefined);
      const gone = new Promise<void>((resolve) => cutOff.once('close', () => resolve()));
      const id = uniqueName('wf');
      let settled = false;

      // Cut just as the lease is taken: the close of the throwaway channel goes out on a connection that is gone.
      const operation = onThrowawayChannel(cutOff, async (channel) => {
        await channel.assertQueue(leaseQueueName(id), { exclusive: true, durable: false, autoDelete: false });
        proxy.cut();
      });
      operation.then(
        () => (settled = true),
        () => (settled = true),
      );
      await gone;

      await eventually('the operation settled', () => settled, 5_000);
      expect(await freeElsewhere(id)).toBe(true);
    } finally {
      await proxy.close();
    }
  });
});
