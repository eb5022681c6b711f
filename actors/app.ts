import { nopLogger, type Logger } from '../src/log';
import { placeholderActor } from './placeholder';
import {
  ActorStoppedError,
  startTree,
  supervisor,
  type ActorRef,
  type AnyBehaviour,
  type ExitReason,
  type HealthTree,
  type ShutdownReport,
} from './supervision';
import { startWorkflow, workflowsSupervisor, type WorkflowsMsg, type WorkflowsOptions } from './workflows';

/** The long-lived children of the root, in start order. */
export const INFRASTRUCTURE = ['http', 'heartbeat'] as const;
export type InfrastructureId = (typeof INFRASTRUCTURE)[number] | 'farm' | 'intake';

/** Options of `startApp`; the workflow options are those of the workflows supervisor. */
export interface AppOptions<Input, Msg> extends WorkflowsOptions<Input, Msg> {
  /** Default `nopLogger`. */
  readonly log?: Logger;
  /** The real actor of an infrastructure child, by id. Default: a placeholder that does nothing. */
  readonly infrastructure?: Partial<Record<InfrastructureId, () => AnyBehaviour>>;
  /** Restarts of infrastructure children allowed within `periodMs` before the app gives up. Default 3. */
  readonly intensity?: number;
  /** Intensity window in milliseconds. Default 5000. */
  readonly periodMs?: number;
  /**
   * The app ended on its own: a child kept crashing past the intensity, or failed to restart. The service
   * should exit non-zero (the orchestrator restarts it). Default: none (it is logged).
   */
  readonly onExit?: (exit: ExitReason) => void;
}

/** A running app. */
export interface AppHandle<Input, Msg> {
  /** The whole tree as plain data (see `HealthTree`). */
  health(): Promise<HealthTree>;
  /** The live infrastructure child `id` (its current incarnation), e.g. for operator tooling and tests. */
  child(id: InfrastructureId): ActorRef<never> | undefined;
  /** Starts one workflow; rejects as `startWorkflow` does (`MaxChildrenError` when no slot is free). */
  startWorkflow(id: string, input: Input, timeoutMs?: number): Promise<ActorRef<Msg>>;
  /** Stops the app (intake first, http last) and says what had to be abandoned. Idempotent. */
  stop(reason?: string): Promise<ShutdownReport>;
}

/**
 * Starts the application tree (one_for_one, like the original Builder supervisor):
 * `http`, `heartbeat`, `farm` (when given), `workflows`, `intake`. Intake starts last, so nothing is
 * consumed before everything it feeds is running, and stops first, so shutdown begins by consuming no more,
 * then drains workflows (each flushes its own build log before its reply), sends the last heartbeat and closes the health endpoint.
 */
export async function startApp<Input, Msg>(options: AppOptions<Input, Msg>): Promise<AppHandle<Input, Msg>> {
  const log = options.log ?? nopLogger;
  const infra = (id: InfrastructureId): (() => AnyBehaviour) =>
    options.infrastructure?.[id] ?? placeholderActor;
  const tree = await startTree(
    supervisor({
      strategy: 'one_for_one',
      ...(options.intensity === undefined ? {} : { intensity: options.intensity }),
      ...(options.periodMs === undefined ? {} : { periodMs: options.periodMs }),
      children: [
        ...INFRASTRUCTURE.map((id) => ({ id, start: infra(id) })),
        // The build farm only where builds run: a tree without one (tests of the tree itself) has no engines.
        ...(options.infrastructure?.farm ? [{ id: 'farm', start: options.infrastructure.farm }] : []),
        { id: 'workflows', start: () => workflowsSupervisor(options) },
        { id: 'intake', start: infra('intake') },
      ],
    }),
    { id: 'app', log, ...(options.onExit ? { onExit: options.onExit } : {}) },
  );
  return {
    health: () => Promise.resolve(tree.health()),
    child: (id) => tree.child(id),
    startWorkflow: (id, input, timeoutMs) => {
      // Looked up each time: a restarted workflows supervisor is a new incarnation with a new ref.
      const workflows = tree.child('workflows') as ActorRef<WorkflowsMsg<Input, Msg>> | undefined;
      if (!workflows) return Promise.reject(new ActorStoppedError('app/workflows'));
      return startWorkflow(workflows, id, input, timeoutMs);
    },
    stop: (reason = 'stop requested') => {
      log.info('stopping', { reason });
      return tree.stop();
    },
  };
}
