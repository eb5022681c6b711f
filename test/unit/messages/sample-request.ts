import { atom, fromJson, map, tuple, type ErlMap, type MapEntry, type Term } from '../../../src/etf';

export const WORKFLOW_ID = 'aecc9150-6c0c-11e5-8b8a-0242ac110002';

/** The fields a build request must have (present and not nil). */
export const REQUIRED_FIELDS = [
  'id',
  'milestones',
  'current_step',
  'orchestration_queue_name',
  'workflow_orchestration_exchange_id',
  'workflow_orchestration_broker_id',
  'notifications_exchange_id',
  'notifications_broker_id',
] as const;

/** Where a request's reply and notifications go, as JSON: exchange and broker `1` for all. */
export const ROUTE_FIELDS = {
  orchestration_queue_name: 'workflow_orchestration',
  workflow_orchestration_exchange_id: '1',
  workflow_orchestration_broker_id: '1',
  notifications_exchange_id: '1',
  notifications_broker_id: '1',
} as const;

/** The 35 fields of a build request as the orchestrator sends them. */
export function requestFields(): Record<string, Term> {
  return {
    id: WORKFLOW_ID,
    workflow_id: null,
    deployment_repo: 'myorg/myapp_docker',
    deployment_repo_git_ref: 'master',
    source_repo: 'myorg/myapp',
    source_repo_git_ref: 'master',
    source_commit_hash: null,
    milestones: ['config', 'build', 'deploy'],
    current_step: atom('build'),
    elapsed_step_time: null,
    elapsed_workflow_time: '41 second(s)',
    workflow_duration: null,
    workflow_step_durations: fromJson({ config: '38 second(s)' }),
    workflow_error: false,
    workflow_completed: false,
    workflow_start_time: tuple(1444, 140992, 115862),
    step_time: tuple(1444, 141030, 482117),
    event_log: [`[OA][${WORKFLOW_ID}] Starting workflow...`],
    scheduled_start_time: null,
    execute_options: fromJson({ force_build: false }),
    force_build: false,
    build_messaging_exchange_id: null,
    deploy_messaging_exchange_id: null,
    orchestration_queue_name: 'workflow_orchestration',
    workflow_orchestration_exchange_id: '1',
    workflow_orchestration_broker_id: '1',
    notifications_exchange_id: '1',
    notifications_broker_id: '2',
    docker_build_etcd_token: '3c1d0bd1d7a34fb2aaf0b5b1bb1b3a42',
    etcd_token: null,
    deployable_units: null,
    notifications_config: fromJson({ hipchat: { room_names: ['Deployments'] } }),
    fleet_config: null,
    aws_config: null,
    ecs_task_definition: null,
  };
}

/** A request map with some fields changed; an `undefined` override removes the key. */
export function sampleRequest(
  overrides: Record<string, Term | undefined> = {},
  extra: MapEntry[] = [],
): ErlMap {
  const fields: Record<string, Term | undefined> = { ...requestFields(), ...overrides };
  const entries = Object.entries(fields).flatMap(([k, v]): MapEntry[] =>
    v === undefined ? [] : [[atom(k), v]],
  );
  return map([...entries, ...extra]);
}
