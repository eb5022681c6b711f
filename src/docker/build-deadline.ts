import { withDeadline } from '../registry/deadline';
import { DockerTimeoutError } from './errors';

/**
 * Runs one build, of either backend, until `timeoutMs` (default 1800000, BUILD_TIMEOUT_SECONDS) or the caller's
 * abort: running past it is a {@link DockerTimeoutError}.
 */
export function withBuildDeadline<T>(
  caller: AbortSignal,
  timeoutMs: number | undefined,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const ms = timeoutMs ?? 1_800_000;
  return withDeadline(caller, ms, () => new DockerTimeoutError('build', ms / 1000), work);
}
