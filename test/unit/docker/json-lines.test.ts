import { Readable } from 'node:stream';
import { jsonLines, type StreamLine } from '../../../src/docker/json-lines';

async function collect(chunks: (string | Buffer)[], max?: number): Promise<StreamLine[]> {
  const lines: StreamLine[] = [];
  for await (const line of jsonLines(Readable.from(chunks), max)) lines.push(line);
  return lines;
}

describe('jsonLines', () => {
  it('parses one JSON object per line', async () => {
    expect(await collect(['{"stream":"a"}\n{"stream":"b"}\n'])).toEqual([
      { kind: 'json', value: { stream: 'a' } },
      { kind: 'json', value: { stream: 'b' } },
    ]);
  });

  it('reassembles a line split across chunks', async () => {
    expect(await collect(['{"str', 'eam":"hel', 'lo"}\n'])).toEqual([
      { kind: 'json', value: { stream: 'hello' } },
    ]);
  });

  it('reassembles a UTF-8 character split across chunks', async () => {
    const bytes = Buffer.from('{"stream":"naïve ✓"}\n');
    const cut = bytes.indexOf(0xe2) + 1;
    expect(await collect([bytes.subarray(0, cut), bytes.subarray(cut)])).toEqual([
      { kind: 'json', value: { stream: 'naïve ✓' } },
    ]);
  });

  it('hands lines that are not JSON on as text instead of failing', async () => {
    expect(await collect(['{"stream":"a"}\n', 'plain text from a proxy\n', '{broken\n'])).toEqual([
      { kind: 'json', value: { stream: 'a' } },
      { kind: 'text', text: 'plain text from a proxy' },
      { kind: 'text', text: '{broken' },
    ]);
  });

  it('drops blank lines and carriage returns, and keeps a last line without a newline', async () => {
    expect(await collect(['\r\n{"a":1}\r\n\n', '{"b":2}'])).toEqual([
      { kind: 'json', value: { a: 1 } },
      { kind: 'json', value: { b: 2 } },
    ]);
  });

  it('cuts a run without newlines at the length cap so memory stays bounded', async () => {
    const lines = await collect(['x'.repeat(30), 'y'.repeat(30), '\n'], 40);
    expect(lines).toEqual([{ kind: 'text', text: 'x'.repeat(30) + 'y'.repeat(30) }]);
    const capped = await collect(['x'.repeat(50), 'tail\n'], 40);
    expect(capped).toEqual([
      { kind: 'text', text: 'x'.repeat(50) },
      { kind: 'text', text: 'tail' },
    ]);
  });
});
