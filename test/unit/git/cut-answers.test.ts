import type { GitHttpResponse } from 'isomorphic-git';
import { watchAnswers } from '../../../src/git/cut-answers';

type Body = NonNullable<GitHttpResponse['body']>;

/** A body that yields `chunks`, then breaks off with `error` when one is given, else ends. */
function body(chunks: readonly string[], error?: Error): Body & { closed: boolean } {
  let next = 0;
  const it = {
    closed: false,
    next: () => {
      if (next < chunks.length)
        return Promise.resolve({ done: false as const, value: Buffer.from(chunks[next++]!) });
      return error === undefined
        ? Promise.resolve({ done: true as const, value: undefined })
        : Promise.reject(error);
    },
    return: () => {
      it.closed = true;
      return Promise.resolve({ done: true as const, value: undefined });
    },
    [Symbol.asyncIterator]: () => it,
  };
  return it;
}

const answering = (answer: Body) => ({
  request: () =>
    Promise.resolve({ url: 'http://git.test/r.git', statusCode: 200, statusMessage: 'OK', body: answer }),
});

async function readAll(answer: Body): Promise<string> {
  let text = '';
  for await (const chunk of answer) text += Buffer.from(chunk).toString();
  return text;
}

describe('the answers of one git attempt', () => {
  it('pass through unchanged, and report no cut when every body ended', async () => {
    const answers = watchAnswers(answering(body(['001e# service', '0000'])));
    const response = await answers.http.request({ url: 'http://git.test/r.git/info/refs' });

    expect(await readAll(response.body!)).toBe('001e# service0000');
    expect(answers.cut()).toBeUndefined();
    expect(() => answers.throwIfCut()).not.toThrow();
  });

  it('report the error a body broke off with, even after the reader swallowed it', async () => {
    const reset = Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
    const answers = watchAnswers(answering(body(['001e# service'], reset)));
    const response = await answers.http.request({ url: 'http://git.test/r.git/info/refs' });

    await expect(readAll(response.body!)).rejects.toBe(reset);
    expect(answers.cut()).toBe(reset);
    expect(() => answers.throwIfCut()).toThrow(reset);
  });

  it('close the stream when the reader gives up on a body early', async () => {
    const answer = body(['a', 'b']);
    const response = await watchAnswers(answering(answer)).http.request({ url: 'http://git.test/r.git' });
    for await (const chunk of response.body!) if (chunk.length > 0) break;

    expect(answer.closed).toBe(true);
  });
});
