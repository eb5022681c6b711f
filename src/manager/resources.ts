import type { Validator } from '../validation/validator';

export type {
  Broker,
  BrokerConnectionRecord,
  BrokerRestriction,
  Exchange,
  SystemComponent,
  Workflow,
} from './resource-schemas';

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

/** A check by one of the generated validators, answering `undefined` or the first problem as text. */
export function checker(validate: Validator<unknown>): (value: unknown) => string | undefined {
  return (value) =>
    validate(value)
      ? undefined
      : `${validate.errors?.[0]?.instancePath || 'answer'} ${validate.errors?.[0]?.message}`;
}
