import amqp from 'amqplib';
import { errorQueueName } from '../amqp';
import { inspectTopology, type Expected, type Found } from '../amqp/topology';
import { consistentConfig, consumerTimeoutMs, loadConfig, type BuilderConfig } from '../config';
import { redactUrlCredentials } from '../redact';
import { parseCommandLine, UsageError } from './options';

export const TOPOLOGY_USAGE = `usage: oa-builder topology [--apply] [--config FILE] [--exchange NAME --routing-key KEY]

  Prints the RabbitMQ queues (and, given the Manager exchange's root exchange name and routing key, the
  exchange and binding) the builder expects for the current settings, and what the broker at AMQP_URL has of
  each. An existing queue or exchange is compared by declaring it with the expected arguments on a channel of
  its own: a difference is reported in the broker's words and never redeclared. Bindings cannot be read back
  over AMQP; --apply makes them (binding is idempotent).

    --apply          declare what is missing (queues, the exchange) and make the binding
    --config FILE    settings file (see oa-builder config); the environment wins over it
    --exchange NAME  the topic exchange the orchestrator publishes to (the exchange's root_exchange_name)
    --routing-key KEY
                     the exchange's routing_key: QUEUE_NAME is bound with KEY.builder

exit status: 0 everything is as expected (or was made so), 1 something is missing or differs, or the broker
cannot be reached, 2 bad option or configuration
`;

/** The entities the settings call for, in the order they must exist. */
export function expectedTopology(
  config: BuilderConfig,
  route?: { exchange: string; routingKey: string },
): Expected[] {
  const deadLetters = config.deadLetterQueue ?? errorQueueName(config.queueName);
  return [
    { kind: 'queue', name: deadLetters, arguments: {} },
    {
      kind: 'queue',
      name: config.queueName,
      arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': deadLetters },
    },
    ...(route
      ? [
          { kind: 'exchange', name: route.exchange } as const,
          {
            kind: 'binding',
            queue: config.queueName,
            exchange: route.exchange,
            routingKey: `${route.routingKey}.builder`,
          } as const,
        ]
      : []),
  ];
}

function describeEntity(entity: Expected): string {
  switch (entity.kind) {
    case 'queue': {
      const args = Object.entries(entity.arguments).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
      return `queue ${entity.name} (durable${args.length > 0 ? `, ${args.join(', ')}` : ''})`;
    }
    case 'exchange':
      return `exchange ${entity.name} (topic, durable)`;
    case 'binding':
      return `binding ${entity.exchange} -> ${entity.queue} (routing key ${entity.routingKey})`;
  }
}

const STATE_TEXT: Record<Found['state'], string> = {
  matches: 'ok',
  missing: 'MISSING',
  created: 'created',
  bound: 'bound',
  unknown: 'not readable over AMQP (--apply makes it)',
  differs: 'DIFFERS',
};

export interface TopologyIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

/** `oa-builder topology`: resolves with the exit status. */
export async function topologyCommand(args: string[], io: TopologyIo): Promise<number> {
  const line = parseCommandLine(args, {
    usage: TOPOLOGY_USAGE,
    strings: ['config', 'exchange', 'routing-key'],
    flags: ['apply'],
  });
  if (line.help) {
    io.stdout.write(TOPOLOGY_USAGE);
    return 0;
  }
  const { exchange, 'routing-key': routingKey } = line.strings;
  if ((exchange === undefined) !== (routingKey === undefined))
    throw new UsageError(`--exchange and --routing-key go together\n\n${TOPOLOGY_USAGE}`);
  const file = line.strings.config ?? io.env.OA_BUILDER_CONFIG;
  const config = consistentConfig(loadConfig({ mode: 'local', env: io.env, ...(file ? { file } : {}) }));
  if (config.amqpUrl === undefined)
    throw new UsageError('topology needs AMQP_URL, the broker to compare with (it does not ask the Manager)');
  const expected = expectedTopology(
    config,
    exchange !== undefined && routingKey !== undefined ? { exchange, routingKey } : undefined,
  );
  let connection: amqp.ChannelModel;
  try {
    connection = await amqp.connect(config.amqpUrl, { timeout: config.httpTimeoutSeconds * 1000 });
  } catch (err) {
    io.stderr.write(
      `oa-builder: cannot reach the broker ${redactUrlCredentials(config.amqpUrl)}: ${(err as Error).message}\n`,
    );
    return 1;
  }
  connection.on('error', () => undefined);
  try {
    const found = await inspectTopology(connection, expected, line.flags.apply === true);
    expected.forEach((entity, i) => {
      const f = found[i] ?? { state: 'unknown' };
      const detail = f.state === 'differs' ? `: ${f.detail}` : '';
      io.stdout.write(`${describeEntity(entity)}: ${STATE_TEXT[f.state]}${detail}\n`);
    });
    io.stdout.write(
      `consumer of ${config.queueName}: each replica asks x-consumer-timeout=${consumerTimeoutMs(config)} ms ` +
        '(RabbitMQ 3.12 and later); on older brokers set consumer_timeout at least that high ' +
        '(not readable over AMQP)\n',
    );
    return found.some((f) => f.state === 'missing' || f.state === 'differs') ? 1 : 0;
  } finally {
    await connection.close().catch(() => undefined);
  }
}
