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
 * Reads an Engine build or push stream to its end. JSON objects go to `onMessage`, lines that are not JSON to
 * `onText` (they are tolerated, not fatal). An in-band `errorDetail`/`error` is returned so that the caller
 * fails the step with the daemon's message; docker-modem's followProgress would report success here.
 */
export async function followStream(
  res: IncomingMessage,
  label: string,
  signal: AbortSignal,
  onMessage: (message: EngineMessage) => void,
  onText: (line: string) => void,
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
      if (line.kind === 'text') onText(line.text);
      else if (typeof line.value !== 'object' || line.value === null) onText(JSON.stringify(line.value));
      else {
        const message = line.value as EngineMessage;
        error ??= message.errorDetail?.message ?? message.error;
        onMessage(message);
      }
    } catch (err) {
      // Closing the response is what makes the daemon stop the build or push it belongs to.
      res.destroy();
      throw err;
    }
  }
}
