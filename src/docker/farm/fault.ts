import { DockerUnreachableError, messageOf } from '../errors';

/**
 * The words a stopping engine answers the builds it holds with inside their build stream: its own, never a
 * Dockerfile's, whatever it answers next.
 */
const STOPPING_ENGINE = [/daemon is shutting down/i, /failed to update the store state of sandbox/i];

/**
 * The engine's failure behind `err`, an error of a build or push on engine `endpoint`, as a
 * {@link DockerUnreachableError} naming the engine; undefined when the error is the build's own. A connection
 * error is the engine's, and so is an error in a stopping engine's words. Any other error is the engine's
 * when the engine does not answer the probe `probe` makes right after it (resolving with why, or undefined
 * when it answers): a dockerd stopped gracefully closes its API first, then ends the builds it holds with
 * failures that look like their own (a `RUN` killed, exit code 137; a build context that "could not be sent").
 * A failed step of a healthy engine stays the build's.
 */
export async function engineFault(
  endpoint: string,
  err: unknown,
  probe: () => Promise<string | undefined>,
): Promise<DockerUnreachableError | undefined> {
  if (err instanceof DockerUnreachableError) return err;
  const message = messageOf(err);
  if (STOPPING_ENGINE.some((words) => words.test(message)))
    return new DockerUnreachableError(endpoint, `it is stopping: ${message}`);
  const down = await probe();
  if (down === undefined) return undefined;
  const why = down.replace(`docker engine ${endpoint} is unreachable: `, '');
  return new DockerUnreachableError(
    endpoint,
    `it stopped answering (${why}) and ended the build: ${message}`,
  );
}
