import type { GitHttpResponse, HttpClient } from 'isomorphic-git';

/**
 * isomorphic-git reads a git server's answers through a pkt-line reader that takes a body which broke off (the
 * connection reset mid-answer) for one that ended: it keeps the error to itself and goes on with what arrived. A
 * ref advertisement cut after its service line then reads as an empty repository, and the clone "succeeds" with
 * no refs at all (HEAD pointing at a branch that is not there); a ref listing cut before its first line reads as
 * a ref that does not exist. Only the pack itself is checked. So every answer of one attempt is watched here, and
 * the attempt judged by the cut rather than by whatever the library made of half an answer.
 */
export interface AnswerWatch {
  /** The client to hand to isomorphic-git: `http`, with every response body watched. */
  readonly http: HttpClient;
  /** The first error a response body broke off with, if one did. */
  cut(): unknown;
  /** Throws {@link cut} when a body broke off. */
  throwIfCut(): void;
}

export function watchAnswers(http: HttpClient): AnswerWatch {
  let first: { readonly error: unknown } | undefined;
  const broke = (error: unknown): void => {
    first ??= { error };
  };
  return {
    http: {
      request: async (request) => {
        const response = await http.request(request);
        return response.body === undefined ? response : { ...response, body: watched(response.body, broke) };
      },
    },
    cut: () => first?.error,
    throwIfCut: () => {
      if (first !== undefined) throw first.error;
    },
  };
}

type Body = NonNullable<GitHttpResponse['body']>;

function watched(body: Body, broke: (error: unknown) => void): Body {
  const inner = body[Symbol.asyncIterator]();
  const outer: Body = {
    next: () =>
      inner.next().catch((error: unknown) => {
        broke(error);
        throw error;
      }),
    // Giving up on a body early (isomorphic-git does once it has what it needs) must still close the stream.
    return: async (value?: unknown) =>
      (await inner.return?.(value)) ?? { done: true as const, value: undefined },
    [Symbol.asyncIterator]: () => outer,
  };
  return outer;
}
