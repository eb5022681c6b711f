import os from 'node:os';
import { buildHostProblem } from '../docker/farm/hosts';
import { listenProblem } from '../health/server';
import { registryUrlProblem } from '../registry/image-name';

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
  /** Allowed values for `enum`, and for each item of a `list` that names some. */
  values?: readonly string[];
  /** Older variable names that are still read (the original builder's), newest wins. */
  aliases?: readonly string[];
  /**
   * What the schema cannot say about a value (of each entry, for lists): undefined when it is usable, else what
   * is wrong with it (`must be ...`). The check is the parser the value is used with, so the two never differ.
   */
  check?: (value: string) => string | undefined;
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
      'Runs of one build request at most: a request whose runs all ended without an answer (its replica died, lost the broker or was stopped) is dead-lettered and answered as failed instead of being run again (stops poison loops).',
  },
  queueType: {
    env: 'QUEUE_TYPE',
    type: 'enum',
    values: ['classic', 'quorum'],
    default: 'classic',
    description:
      "Type of QUEUE_NAME, which decides how runs are counted across replicas and restarts: `quorum` reads the broker's own `x-delivery-count`; `classic` makes the builder return a redelivered request to the queue with its run count in the `x-oa-runs` header.",
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
      'Replica identity for Overseer registration, heartbeats and notifications; unique per replica. Default: ' +
      "the machine's host name (os.hostname()), which in a container is the container's host name (its short id " +
      'unless the orchestrator sets one).',
  },
  dockerRegistryUrl: {
    env: 'DOCKER_REGISTRY_URL',
    type: 'string',
    default: 'https://index.docker.io/v1/',
    check: registryUrlProblem,
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
    check: buildHostProblem,
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
    default: 3000,
    description:
      'Seconds one milestone step (config, build, verify) may run; the build step is a build and the push of ' +
      'two tags, so at least BUILD_TIMEOUT_SECONDS + 2 × PUSH_TIMEOUT_SECONDS.',
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
  buildBackend: {
    env: 'BUILD_BACKEND',
    type: 'enum',
    values: ['auto', 'buildkit', 'classic'],
    default: 'auto',
    description:
      'Which builder runs docker builds: buildkit (POST /build?version=2: RUN --mount, secrets, parallel ' +
      'stages), classic, or auto: BuildKit where the engine offers it (Docker 18.09 and newer on Linux, ' +
      'unless its Builder-Version says 1), else classic.',
  },
  buildNetwork: {
    env: 'BUILD_NETWORK',
    type: 'string',
    description:
      "Network mode of RUN steps (none, host, a network name). Default: the engine's own. An engine " +
      'started with --bridge=none needs none here for BuildKit builds.',
  },
  buildSecrets: {
    env: 'BUILD_SECRETS',
    type: 'list',
    values: ['git_token', 'registry_password'],
    description:
      'Credentials a BuildKit build may mount with RUN --mount=type=secret,id=<name>: git_token ' +
      '(GITHUB_OAUTH_TOKEN), registry_password (DOCKER_REGISTRY_PASSWORD). They never land in a layer, the ' +
      'image history or the log. Default: none, since the Dockerfile comes from the deployment repo.',
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
  finishTimeoutSeconds: {
    env: 'FINISH_TIMEOUT_SECONDS',
    type: 'integer',
    minimum: 1,
    default: 60,
    description:
      "Seconds a workflow's end may take to be reported (its last build-log lines, then the reply to the orchestrator) before the workflow stops, which gives the reporter 5 s more: a reply not begun by then is never sent and the request goes back to the queue; one already going out still decides, and its delivery is acked once the broker confirms it.",
  },
  outageBudgetSeconds: {
    env: 'OUTAGE_BUDGET_SECONDS',
    type: 'integer',
    minimum: 0,
    default: 60,
    description:
      'Seconds a git server, registry or Manager that is unreachable, timing out or answering 5xx is waited for, retrying with backoff, before the call fails (never past the step timeout); also a broker whose channel closed under a publish, and a build engine while a workflow removes its images. 0: no retries.',
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
    check: listenProblem,
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
