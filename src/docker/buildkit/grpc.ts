import type { ServerHttp2Stream } from 'node:http2';

/** gRPC status codes this server answers with (grpc/codes). */
export const GrpcStatus = { OK: 0, NOT_FOUND: 5, INTERNAL: 13, UNIMPLEMENTED: 12 } as const;

/** A failed call: the status code and message the engine's gRPC client gets in the trailers. */
export class GrpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** A unary method: the request message's bytes in, the response message's bytes out. */
export type UnaryHandler = (request: Buffer) => Buffer | Promise<Buffer>;

/** One message in gRPC's framing over HTTP/2: a compressed flag (0), a 4-byte length, the bytes. */
export function frame(message: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(message.length, 1);
  return Buffer.concat([header, message]);
}

/** The one message of a unary request body; the engine never compresses (no grpc-encoding is negotiated). */
export function unframe(body: Buffer): Buffer {
  if (body.length < 5) throw new GrpcError(GrpcStatus.INTERNAL, 'the request holds no gRPC message');
  if (body[0] !== 0) throw new GrpcError(GrpcStatus.UNIMPLEMENTED, 'compressed messages are not accepted');
  const length = body.readUInt32BE(1);
  if (body.length !== 5 + length) throw new GrpcError(GrpcStatus.INTERNAL, 'the gRPC message is truncated');
  return body.subarray(5);
}

// grpc-message is percent-encoded (the gRPC HTTP/2 protocol spec).
const grpcMessage = (text: string): string => encodeURIComponent(text);

/**
 * Serves one gRPC call on an HTTP/2 stream: reads the request, runs the method found by `:path`, and answers
 * with the response and `grpc-status: 0` in the trailers, or a trailers-only answer with the error's status.
 * Methods not in `methods` are UNIMPLEMENTED, which BuildKit's clients take as "this session does not offer
 * that" (e.g. the token authority, after which they ask for plain credentials).
 */
export function serveCall(
  stream: ServerHttp2Stream,
  path: string,
  methods: ReadonlyMap<string, UnaryHandler>,
): void {
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  stream.on('error', () => undefined);
  stream.on('end', () => {
    void (async () => {
      try {
        const handler = methods.get(path);
        if (!handler) throw new GrpcError(GrpcStatus.UNIMPLEMENTED, `unknown method ${path}`);
        const response = await handler(unframe(Buffer.concat(chunks)));
        if (stream.destroyed) return;
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': String(GrpcStatus.OK) }));
        stream.end(frame(response));
      } catch (err) {
        if (stream.destroyed) return;
        const code = err instanceof GrpcError ? err.code : GrpcStatus.INTERNAL;
        const message = err instanceof Error ? err.message : String(err);
        stream.respond(
          {
            ':status': 200,
            'content-type': 'application/grpc',
            'grpc-status': String(code),
            'grpc-message': grpcMessage(message),
          },
          { endStream: true },
        );
      }
    })();
  });
}
