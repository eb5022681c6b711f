import {
  decodeStatus,
  encodeStatus,
  type StatusInput,
  type StatusResponse,
} from '../../../src/docker/buildkit/proto';
import { BuildKitTrace } from '../../../src/docker/buildkit/trace';

const at = (seconds: number, nanos = 0) => ({ seconds, nanos });
const RUN = 'sha256:run';
const FROM = 'sha256:from';

/** A trace message as the engine sends it: encoded, then decoded by the builder. */
function message(value: StatusInput): StatusResponse {
  return decodeStatus(encodeStatus(value));
}

function traced(...messages: StatusInput[]): { lines: string[]; trace: BuildKitTrace } {
  const lines: string[] = [];
  const trace = new BuildKitTrace((line) => lines.push(line));
  for (const m of messages) trace.take(message(m));
  return { lines, trace };
}

const log = (vertex: string, text: string | Buffer, timestamp = at(101, 250_000_000)) => ({
  vertex,
  stream: 1,
  msg: Buffer.isBuffer(text) ? text : Buffer.from(text),
  timestamp,
});

describe('BuildKitTrace', () => {
  it('says a step once when it starts, its output with the seconds since then, and DONE with its duration', () => {
    const { lines } = traced(
      { vertexes: [{ digest: RUN, name: '[2/2] RUN make' }] },
      { vertexes: [{ digest: RUN, name: '[2/2] RUN make', started: at(100) }] },
      { logs: [log(RUN, 'compiling\nlinking\n')] },
      {
        vertexes: [
          { digest: RUN, name: '[2/2] RUN make', started: at(100), completed: at(102, 500_000_000) },
        ],
      },
      {
        vertexes: [
          { digest: RUN, name: '[2/2] RUN make', started: at(100), completed: at(102, 500_000_000) },
        ],
      },
    );
    expect(lines).toEqual(['#1 [2/2] RUN make', '#1 1.250 compiling', '#1 1.250 linking', '#1 DONE 2.5s']);
  });

  it('numbers steps in the order they are said and never says a step that neither ran nor was cached', () => {
    const { lines } = traced(
      {
        vertexes: [
          { digest: 'sha256:never', name: 'never runs' },
          { digest: RUN, name: 'second' },
        ],
      },
      { vertexes: [{ digest: FROM, name: 'first', cached: true }] },
      { vertexes: [{ digest: RUN, name: 'second', started: at(1), completed: at(1) }] },
    );
    expect(lines).toEqual(['#1 first', '#1 CACHED', '#2 second', '#2 DONE 0.0s']);
  });

  it('joins output lines split across messages, multi-byte characters included, and says the rest at the end', () => {
    const euro = Buffer.from('€');
    const { lines, trace } = traced(
      { vertexes: [{ digest: RUN, name: 'RUN', started: at(100) }] },
      { logs: [log(RUN, Buffer.concat([Buffer.from('price: '), euro.subarray(0, 2)]))] },
      { logs: [log(RUN, Buffer.concat([euro.subarray(2), Buffer.from('5\r\nno newline')]))] },
    );
    trace.end();
    expect(lines).toEqual(['#1 RUN', '#1 1.250 price: €5', '#1 no newline']);
  });

  it('says an error once and gives the failed step with its last ten output lines for the error message', () => {
    const output = Array.from({ length: 12 }, (_, i) => `line ${i + 1}`).join('\n');
    const { lines, trace } = traced(
      { vertexes: [{ digest: RUN, name: '[2/2] RUN ./test.sh', started: at(100) }] },
      { logs: [log(RUN, `${output}\n`)] },
      { vertexes: [{ digest: RUN, name: '[2/2] RUN ./test.sh', started: at(100), error: 'exit code: 1' }] },
      { vertexes: [{ digest: RUN, name: '[2/2] RUN ./test.sh', started: at(100), error: 'exit code: 1' }] },
    );
    expect(lines.filter((l) => l.includes('ERROR'))).toEqual(['#1 ERROR: exit code: 1']);
    const tail = Array.from({ length: 10 }, (_, i) => `line ${i + 3}`).join('\n');
    expect(trace.describeFailure('failed to solve: exit code: 1')).toBe(
      `failed to solve: exit code: 1\n > [2/2] RUN ./test.sh:\n${tail}`,
    );
  });

  it("leaves the daemon's message as it is when no step failed", () => {
    expect(traced().trace.describeFailure('Dockerfile parse error line 2')).toBe(
      'Dockerfile parse error line 2',
    );
  });

  it('says each finished sub-task once, with its size when it has one, and warnings with their details', () => {
    const { lines } = traced(
      { vertexes: [{ digest: RUN, name: 'exporting to image', started: at(1) }] },
      { statuses: [{ ID: 'exporting layers', vertex: RUN, started: at(1) }] },
      { statuses: [{ ID: 'exporting layers', vertex: RUN, started: at(1), completed: at(2) }] },
      { statuses: [{ ID: 'exporting layers', vertex: RUN, started: at(1), completed: at(2) }] },
      {
        statuses: [
          { ID: 'sha256:abc', name: 'extracting', vertex: RUN, current: 2048, total: 2048, completed: at(2) },
        ],
      },
      { warnings: [{ vertex: RUN, short: Buffer.from('legacy key'), detail: [Buffer.from('use ENV a=b')] }] },
    );
    expect(lines).toEqual([
      '#1 exporting to image',
      '#1 exporting layers done',
      '#1 extracting 2.0kB done',
      '#1 WARNING: legacy key',
      '#1 use ENV a=b',
    ]);
  });

  it('rejects bytes that are not a StatusResponse', () => {
    expect(() => decodeStatus(Buffer.from([0x0a, 0xff, 0xff, 0xff]).toString('base64'))).toThrow();
  });
});
