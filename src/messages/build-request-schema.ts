// Only `npm run validators` and the types read this module: requests are checked by the validator generated
// from this schema (validators.generated.ts), so that starting the builder loads neither TypeBox nor ajv's
// compiler.
import { Type, type Static, type TSchema } from '@sinclair/typebox';

// Elixir reads a missing key and a nil value alike (`payload[:key]` is nil either way): both arrive as `null`.
function nullable<T extends TSchema>(schema: T) {
  return Type.Unsafe<Static<T> | null>({ ...schema, type: [schema.type as string, 'null'], default: null });
}

const text = Type.String();
const exchangeId = Type.String({ minLength: 1 });
const jsonObject = Type.Record(Type.String(), Type.Unknown());
const count = Type.Integer({ minimum: 0 });
/** An Erlang timestamp `{MegaSecs, Secs, MicroSecs}`, shown as an array; on the wire it must be a tuple. */
const timestamp = Type.Tuple([count, count, count]);

/**
 * The build request the orchestrator sends (`OrchestratorRequest.to_payload/1`): one atom-keyed map holding the
 * 20 fields of a workflow and the 15 of a request. This schema reads the JSON view of that map (`etf.toJson` of
 * each atom-keyed value), after nil values are dropped: "required" means present and not nil, and every other
 * field gets its `default`. Atoms and binaries both arrive as strings, which is how `current_step` and
 * `milestones` are normalised.
 */
export const BuildRequestSchema = Type.Object({
  // The workflow (WOApi.Workflow).
  /** Required. The workflow id, a UUID; it names the build's work directories. */
  id: Type.String({ format: 'uuid' }),
  /** Legacy, usually nil. */
  workflow_id: nullable(text),
  /** The repository holding the Dockerfile and templates; a request without one fails its step. */
  deployment_repo: nullable(text),
  /** Default nil, meaning `master`. */
  deployment_repo_git_ref: nullable(text),
  source_repo: nullable(text),
  source_repo_git_ref: nullable(text),
  source_commit_hash: nullable(text),
  /** Required. The workflow's milestones, e.g. `["config", "build", "deploy"]`; atoms are accepted as strings. */
  milestones: Type.Array(text),
  /** Required. The step to run: the atom `:config` or `:build` (a binary is accepted too). */
  current_step: Type.Unsafe<'config' | 'build'>({ type: 'string', enum: ['config', 'build'] }),
  elapsed_step_time: nullable(text),
  elapsed_workflow_time: nullable(text),
  workflow_duration: nullable(text),
  /** Step name to a human duration. */
  workflow_step_durations: nullable(Type.Record(Type.String(), text)),
  /** Default false. */
  workflow_error: Type.Boolean({ default: false }),
  /** Default false. */
  workflow_completed: Type.Boolean({ default: false }),
  workflow_start_time: nullable(timestamp),
  step_time: nullable(timestamp),
  /** Default `[]`. The event log so far; the reply appends to it. */
  event_log: Type.Array(text, { default: [] }),
  /** RFC 1123 text. */
  scheduled_start_time: nullable(text),
  /** Binary keys `force_build`, `build_messaging_exchange_id`, `deploy_messaging_exchange_id`. */
  execute_options: nullable(jsonObject),

  // The request (WOApi.Request).
  /** Default false. Only `true` forces a build; a binary (seen rarely) does not. */
  force_build: Type.Unsafe<boolean | string>({ type: ['boolean', 'string'], default: false }),
  build_messaging_exchange_id: nullable(Type.Integer()),
  deploy_messaging_exchange_id: nullable(Type.Integer()),
  /** Required. The logical queue the reply goes to, `"workflow_orchestration"`. */
  orchestration_queue_name: Type.String({ minLength: 1 }),
  /** Required. The orchestrator's exchange id, where the reply goes. */
  workflow_orchestration_exchange_id: exchangeId,
  /** Required. The orchestrator's broker id, through which the reply goes. */
  workflow_orchestration_broker_id: exchangeId,
  /** Required. Where notifications go. */
  notifications_exchange_id: exchangeId,
  /** Required. The broker notifications go through. */
  notifications_broker_id: exchangeId,
  /** The build cluster the orchestrator chose. */
  docker_build_etcd_token: nullable(text),
  /** Nil on input; the builder fills it in the reply. */
  etcd_token: nullable(text),
  /** Nil on input; the builder fills it in the reply. */
  deployable_units: nullable(Type.Array(Type.Unknown())),
  notifications_config: nullable(jsonObject),
  fleet_config: nullable(jsonObject),
  aws_config: nullable(jsonObject),
  ecs_task_definition: nullable(text),
});

/** The fields of a build request after validation and defaults, before `force_build` is reduced to a boolean. */
export type BuildRequestFields = Static<typeof BuildRequestSchema>;
