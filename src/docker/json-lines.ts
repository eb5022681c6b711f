import { StringDecoder } from 'node:string_decoder';

/** One line of an Engine progress stream: parsed JSON, or the raw text when the line is not JSON. */
export type StreamLine =
  { readonly kind: 'json'; readonly value: unknown } | { readonly kind: 'text'; readonly text: string };

/** Longest line kept whole, in characters; a longer run without a newline is cut so memory stays bounded. */
export const MAX_LINE_LENGTH = 1 << 20;

function classify(raw: string): StreamLine | undefined {
  const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
  if (line.trim() === '') return undefined;
  try {
    return { kind: 'json', value: JSON.parse(line) as unknown };
  } catch {
    return { kind: 'text', text: line };
  }
}

/**
 * Splits a byte stream into newline-separated lines and parses each as JSON. Unlike docker-modem's
 * followProgress, which throws from inside a 'data' handler on the first non-JSON line, a line that is not
 * JSON is handed on as text. Lines and UTF-8 characters split across chunks are reassembled; a last line
 * without a newline still counts.
 */
export async function* jsonLines(
  source: AsyncIterable<Buffer | string>,
  maxLineLength: number = MAX_LINE_LENGTH,
): AsyncGenerator<StreamLine> {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  for await (const chunk of source) {
    pending += typeof chunk === 'string' ? chunk : decoder.write(chunk);
    const complete = pending.split('\n');
    pending = complete.pop() ?? '';
    for (const raw of complete) {
      const line = classify(raw);
      if (line) yield line;
    }
    if (pending.length > maxLineLength) {
      const line = classify(pending);
      pending = '';
      if (line) yield line;
    }
  }
  const last = classify(pending + decoder.end());
  if (last) yield last;
}
