import { encode, fromJson, mapSet, type ErlMap, type Json } from '../etf';

/** A Fleet unit parsed from a `.service` file, as the deployer reads it from the reply. */
export interface DeployableUnit {
  name: string;
  /** Must be a list: the deployer maps over it. */
  options: Array<{ section: string; name: string; value: string }>;
  desiredState: string | null;
  currentState: string | null;
  machineID: string | null;
}

/**
 * What the builder changes in the request map it echoes to the orchestrator; a field left out is echoed as
 * received. Values travel as Elixir's JSON decoder would make them: strings as binaries, objects as maps with
 * binary keys, null as nil.
 */
export interface ReplyUpdate {
  /** The deploy cluster's token from the deployment repo's `etcd.json`, when the workflow deploys. */
  etcd_token?: string | null;
  deployable_units?: readonly DeployableUnit[] | null;
  /** The raw text of the rendered `ecs_task_definition.json`. */
  ecs_task_definition?: string | null;
  /** The source repo's `openaperture.json` `deployments.notifications`. */
  notifications_config?: { [key: string]: Json } | null;
  /** The deployment repo's `fleet.json`. */
  fleet_config?: { [key: string]: Json } | null;
  /** The deployment repo's `aws.json`. */
  aws_config?: { [key: string]: Json } | null;
  /** The commit the ref resolved to. */
  source_repo_git_ref?: string | null;
  /** The whole event log, received entries first. */
  event_log?: readonly string[];
  /** Both true when the step failed. */
  workflow_error?: boolean;
  workflow_completed?: boolean;
}

/**
 * The reply to the orchestrator: the request map as received (unknown keys, atoms such as `current_step` and
 * timestamp tuples kept verbatim, in wire order) with the fields of `update` replaced.
 */
export function replyTerm(received: ErlMap, update: ReplyUpdate): ErlMap {
  let reply = received;
  for (const [key, value] of Object.entries(update)) {
    if (value !== undefined) reply = mapSet(reply, key, fromJson(value));
  }
  return reply;
}

/** The reply's bytes, ready to publish to the request's `orchestration_queue_name`. */
export function encodeReply(received: ErlMap, update: ReplyUpdate): Buffer {
  return encode(replyTerm(received, update));
}
