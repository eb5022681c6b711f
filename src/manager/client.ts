import { nopLogger, type Logger } from '../log';
import { ManagerError } from './errors';
import { defaultRetryPolicy, type RetryPolicy } from './http';
import {
  checker,
  type Broker,
  type BrokerConnectionRecord,
  type BrokerRestriction,
  type Exchange,
  type ModuleRegistration,
  type SystemComponent,
  type SystemEvent,
  type Workflow,
  type WorkflowUpdate,
} from './resources';
import { TokenSource } from './token';
import { ManagerTransport, type ManagerCall } from './transport';
import * as generated from './validators.generated';

/** How to reach the Manager and how patiently. */
export interface ManagerClientOptions {
  /** Base URL of the REST API (MANAGER_URL); paths are appended after a "/". */
  managerUrl: string;
  /** OAuth2 token endpoint (OAUTH_LOGIN_URL). */
  oauthLoginUrl: string;
  oauthClientId: string;
  /** Never logged and never part of an error message. */
  oauthClientSecret: string;
  /** Deadline of one HTTP request in ms, reading the body included. Default 30 000 (HTTP_TIMEOUT_SECONDS). */
  timeoutMs?: number;
  /** Retries of idempotent calls and of the login. Default 3 retries, 200 ms doubling, at most 5 000 ms. */
  retry?: Partial<RetryPolicy>;
  /** A token is renewed once less than this remains of its life, in ms. Default 30 000. */
  renewBeforeMs?: number;
  /**
   * How long a call goes on, with the retry backoff, while the Manager refuses a freshly issued token, in ms: it
   * answers 401 when its token validator is unreachable. Then the call fails with ManagerAuthError. Default
   * 30 000.
   */
  refusedTokenRetryMs?: number;
  /** Clock in ms since the epoch; tests move it to expire tokens. Default `Date.now`. */
  now?: () => number;
  /** Default: no logging. */
  logger?: Logger;
  /** Told every access token issued, for the redactor. Default none. */
  onToken?: (token: string) => void;
}

/** Per-call options. */
export interface CallOptions {
  /** Aborts the call, including backoff waits; the call then rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** What `createSystemEvent` achieved: stored, or recognised by the Manager as a duplicate of a unique event. */
export type SystemEventOutcome = 'created' | 'duplicate';

type Id = string | number;

const segment = (id: Id): string => encodeURIComponent(String(id));

const validators = {
  broker: checker(generated.broker),
  connections: checker(generated.connections),
  exchange: checker(generated.exchange),
  restrictions: checker(generated.restrictions),
  workflow: checker(generated.workflow),
  components: checker(generated.components),
} satisfies Record<string, ReturnType<typeof checker>>;

/** The Manager REST calls the builder makes (protocol §3.3), typed. */
export class ManagerClient {
  private readonly transport: ManagerTransport;

  constructor(options: ManagerClientOptions) {
    const log = options.logger ?? nopLogger;
    const timeoutMs = options.timeoutMs ?? 30_000;
    const retry = { ...defaultRetryPolicy, ...options.retry };
    const tokens = new TokenSource({
      loginUrl: options.oauthLoginUrl,
      clientId: options.oauthClientId,
      clientSecret: options.oauthClientSecret,
      renewBeforeMs: options.renewBeforeMs ?? 30_000,
      timeoutMs,
      retry,
      now: options.now ?? Date.now,
      log,
      onToken: options.onToken,
    });
    this.transport = new ManagerTransport({
      baseUrl: options.managerUrl,
      tokens,
      timeoutMs,
      retry,
      secrets: [options.oauthClientSecret],
      log,
      refusedTokenRetryMs: options.refusedTokenRetryMs ?? 30_000,
    });
  }

  /** `GET /messaging/brokers/:id`. */
  getBroker(id: Id, options?: CallOptions): Promise<Broker> {
    return this.read(`messaging/brokers/${segment(id)}`, validators.broker, options);
  }

