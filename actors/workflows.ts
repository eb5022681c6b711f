import os from 'node:os';
import {
  dynamicSupervisor,
  startChild,
  type ActorBehaviour,
  type ActorRef,
  type ChildReport,
  type DynamicSupervisorMsg,
} from './supervision';

/** Messages of the workflows supervisor: `start_child` (one workflow), `terminate_child`, `health`. */
export type WorkflowsMsg<Input, Msg> = DynamicSupervisorMsg<Input, Msg>;

/** Options of the workflows supervisor. */
export interface WorkflowsOptions<Input, Msg> {
  /** Builds the workflow actor for one request; `input` is the plain-data request. */
  readonly workflow: (id: string, input: Input) => ActorBehaviour<Msg, unknown>;
  /**
   * Workflows run at once (slots); one more is refused with `MaxChildrenError`. Default: one per CPU core,
   * as the `concurrency` setting, which is also the AMQP prefetch.
   */
  readonly maxWorkflows?: number;
  /** How long a workflow may take to stop once aborted, in milliseconds. Default 5000. */
  readonly shutdownMs?: number;
  /**
   * Told of every workflow's end: `normal`, `failed` (with reason), `crashed` (with reason), `shutdown`
   * (stopped with the service) or `killed` (abandoned). Synchronous; keep it short. Default: none.
   */
  readonly onWorkflowExit?: (report: ChildReport) => void;
}

/**
 * The dynamic supervisor of workflows: one temporary child per request, never restarted (a build has side
 * effects; retrying is the queue's decision, not ours), all stopped at once on shutdown.
 */
export function workflowsSupervisor<Input, Msg>(
  options: WorkflowsOptions<Input, Msg>,
): ActorBehaviour<WorkflowsMsg<Input, Msg>, unknown> {
  return dynamicSupervisor<Input, Msg>({
    start: options.workflow,
    restart: 'temporary',
    maxChildren: options.maxWorkflows ?? os.availableParallelism(),
    ...(options.shutdownMs === undefined ? {} : { shutdownMs: options.shutdownMs }),
    ...(options.onWorkflowExit ? { onChildExit: options.onWorkflowExit } : {}),
  });
}

/**
 * Starts workflow `id` and resolves with its ref once its `init` is done. Rejects with `MaxChildrenError`
 * (no free slot), `DuplicateChildError` (that workflow is running), `ChildStartError`, or an ask error
 * after `timeoutMs` milliseconds (default 10000).
 */
export function startWorkflow<Input, Msg>(
  workflows: ActorRef<WorkflowsMsg<Input, Msg>>,
  id: string,
  input: Input,
  timeoutMs = 10_000,
): Promise<ActorRef<Msg>> {
  return startChild(workflows, id, input, timeoutMs);
}
