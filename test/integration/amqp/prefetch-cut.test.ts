// A change of the free slots (the intake pauses and resumes its consumer) that meets a lost connection: the
// consumer must still be registered on the next channel, or the replica stops taking requests for good while
// its readiness says it consumes.
import type { BrokerConnection, Delivery } from '../../../src/amqp';
import { startTcpProxy, type TcpProxy } from '../../harness/tcp-proxy';
import { BrokerAdmin, connectionTo, eventually, sharedAmqpUrl } from './topology';

let admin: BrokerAdmin;
let proxy: TcpProxy;
let connection: BrokerConnection;

beforeEach(async () => {
  admin = await BrokerAdmin.open(sharedAmqpUrl);
  const broker = new URL(sharedAmqpUrl);
  proxy = await startTcpProxy({ host: broker.hostname, port: Number(broker.port || 5672) });
  const through = new URL(sharedAmqpUrl);
  through.hostname = '127.0.0.1';
  through.port = String(proxy.port);
  connection = connectionTo(through.toString());
  await connection.connect({ timeoutMs: 10_000 });
});
afterEach(async () => {
  await connection.close();
  await proxy.close();
  await admin.dispose();
});

describe('a new prefetch set as the connection is lost', () => {
  it.each([1, 2])('leaves the consumer registered on the next channel (prefetch %i)', async (slots) => {
    const queue = await admin.componentQueue('builder');
    const deliveries: Delivery[] = [];
    const consumer = await connection.consume(queue, (d) => void deliveries.push(d), { prefetch: 2 });
    const generation = connection.health().generation;

    // The cancel of the old registration goes out on a connection that is already gone.
    const changing = consumer.setPrefetch(slots).catch(() => undefined);
    proxy.cut();
    await changing;
    await eventually(
      'a new channel',
      () => connection.health().generation > generation && connection.isReady(),
    );

    await admin.fill(queue, 'after the cut');
    await eventually('the message delivered', () => deliveries.length === 1);
  });
});
