// The supervision layer: OTP's contract on top of nact. Actors import from here, never from 'nact'.
export { defineActor } from './behaviour';
export { DEFAULT_WORKER_SHUTDOWN_MS } from './cell';
export type { ActorBehaviour, ActorContext, AnyBehaviour, ChildSpec, SpawnOptions } from './behaviour';
export type { RestartPolicy } from './children';
export { dynamicSupervisor, startChild, terminateChild } from './dynamic-supervisor';
export type {
  ChildReport,
  DynamicSupervisorMsg,
  DynamicSupervisorOptions,
  StartChildReply,
} from './dynamic-supervisor';
export * from './errors';
export { toFailure } from './failure';
export { installProcessGuard } from './guard';
export type { ProcessGuardOptions } from './guard';
export { ask, reply, send } from './messaging';
export type { AskMsg, AskRequest, ReplyOf } from './messaging';
export { defineStep, runStep } from './step';
export type { StepMsg } from './step';
export { supervisor } from './supervisor';
export type { SupervisorMsg, SupervisorOptions } from './supervisor';
export { startTree } from './tree';
export type { ShutdownReport, Tree, TreeOptions } from './tree';
export type * from './types';
