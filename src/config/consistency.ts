import { DEFAULT_MIN_SECRET_LENGTH } from '../redact';
import type { BuilderConfig } from './index';
import { settings, type Setting, type SettingKey } from './settings';

/** The tags the build step pushes: `<image>:<commit>` and `<image>:latest`. */
const PUSHED_TAGS = 2;
/** Git operations before the build step that may each take GIT_TIMEOUT_SECONDS: the clone and the push. */
const GIT_OPERATIONS_BEFORE_BUILD = 2;

/** A rule between settings, with what breaking it does and how to mend it. */
interface Rule {
  readonly holds: (c: BuilderConfig) => boolean;
  readonly problem: (c: BuilderConfig) => string;
}

// Each value a rule names appears in its message, so an operator sees the figures that disagree.
const rules: readonly Rule[] = [
  {
    holds: (c) => c.stepTimeoutSeconds >= c.buildTimeoutSeconds + PUSHED_TAGS * c.pushTimeoutSeconds,
    problem: (c) =>
      `STEP_TIMEOUT_SECONDS (${c.stepTimeoutSeconds}) must cover a build and the push of two tags, ` +
      `BUILD_TIMEOUT_SECONDS + 2 × PUSH_TIMEOUT_SECONDS = ${c.buildTimeoutSeconds + PUSHED_TAGS * c.pushTimeoutSeconds}: ` +
      'raise STEP_TIMEOUT_SECONDS or lower the build or push timeout',
  },
  {
    holds: (c) =>
      c.workflowTimeoutSeconds >= c.stepTimeoutSeconds + GIT_OPERATIONS_BEFORE_BUILD * c.gitTimeoutSeconds,
    problem: (c) =>
      `WORKFLOW_TIMEOUT_SECONDS (${c.workflowTimeoutSeconds}) must cover the build step after the checkout and ` +
      `the template push, STEP_TIMEOUT_SECONDS + 2 × GIT_TIMEOUT_SECONDS = ${c.stepTimeoutSeconds + GIT_OPERATIONS_BEFORE_BUILD * c.gitTimeoutSeconds}: ` +
      'raise WORKFLOW_TIMEOUT_SECONDS or lower the step or git timeout',
  },
];

/**
 * Settings that are each valid but disagree with one another: a step timeout that would cut a build short
 * before its own timeout could say why, a workflow timeout that ends a workflow inside its build step. Empty
 * when they agree. The commands refuse such a configuration at start.
 */
export function settingConflicts(config: BuilderConfig): string[] {
  return rules.filter((rule) => !rule.holds(config)).map((rule) => rule.problem(config));
}

/**
 * What is allowed but probably not meant, for a warning at start: a secret too short to be masked in logs; a
 * shutdown grace shorter than one Manager request, which leaves the stopped workflows' last reports (a save, a
 * reply) to be cut off during the drain; and a finish budget shorter than one Manager request, which a finish
 * meeting a Manager lookup (the reply's exchange, looked up again every five minutes) can outlast, so that its
 * request is run again.
 */
export function settingWarnings(config: BuilderConfig): string[] {
  const short = (Object.entries(settings) as [SettingKey, Setting][])
    .filter(([key, s]) => {
      const value = config[key];
      return s.secret && typeof value === 'string' && value.length < DEFAULT_MIN_SECRET_LENGTH;
    })
    .map(
      ([, s]) =>
        `${s.env} is shorter than ${DEFAULT_MIN_SECRET_LENGTH} characters, too short to be masked in logs ` +
        'and reports: use a longer secret',
    );
  const grace =
    config.shutdownGraceSeconds < config.httpTimeoutSeconds
      ? [
          `SHUTDOWN_GRACE_SECONDS (${config.shutdownGraceSeconds}) is shorter than HTTP_TIMEOUT_SECONDS ` +
            `(${config.httpTimeoutSeconds}): on a stop, the reports of the workflows cut short may not reach ` +
            'the Manager before the drain ends; raise the grace or lower the HTTP timeout',
        ]
      : [];
  const finish =
    config.finishTimeoutSeconds < config.httpTimeoutSeconds
      ? [
          `FINISH_TIMEOUT_SECONDS (${config.finishTimeoutSeconds}) is shorter than HTTP_TIMEOUT_SECONDS ` +
            `(${config.httpTimeoutSeconds}): a workflow whose reply waits on a slow Manager lookup may end ` +
            'without it, and its request runs again; raise the finish budget or lower the HTTP timeout',
        ]
      : [];
  return [...short, ...grace, ...finish];
}
