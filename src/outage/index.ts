export { isTransient, transientStatus, transientText } from './transient';
export {
  retry,
  retryText,
  DEFAULT_OUTAGE_BUDGET_MS,
  type OutageWatch,
  type RetryNotice,
  type RetryOptions,
  type RetryPolicy,
} from './retry';
export { OutageError, type Dependency } from './errors';
