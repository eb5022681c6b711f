import { decode, toJson } from '../../../src/etf';
import { nopLogger } from '../../../src/log';
import { BuildLogStream } from '../../../src/service/build-log';

function recorder() {
  const batches: { workflow_id: string; logs: string[] }[] = [];
  return {
    batches,
    send: (payload: Buffer) => {
      batches.push(toJson(decode(payload)) as { workflow_id: string; logs: string[] });
      return Promise.resolve();
    },
  };
}

describe('the build log stream', () => {
  it('sends buffered lines in one numbered batch per flush, as an atom-keyed map', async () => {
    const { batches, send } = recorder();
    const stream = new BuildLogStream({ workflowId: 'wf-1', send, log: nopLogger, flushMs: 60_000 });
    stream.push('Step 1/2 : FROM busybox');
    stream.push('Step 2/2 : RUN true');
    await stream.flush();
    stream.push('Successfully built 1234');
    await stream.flush();
    expect(batches).toEqual([
      { workflow_id: 'wf-1', logs: ['[1] Step 1/2 : FROM busybox', '[2] Step 2/2 : RUN true'] },
      { workflow_id: 'wf-1', logs: ['[3] Successfully built 1234'] },
    ]);
  });

  it('sends on its own about once per interval', async () => {
    const { batches, send } = recorder();
    const stream = new BuildLogStream({ workflowId: 'wf-1', send, log: nopLogger, flushMs: 20 });
    stream.push('a');
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(batches).toEqual([{ workflow_id: 'wf-1', logs: ['[1] a'] }]);
  });

  it('cuts a build that talks too much off with one line and counts what it dropped', async () => {
    const { batches, send } = recorder();
    const stream = new BuildLogStream({
      workflowId: 'wf-1',
      send,
      log: nopLogger,
      maxLines: 2,
      maxLineLength: 5,
    });
    for (const line of ['one', 'two-is-long', 'three', 'four']) stream.push(line);
    await stream.flush();
    expect(batches[0]?.logs).toEqual(['[1] one', '[2] two-i…', '[3] ... output truncated after 2 lines']);
    expect(stream.droppedLines).toBe(2);
  });

  it('never fails or blocks the build when sending fails', async () => {
    const warnings: string[] = [];
    const log = { ...nopLogger, warn: (message: string) => void warnings.push(message) };
    const stream = new BuildLogStream({
      workflowId: 'wf-1',
      send: () => Promise.reject(new Error('broker gone')),
      log,
    });
    stream.push('line');
    await expect(stream.flush()).resolves.toBeUndefined();
    expect(warnings).toEqual(['build log lines could not be sent']);
  });
});
