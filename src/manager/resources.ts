import { Type, type Static, type TSchema } from '@sinclair/typebox';
import Ajv, { type ValidateFunction } from 'ajv';

/**
 * The Manager resources the builder reads (protocol §3.3–3.4), as schemas checked on every answer. They list
 * only the fields the builder relies on and let the rest through, so a newer Manager does not break it.
 */

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
/** Ids are integers in the Manager's database but arrive as strings from environment-derived values. */
const Id = Type.Union([Type.Integer(), Type.String({ minLength: 1 })]);

export const BrokerSchema = Type.Object({
  id: Id,
  name: Type.String(),
  failover_broker_id: Type.Optional(Nullable(Id)),
});
export type Broker = Static<typeof BrokerSchema>;

export const BrokerConnectionSchema = Type.Object({
  id: Id,
  messaging_broker_id: Type.Optional(Nullable(Id)),
  username: Nullable(Type.String()),
  /** Returned decrypted by the Manager. */
  password: Nullable(Type.String()),
  host: Type.String({ minLength: 1 }),
  /** Declared `:string` in the Manager's schema and never stored on create, so usually null. */
  port: Type.Optional(Nullable(Type.Union([Type.Integer(), Type.String()]))),
  virtual_host: Type.Optional(Nullable(Type.String())),
});
export type BrokerConnectionRecord = Static<typeof BrokerConnectionSchema>;

export const ExchangeSchema = Type.Object({
  id: Id,
  name: Type.String(),
  parent_exchange_id: Type.Optional(Nullable(Id)),
  failover_exchange_id: Type.Optional(Nullable(Id)),
  routing_key_fragment: Type.Optional(Nullable(Type.String())),
  /** Computed by the Manager: the fragments from the root down, joined with ".". */
  routing_key: Type.Optional(Nullable(Type.String())),
  /** Computed by the Manager: the name of the top-most ancestor. */
  root_exchange_name: Type.Optional(Nullable(Type.String())),
});
export type Exchange = Static<typeof ExchangeSchema>;

/** A broker restriction: the exchange is reachable only through `messaging_broker_id`. */
export const BrokerRestrictionSchema = Type.Object({
  id: Id,
  messaging_exchange_id: Id,
  messaging_broker_id: Id,
});
export type BrokerRestriction = Static<typeof BrokerRestrictionSchema>;

export const WorkflowSchema = Type.Object({
  id: Type.String({ minLength: 1 }),
  workflow_error: Type.Optional(Nullable(Type.Boolean())),
  workflow_completed: Type.Optional(Nullable(Type.Boolean())),
  current_step: Type.Optional(Nullable(Type.String())),
  milestones: Type.Optional(Nullable(Type.Array(Type.String()))),
  event_log: Type.Optional(Nullable(Type.Array(Type.String()))),
});
/** A workflow as GET returns it; fields beyond the typed ones are kept as they came. */
export type Workflow = Static<typeof WorkflowSchema> & Record<string, unknown>;

export const SystemComponentSchema = Type.Object({
  id: Id,
  type: Type.String(),
  messaging_exchange_id: Type.Optional(Nullable(Id)),
});
export type SystemComponent = Static<typeof SystemComponentSchema> & Record<string, unknown>;

/** Body of `POST /messaging/exchanges/:id/modules` (§3.4.3); the Manager upserts by hostname. */
export interface ModuleRegistration {
  hostname: string;
  type: string;
  status: string;
  /** Required by the Manager: null is a 400, so send `[]` at least. */
  workload: unknown[];
  source_repo?: string;
  source_repo_git_ref?: string;
  deployment_repo?: string;
  deployment_repo_git_ref?: string;
}

/** Body of `PUT /workflows/:id` as the Elixir `Workflow.save/1` sends it (§3.4.5). */
export interface WorkflowUpdate {
  id: string;
  deployment_repo?: string | null;
  deployment_repo_git_ref?: string | null;
  source_repo?: string | null;
  source_repo_git_ref?: string | null;
  source_commit_hash?: string | null;
  milestones?: string[] | null;
  current_step?: string | null;
  elapsed_step_time?: string | null;
  elapsed_workflow_time?: string | null;
  workflow_duration?: string | null;
  workflow_step_durations?: Record<string, string> | null;
  workflow_error?: boolean | null;
  /** Always send it: a PUT without it resets the workflow to not completed (Manager quirk). */
  workflow_completed: boolean;
  event_log?: string[] | null;
  scheduled_start_time?: string | null;
  execute_options?: Record<string, unknown> | null;
}

export type SystemEventSeverity = 'error' | 'warning' | 'info' | 'debug';

/** Body of `POST /system_events` (§3.4.7). */
export interface SystemEvent {
  type: string;
  severity: SystemEventSeverity;
  message: string;
  data: unknown;
  /** When true, the Manager answers 409 to an equal event of the same type within the last hour. */
  unique: boolean;
}

const ajv = new Ajv({ allErrors: false, strict: false });

/** A compiled check for `schema`, answering `undefined` or the first problem as text. */
export function checker(schema: TSchema): (value: unknown) => string | undefined {
  const validate: ValidateFunction = ajv.compile(schema);
  return (value) =>
    validate(value)
      ? undefined
      : `${validate.errors?.[0]?.instancePath || 'answer'} ${validate.errors?.[0]?.message}`;
}
