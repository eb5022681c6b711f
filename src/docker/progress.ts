import type { IncomingMessage } from 'node:http';
import { DockerUnreachableError } from './errors';
import { jsonLines, type StreamLine } from './json-lines';

/** One JSON message of a build or push stream (the fields this adapter reads). */
export interface EngineMessage {
  readonly stream?: string;
  readonly status?: string;
  readonly id?: string;
  readonly progressDetail?: { readonly current?: number; readonly total?: number };
  readonly error?: string;
  readonly errorDetail?: { readonly code?: number; readonly message?: string };
  readonly aux?: { readonly ID?: string; readonly Tag?: string; readonly Digest?: string };
}

/** What a whole build or push stream said, besides what its handlers saw. */
export interface StreamOutcome {
  /** The in-band error: the daemon answers 200 and reports a failed build or push as a message. */
  readonly error: string | undefined;
}

/**
 * A `status` message (pull or push progress) as one log line, `<layer>: <status>`. Byte-count updates of a
 * running transfer are left out: a layer sends hundreds of them and the build log wants the milestones.
 */
function statusLine(message: EngineMessage): string | undefined {
  if (message.status === undefined || message.progressDetail?.current !== undefined) return undefined;
  return message.id ? `${message.id}: ${message.status}` : message.status;
}

/**
 * Reads an Engine build or push stream to its end. JSON objects go to `onMessage`; their `status` lines, and
 * lines that are not JSON (tolerated, not fatal), go to `onLine`. An in-band `errorDetail`/`error` is
 * returned so that the caller fails the step with the daemon's message; docker-modem's followProgress would
 * report success here.
 */
export async function followStream(
  res: IncomingMessage,
  label: string,
  signal: AbortSignal,
  onMessage: (message: EngineMessage) => void,
  onLine: (line: string) => void,
): Promise<StreamOutcome> {
  const lines = jsonLines(res)[Symbol.asyncIterator]();
  let error: string | undefined;
  for (;;) {
    let next: IteratorResult<StreamLine>;
    try {
      next = await lines.next();
    } catch (err) {
      signal.throwIfAborted();
      const code = (err as { code?: unknown }).code;
      throw new DockerUnreachableError(label, `the connection broke mid-stream (${String(code ?? err)})`);
    }
    if (next.done) return { error };
    const line = next.value;
    try {
      if (line.kind === 'text') onLine(line.text);
      else if (typeof line.value !== 'object' || line.value === null) onLine(JSON.stringify(line.value));
      else {
        const message = line.value as EngineMessage;
        error ??= message.errorDetail?.message ?? message.error;
        const status = statusLine(message);
        if (status !== undefined) onLine(status);
        onMessage(message);
      }
    } catch (err) {
      // Closing the response is what makes the daemon stop the build or push it belongs to.
      res.destroy();
      throw err;
    }
  }
}
