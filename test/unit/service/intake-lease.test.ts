// The intake gives up a workflow's lease whenever the delivery's life ends here, also when its start fails for
// a reason of the request: a lease kept would make a copy of the request on the other replica (its dead-letter
// publish failed, or its channel closed first) wait for it as long as this connection lives.
import { intakeActor, intakeMemory, type IntakeMsg } from '../../../actors/intake';
import { DuplicateChildError, send, startTree, type Tree } from '../../../actors/supervision';
import type { BrokerConnection, Delivery, DeliveryHandler, QueueConsumer } from '../../../src/amqp';
import { encode } from '../../../src/etf';
import { sampleRequest, WORKFLOW_ID } from '../messages/sample-request';
import { Trace } from '../supervision/helpers';

const trees: Tree<IntakeMsg>[] = [];
afterEach(async () => {
  await Promise.all(trees.splice(0).map((tree) => tree.stop()));
});

const delivery: Delivery = {
  id: 1,
  queue: 'builder',
  content: encode(sampleRequest()),
  headers: {},
  messageId: undefined,
  key: 'request',
  redelivered: false,
  deliveryCount: 1,
  generation: 1,
};

/** An intake on a broker connection that records what happens to leases and deliveries. */
async function intakeStartingWith(startError: Error): Promise<{ trace: Trace; deliver: DeliveryHandler }> {
  const trace = new Trace();
  let handler: DeliveryHandler | undefined;
  const consumer = {
    deadLetter: () => {
      trace.push('dead-lettered');
      return Promise.resolve('settled');
    },
    isSettleable: () => true,
  } as unknown as QueueConsumer;
  const connection = {
    leases: {
      take: (id: string) => {
        trace.push(`take:${id}`);
        return Promise.resolve(true);
      },
      release: (id: string) => {
        trace.push(`release:${id}`);
        return Promise.resolve();
      },
    },
    consume: (_queue: string, onDelivery: DeliveryHandler) => {
      handler = onDelivery;
      trace.push('consuming');
      return Promise.resolve(consumer);
    },
  } as unknown as BrokerConnection;
  const tree = await startTree(
    intakeActor({
      connection,
      queue: 'builder',
      prefetch: 2,
      maxDeliveries: 3,
      start: () => Promise.reject(startError),
      reportRejected: () => Promise.resolve(),
      memory: intakeMemory(),
    }),
    { id: 'intake' },
  );
  trees.push(tree);
  send(tree.root, { type: 'consume' });
  await trace.seen('consuming');
  return { trace, deliver: (d) => handler?.(d) };
}

describe('the lease of a workflow whose start failed', () => {
  it.each([
    ['for a reason of the request', new Error('the template would not render')],
    ['because the workflow is already running here', new DuplicateChildError(WORKFLOW_ID)],
  ])('is given up when the start fails %s', async (_why, startError) => {
    const { trace, deliver } = await intakeStartingWith(startError);

    await deliver(delivery);
    await trace.seen('dead-lettered');

    expect(trace.events).toEqual([
      'consuming',
      `take:${WORKFLOW_ID}`,
      `release:${WORKFLOW_ID}`,
      'dead-lettered',
    ]);
  });
});
