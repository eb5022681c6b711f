export {
  ManagerClient,
  type CallOptions,
  type ManagerClientOptions,
  type SystemEventOutcome,
} from './client';
export { ManagerAuthError, ManagerError, ManagerUnavailableError, type HttpMethod } from './errors';
export type {
  Broker,
  BrokerConnectionRecord,
  BrokerRestriction,
  Exchange,
  ModuleRegistration,
  SystemComponent,
  SystemEvent,
  SystemEventSeverity,
  Workflow,
  WorkflowUpdate,
} from './resources';
