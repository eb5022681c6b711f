import { StringDecoder } from 'node:string_decoder';
import type { StatusResponse, Timestamp, Vertex, VertexLog, VertexStatus } from './proto';

/** Output lines of a failed step kept for the error message: enough for a compiler's or a test's last words. */
const TAIL_LINES = 10;

interface VertexState {
  /** `#<n>`: the step's number in this build's log, in the order the steps are first said; 0 until then. */
  n: number;
  name: string;
  started: Timestamp | undefined;
  announced: boolean;
  finished: boolean;
  readonly decoder: StringDecoder;
  partial: string;
  readonly tail: string[];
  readonly statusesDone: Set<string>;
}

function seconds(t: Timestamp): number {
  return t.seconds + t.nanos / 1e9;
}

function elapsed(from: Timestamp | undefined, to: Timestamp | null | undefined, digits: number): string {
  return (from && to ? Math.max(0, seconds(to) - seconds(from)) : 0).toFixed(digits);
}

function bytes(n: number): string {
  if (n < 1024) return `${n}B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)}kB`;
  return `${(n / 1024 / 1024).toFixed(1)}MB`;
}

/**
 * Turns the BuildKit trace of one build (the `StatusResponse` messages, which repeat a vertex every time it
 * changes) into the plain build log operators read from the classic builder, in the words of
 * `docker build --progress=plain`: `#5 [2/3] RUN make` when a step starts, `#5 0.352 <output line>` for its
 * output with the seconds since it started, `#5 CACHED`, `#5 DONE 1.2s`, `#5 ERROR: <why>`, and finished
 * sub-tasks such as `#9 naming to <tag> done`. Every line is said once. The last output lines of a failed step
 * are kept for the build's error message.
 */
export class BuildKitTrace {
  private readonly vertices = new Map<string, VertexState>();
  private announced = 0;
  private failed: VertexState | undefined;

  constructor(private readonly onLine: (line: string) => void) {}

  /** Takes one decoded trace message. */
  take(status: StatusResponse): void {
    for (const vertex of status.vertexes) this.vertex(vertex);
    for (const s of status.statuses) this.status(s);
    for (const log of status.logs) this.log(log);
    for (const warning of status.warnings) {
      const state = this.state(warning.vertex);
      this.announce(state);
      this.onLine(`#${state.n} WARNING: ${warning.short.toString('utf8')}`);
      for (const detail of warning.detail) this.onLine(`#${state.n} ${detail.toString('utf8')}`);
    }
  }

  /** Says unterminated output lines, if the stream ended inside one. */
  end(): void {
    for (const state of this.vertices.values()) this.flush(state);
  }

  /**
   * The daemon's error for the build with the name and last output lines of the step that failed, so that
   * the event log says why a `RUN` failed without the whole build log.
   */
  describeFailure(daemonMessage: string): string {
    const failed = this.failed;
    if (!failed) return daemonMessage;
    this.flush(failed);
    if (failed.tail.length === 0) return `${daemonMessage}\n > ${failed.name}`;
    return `${daemonMessage}\n > ${failed.name}:\n${failed.tail.join('\n')}`;
  }

  private state(digest: string): VertexState {
    let state = this.vertices.get(digest);
    if (!state) {
      state = {
        n: 0,
        name: digest,
        started: undefined,
        announced: false,
        finished: false,
        decoder: new StringDecoder('utf8'),
        partial: '',
        tail: [],
        statusesDone: new Set(),
      };
      this.vertices.set(digest, state);
    }
    return state;
  }

  private announce(state: VertexState): void {
    if (state.announced) return;
    state.announced = true;
    state.n = ++this.announced;
    this.onLine(`#${state.n} ${state.name}`);
  }

  private vertex(v: Vertex): void {
    const state = this.state(v.digest);
    if (v.name) state.name = v.name;
    state.started ??= v.started ?? undefined;
    // A vertex is sent before it starts (with its inputs): it is said once it runs or is found in the cache.
    if (!v.started && !v.cached && !v.error) return;
    this.announce(state);
    if (state.finished) return;
    if (v.error) {
      this.flush(state);
      state.finished = true;
      this.failed ??= state;
      this.onLine(`#${state.n} ERROR: ${v.error}`);
    } else if (v.cached) {
      state.finished = true;
      this.onLine(`#${state.n} CACHED`);
    } else if (v.completed) {
      this.flush(state);
      state.finished = true;
      this.onLine(`#${state.n} DONE ${elapsed(state.started, v.completed, 1)}s`);
    }
  }

  private status(s: VertexStatus): void {
    const state = this.state(s.vertex);
    if (!s.completed || state.statusesDone.has(s.ID)) return;
    state.statusesDone.add(s.ID);
    this.announce(state);
    const size = s.total > 0 || s.current > 0 ? ` ${bytes(s.current)}` : '';
    this.onLine(`#${state.n} ${s.name || s.ID}${size} done`);
  }

  private log(log: VertexLog): void {
    const state = this.state(log.vertex);
    this.announce(state);
    const lines = (state.partial + state.decoder.write(log.msg)).split('\n');
    state.partial = lines.pop() ?? '';
    const at = log.timestamp ? elapsed(state.started, log.timestamp, 3) : undefined;
    for (const line of lines) this.output(state, line, at);
  }

  private flush(state: VertexState): void {
    const rest = state.partial + state.decoder.end();
    state.partial = '';
    if (rest !== '') this.output(state, rest, undefined);
  }

  private output(state: VertexState, raw: string, at: string | undefined): void {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    state.tail.push(line);
    if (state.tail.length > TAIL_LINES) state.tail.shift();
    this.onLine(at === undefined ? `#${state.n} ${line}` : `#${state.n} ${at} ${line}`);
  }
}
