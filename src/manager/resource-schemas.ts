import { Type, type Static, type TSchema } from '@sinclair/typebox';

/**
 * The Manager resources the builder reads (protocol §3.3–3.4), as schemas checked on every answer. They list
 * only the fields the builder relies on and let the rest through, so a newer Manager does not break it. Only
 * `npm run validators` and the types read this module: the checks run the validators it generates from these
 * schemas (validators.generated.ts), so that starting the builder loads neither TypeBox nor ajv's compiler.
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
