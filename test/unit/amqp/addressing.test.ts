import {
  amqpUrl,
  errorQueueName,
  ExchangeResolver,
  maskUrl,
  publishAddress,
  queueDefaults,
  ResolutionError,
} from '../../../src/amqp';
import { ManagerClient, ManagerError } from '../../../src/manager';
import { startFakeManager, type FakeManager } from '../../fakes/manager';

let fake: FakeManager;
beforeEach(async () => {
  fake = await startFakeManager({
    exchanges: [
      { id: 1, name: 'AWS', routing_key_fragment: 'aws' },
      { id: 3, name: 'US-EAST-1', routing_key_fragment: 'us-east-1', parent_exchange_id: 1 },
      { id: 7, name: 'BROKEN', routing_key_fragment: '' },
    ],
  });
});
afterEach(() => fake.close());

function exchanges(now: () => number = Date.now): ExchangeResolver {
  const manager = new ManagerClient({
    managerUrl: fake.url,
    oauthLoginUrl: fake.oauthUrl,
    oauthClientId: fake.clientId,
    oauthClientSecret: fake.clientSecret,
    retry: { attempts: 1 },
  });
  return new ExchangeResolver({ manager, now });
}

describe('publish addresses', () => {
  it('publish to the root exchange with "<routing key>.<logical queue>" for a child exchange', async () => {
    await expect(exchanges().address(3, 'builder')).resolves.toEqual({
      exchange: 'AWS',
      routingKey: 'aws.us-east-1.builder',
    });
  });

  it('use the exchange itself and its own fragment for an exchange without a parent', async () => {
    await expect(exchanges().address(1, 'system_modules')).resolves.toEqual({
      exchange: 'AWS',
      routingKey: 'aws.system_modules',
    });
  });

  it('follow the reply queue named in a request', () => {
    const route = { id: '3', name: 'US-EAST-1', routingKey: 'aws.us-east-1', rootExchangeName: 'AWS' };
    expect(publishAddress(route, 'workflow_orchestration')).toEqual({
      exchange: 'AWS',
      routingKey: 'aws.us-east-1.workflow_orchestration',
    });
  });

  it('refuse an exchange record that cannot route instead of publishing to the default exchange', async () => {
    await expect(exchanges().address(7, 'builder')).rejects.toThrow(
      new ResolutionError('exchange 7 (BROKEN) has no routing key or root exchange'),
    );
  });

  it('fail with the Manager error for an unknown exchange', async () => {
    await expect(exchanges().address(99, 'builder')).rejects.toBeInstanceOf(ManagerError);
  });

  it('reuse an exchange record for 300 s', async () => {
    let now = 0;
    const resolver = exchanges(() => now);
    await resolver.address(3, 'builder');
    now = 299_000;
    await resolver.address(3, 'build_logs');
    expect(fake.state.requests).toHaveLength(1);
    now = 300_000;
    await resolver.address(3, 'builder');
    expect(fake.state.requests).toHaveLength(2);
  });
});

describe('queue defaults', () => {
  it('are durable and dead-letter to "<queue>_error" through the default exchange', () => {
    expect(errorQueueName('aws:us-east-1.builder')).toBe('aws:us-east-1.builder_error');
    expect(queueDefaults('builder')).toEqual({
      durable: true,
      arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'builder_error' },
    });
  });
});

describe('broker URLs', () => {
  const record = { id: 1, username: 'u', password: 'secret', host: 'mq', port: null, virtual_host: 'v' };

  it('read a port given as a string', () => {
    expect(amqpUrl({ ...record, port: ' 5679 ' })).toBe('amqp://u:secret@mq:5679/v');
  });

  it('reject a port that is not a TCP port, without showing the password', () => {
    expect(() => amqpUrl({ ...record, port: 'amqp' })).toThrow(
      new ResolutionError('broker connection mq has an invalid port "amqp"'),
    );
  });

  it('bracket an IPv6 host and leave out empty credentials', () => {
    expect(amqpUrl({ ...record, host: '::1', username: null, password: null })).toBe('amqp://[::1]:5672/v');
  });

  it('show the password masked', () => {
    expect(maskUrl('amqp://u:secret@mq:5672/%2F')).toBe('amqp://u:***@mq:5672/%2F');
    expect(maskUrl('amqp://mq:5672/')).toBe('amqp://mq:5672/');
    expect(maskUrl('not a url secret')).toBe('(unparseable broker URL)');
  });
});