  /** `GET /messaging/brokers/:id/connections`: every host of the broker, passwords in clear. */
  getBrokerConnections(id: Id, options?: CallOptions): Promise<BrokerConnectionRecord[]> {
    return this.read(`messaging/brokers/${segment(id)}/connections`, validators.connections, options);
  }

  /** `GET /messaging/exchanges/:id`, with the Manager-computed `routing_key` and `root_exchange_name`. */
  getExchange(id: Id, options?: CallOptions): Promise<Exchange> {
    return this.read(`messaging/exchanges/${segment(id)}`, validators.exchange, options);
  }

  /** `GET /messaging/exchanges/:id/brokers`: the broker restrictions of an exchange (`[]` when none). */
  getExchangeBrokers(id: Id, options?: CallOptions): Promise<BrokerRestriction[]> {
    return this.read(`messaging/exchanges/${segment(id)}/brokers`, validators.restrictions, options);
  }

  /**
   * `POST /messaging/exchanges/:id/modules`. Retried like an idempotent call because the Manager upserts by
   * (exchange, hostname). Resolves to the id in the `Location` header (the hostname), if one came back.
   */
  async registerModule(
    exchangeId: Id,
    module: ModuleRegistration,
    options?: CallOptions,
  ): Promise<string | undefined> {
    const result = await this.transport.send({
      method: 'POST',
      path: `messaging/exchanges/${segment(exchangeId)}/modules`,
      body: module,
      idempotent: true,
      signal: options?.signal,
    });
    const last = result.location
      ?.split('/')
      .filter((s) => s.length > 0)
      .pop();
    return last === undefined ? undefined : decodeURIComponent(last);
  }

  /** `GET /workflows/:id`: the builder polls `workflow_error` as its cancellation signal. */
  getWorkflow(id: string, options?: CallOptions): Promise<Workflow> {
    return this.read<Workflow>(`workflows/${segment(id)}`, validators.workflow, options);
  }

  /** `PUT /workflows/:id`; the Manager answers 204, and anything else is an error. */
  async updateWorkflow(id: string, update: WorkflowUpdate, options?: CallOptions): Promise<void> {
    await this.transport.send({
      method: 'PUT',
      path: `workflows/${segment(id)}`,
      body: update,
      expect: [204],
      idempotent: true,
      signal: options?.signal,
    });
  }

  /** `GET /system_components[?type=…]`; the builder asks for `type: 'manager'` to find build-log exchanges. */
  listSystemComponents(filter: { type?: string } = {}, options?: CallOptions): Promise<SystemComponent[]> {
    const query = filter.type === undefined ? {} : { type: filter.type };
    return this.read<SystemComponent[]>('system_components', validators.components, options, query);
  }

  /**
   * `POST /system_events`. A 409 (an equal unique event within the last hour) counts as success. Retried on
   * transient failures only when `unique` is set, because only then can a repeat not create a second event.
   */
  async createSystemEvent(event: SystemEvent, options?: CallOptions): Promise<SystemEventOutcome> {
    const result = await this.transport.send({
      method: 'POST',
      path: 'system_events',
      body: event,
      expect: [201, 409],
      idempotent: event.unique,
      signal: options?.signal,
    });
    return result.status === 409 ? 'duplicate' : 'created';
  }

  private async read<T>(
    path: string,
    check: (value: unknown) => string | undefined,
    options: CallOptions | undefined,
    query?: ManagerCall['query'],
  ): Promise<T> {
    const call: ManagerCall = { method: 'GET', path, idempotent: true, signal: options?.signal };
    if (query) call.query = query;
    const result = await this.transport.send(call);
    const shown = `/${path}`;
    let value: unknown;
    try {
      value = JSON.parse(result.body);
    } catch {
      throw new ManagerError('GET', shown, result.status, 'answer is not JSON');
    }
    const problem = check(value);
    if (problem !== undefined)
      throw new ManagerError('GET', shown, result.status, `unexpected answer: ${problem}`);
    return value as T;
  }
}
