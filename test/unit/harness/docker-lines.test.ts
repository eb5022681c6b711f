import { Readable } from 'node:stream';
import { inBandError, readJsonLines } from '../../harness/docker';

describe('reading a docker JSON-lines stream', () => {
  it('joins lines cut across chunks and keeps a line that is not JSON as raw text', async () => {
    const chunks = [
      '{"stream":"Step 1/2 : FROM busybox"}\n{"str',
      'eam":" ---> abc"}\n',
      'not json\n',
      '{"aux":{"ID":"sha256:1"}}',
    ];

    const lines = await readJsonLines(Readable.from(chunks));

    expect(lines).toEqual([
      { stream: 'Step 1/2 : FROM busybox' },
      { stream: ' ---> abc' },
      { raw: 'not json' },
      { aux: { ID: 'sha256:1' } },
    ]);
  });

  it('decodes a UTF-8 character split between two chunks', async () => {
    const bytes = Buffer.from('{"stream":"café"}\n');
    const cut = bytes.indexOf(0xa9);

    const lines = await readJsonLines(Readable.from([bytes.subarray(0, cut), bytes.subarray(cut)]));

    expect(lines).toEqual([{ stream: 'café' }]);
  });

  it('names the first in-band error by its errorDetail message', () => {
    const error = inBandError([
      { stream: 'Step 2/2 : RUN exit 3' },
      { errorDetail: { code: 3, message: 'returned a non-zero code: 3' }, error: 'short form' },
      { error: 'a later error' },
    ]);

    expect(error).toBe('returned a non-zero code: 3');
  });

  it('finds no error in a stream without one', () => {
    expect(inBandError([{ stream: 'Successfully built 1' }, { raw: 'warning' }])).toBeUndefined();
  });
});
