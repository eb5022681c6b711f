export { isTransient, transientStatus, transientText } from './transient';
export {
  retry,
  retryText,
  OutageError,
  DEFAULT_OUTAGE_BUDGET_MS,
  type Dependency,
  type OutageWatch,
  type RetryNotice,
  type RetryOptions,
  type RetryPolicy,
} from './retry';
