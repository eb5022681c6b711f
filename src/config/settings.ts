import os from 'node:os';

/**
 * Every setting the builder reads, in one table: the configuration schema, the environment variable that sets
 * it, its default, and whether it is a secret. Users read this table (rendered into docs/configuration.md by
 * `oa-builder config --doc`), so each description says what the value does, its unit and why the default.
 */
export type SettingType = 'string' | 'url' | 'integer' | 'boolean' | 'list' | 'enum';

export interface Setting {
  /** Environment variable (also the key in a config file). */
  env: string;
  type: SettingType;
  description: string;
  /** Value when nothing sets it; `undefined` means unset. A function is evaluated at load time. */
  default?: string | number | boolean | string[] | (() => string | number);
  /** Required when the builder runs as a service (`oa-builder serve`). */
  requiredInService?: boolean;
  /** Never printed, logged or echoed in an error. */
  secret?: boolean;
  /** Lower bound for integers. */
  minimum?: number;
  /** Allowed values for `enum`. */
  values?: readonly string[];
  /** Older variable names that are still read (the original builder's), newest wins. */
  aliases?: readonly string[];
}

export const settings = {
  exchangeId: {
    env: 'EXCHANGE_ID',
    type: 'string',
    requiredInService: true,
    description:
      'Manager id of the messaging exchange this builder lives in; used for registration and routing.',
  },
  brokerId: {
    env: 'BROKER_ID',
    type: 'string',
    requiredInService: true,
    description:
      'Manager id of the messaging broker to connect to; connection options are fetched from the Manager.',
  },
  queueName: {
    env: 'QUEUE_NAME',
    type: 'string',
    default: 'builder',
    description:
      'Physical RabbitMQ queue to consume. The orchestrator publishes build requests to "builder".',
  },
  deadLetterQueue: {
    env: 'DEAD_LETTER_QUEUE',
    type: 'string',
    description: 'Queue for messages that cannot be decoded or validated. Default: `<QUEUE_NAME>_error`.',
  },
  maxDeliveries: {
    env: 'MAX_DELIVERIES',
    type: 'integer',
    minimum: 1,
    default: 3,
    description:
      'Deliveries of one message before it is dead-lettered instead of retried (stops poison loops).',
  },
  amqpUrl: {
    env: 'AMQP_URL',
    type: 'url',
    secret: true,
    description:
      'Broker URL that overrides the Manager lookup of BROKER_ID (amqp://user:pass@host:port/vhost).',
  },
  managerUrl: {
    env: 'MANAGER_URL',
    type: 'url',
    requiredInService: true,
    description: 'Base URL of the OpenAperture Manager REST API.',
  },
  oauthLoginUrl: {
    env: 'OAUTH_LOGIN_URL',
    type: 'url',
    requiredInService: true,
    description: 'OAuth2 token endpoint for the client-credentials login to the Manager.',
  },
  oauthClientId: {
    env: 'OAUTH_CLIENT_ID',
    type: 'string',
    requiredInService: true,
    description: 'OAuth2 client id.',
  },
  oauthClientSecret: {
    env: 'OAUTH_CLIENT_SECRET',
    type: 'string',
    requiredInService: true,
    secret: true,
    description: 'OAuth2 client secret.',
  },
  hostname: {
    env: 'HOSTNAME',
    type: 'string',
    default: () => os.hostname(),
    description:
      'Replica identity for Overseer registration, heartbeats and notifications; unique per replica.',
  },
  dockerRegistryUrl: {
    env: 'DOCKER_REGISTRY_URL',
    type: 'string',
    default: 'https://index.docker.io/v1/',
    description: 'Registry that images are pushed to when docker.json names none (host[:port] or URL).',
  },
  dockerRegistryUsername: {
    env: 'DOCKER_REGISTRY_USERNAME',
    type: 'string',
    description: 'Registry user; unset means anonymous pushes.',
  },
  dockerRegistryEmail: {
    env: 'DOCKER_REGISTRY_EMAIL',
    type: 'string',
    description: 'Registry e-mail, sent in the auth config for registries that still want it.',
  },
  dockerRegistryPassword: {
    env: 'DOCKER_REGISTRY_PASSWORD',
    type: 'string',
    secret: true,
    description: 'Registry password or token.',
  },
  buildHosts: {
    env: 'BUILD_HOSTS',
    type: 'list',
    aliases: ['BUILD_SLAVE_IPS'],
    default: ['unix:///var/run/docker.sock'],
    description:
      'Comma-separated Docker Engine endpoints (unix:///path, tcp://host:port, http(s)://host:port); a bare IP ' +
      'means tcp://IP:2375 as in the original BUILD_SLAVE_IPS. Options follow an endpoint after `;`: ' +
      '`slots=N` (builds at once on it from this replica; default BUILDER_CONCURRENCY), and for TLS `tls=DIR` ' +
      '(ca.pem, cert.pem, key.pem as in DOCKER_CERT_PATH) or `ca=`, `cert=`, `key=` files. Each build goes to ' +
      'a healthy engine with a free slot, the same deployment repo to the same engine when it is not much busier.',
  },
  buildHostProbeSeconds: {
    env: 'BUILD_HOST_PROBE_SECONDS',
    type: 'integer',
    minimum: 1,
    default: 10,
    description:
      'Interval of the health probe (/_ping) of each build host; a failing one leaves rotation until it answers, ' +
      'probed with backoff up to 8 intervals.',
  },
  buildMemoryMb: {
    env: 'BUILD_MEMORY_MB',
    type: 'integer',
    minimum: 4,
    description: 'Memory limit of each build container (RUN steps), in MiB. Default unset: no limit.',
  },
  buildCpuPercent: {
    env: 'BUILD_CPU_PERCENT',
    type: 'integer',
    minimum: 1,
    description:
      'CPU limit of each build container, in percent of one CPU (150 = one and a half). Default unset: no limit.',
  },
  buildNetworkMode: {
    env: 'BUILD_NETWORK_MODE',
    type: 'string',
    description:
      "Network of RUN steps (`none`, `host`, a network name). Default unset: the engine's default network.",
  },
  buildCache: {
    env: 'BUILD_CACHE',
    type: 'boolean',
    default: false,
    description:
      'Build with the layer cache. The original always built with --no-cache, hence the default; turn it on ' +
      'to reuse the layers that per-repo engine affinity keeps on one engine.',
  },
  gitBaseUrl: {
    env: 'GIT_BASE_URL',
    type: 'url',
    default: 'https://github.com/',
    description: 'Base URL that repo names like `Org/name` expand against: `<base>Org/name.git`.',
  },
  githubOauthToken: {
    env: 'GITHUB_OAUTH_TOKEN',
    type: 'string',
    secret: true,
    description: 'Token for cloning and pushing over HTTPS; sent as Basic auth, never written into a URL.',
  },
  gitAuthorName: {
    env: 'GIT_AUTHOR_NAME',
    type: 'string',
    default: 'OpenAperture Builder',
    description: 'Author name of the commits that push rendered templates.',
  },
  gitAuthorEmail: {
    env: 'GIT_AUTHOR_EMAIL',
    type: 'string',
    default: 'builder@openaperture.invalid',
    description: 'Author e-mail of the commits that push rendered templates.',
  },
  workDir: {
    env: 'BUILDER_TMPDIR',
    type: 'string',
    default: '/tmp/openaperture',
    description:
      'Directory under which each workflow gets its own fresh work directory, removed when it ends.',
  },
  concurrency: {
    env: 'BUILDER_CONCURRENCY',
    type: 'integer',
    minimum: 1,
    default: () => os.availableParallelism(),
    description: 'Workflows run at once by this replica (the AMQP prefetch). Default: one per CPU core.',
  },
  workflowTimeoutSeconds: {
    env: 'WORKFLOW_TIMEOUT_SECONDS',
    type: 'integer',
    minimum: 1,
    default: 3600,
    description: 'Seconds a whole workflow may run before it is aborted and reported as failed.',
  },
  stepTimeoutSeconds: {
    env: 'STEP_TIMEOUT_SECONDS',
    type: 'integer',
    minimum: 1,
    default: 1800,
    description: 'Seconds one milestone step (config, build, verify) may run.',
  },
  gitTimeoutSeconds: {
    env: 'GIT_TIMEOUT_SECONDS',
    type: 'integer',
    minimum: 1,
    default: 120,
    description: 'Seconds one git network operation (clone, fetch, ls-remote, push) may take.',
  },
  buildTimeoutSeconds: {
    env: 'BUILD_TIMEOUT_SECONDS',
    type: 'integer',
    minimum: 1,
    default: 1800,
    description: 'Seconds a docker build may take.',
  },
  pushTimeoutSeconds: {
    env: 'PUSH_TIMEOUT_SECONDS',
    type: 'integer',
    minimum: 1,
    default: 600,
    description: 'Seconds a docker push of one tag may take.',
  },
  httpTimeoutSeconds: {
    env: 'HTTP_TIMEOUT_SECONDS',
    type: 'integer',
    minimum: 1,
    default: 30,
    description: 'Seconds one Manager or registry HTTP request may take.',
  },
  shutdownGraceSeconds: {
    env: 'SHUTDOWN_GRACE_SECONDS',
    type: 'integer',
    minimum: 0,
    default: 300,
    description:
      'On SIGTERM, seconds in-flight workflows may finish before they are aborted and left for retry.',
  },
  heartbeatSeconds: {
    env: 'HEARTBEAT_SECONDS',
    type: 'integer',
    minimum: 1,
    default: 30,
    description: 'Interval of the Overseer heartbeat, as the original module sends it.',
  },
  killSwitchSeconds: {
    env: 'KILL_SWITCH_SECONDS',
    type: 'integer',
    minimum: 1,
    default: 10,
    description:
      'How often a running workflow is checked in the Manager; one marked errored there is stopped (the kill switch).',
  },
  healthListen: {
    env: 'HEALTH_LISTEN',
    type: 'string',
    default: '127.0.0.1:9464',
    description: 'host:port of the /healthz, /readyz and /metrics endpoint. Loopback unless you expose it.',
  },
  logLevel: {
    env: 'LOG_LEVEL',
    type: 'enum',
    values: ['error', 'warn', 'info', 'debug'],
    default: 'info',
    description: 'Minimum level of process log lines.',
  },
  logFormat: {
    env: 'LOG_FORMAT',
    type: 'enum',
    values: ['json', 'pretty', 'auto'],
    default: 'auto',
    description:
      'json: one JSON object per line; pretty: readable lines; auto: pretty on a terminal, else json.',
  },
} as const satisfies Record<string, Setting>;

export type SettingKey = keyof typeof settings;
