import { parse, type Type } from 'protobufjs';

/**
 * The BuildKit messages this builder reads or answers, from moby/buildkit's own definitions:
 * api/services/control/control.proto (the build trace), session/auth/auth.proto, session/secrets/secrets.proto
 * and grpc's health.proto. Fields the builder never reads (a vertex's progress group, a warning's source
 * ranges) are left out; the decoder skips them as unknown fields, which is how protobuf stays compatible with
 * newer engines.
 */
const DEFINITIONS = `
syntax = "proto3";
package google.protobuf;
message Timestamp { int64 seconds = 1; int32 nanos = 2; }

package moby.buildkit.v1;
message StatusResponse {
  repeated Vertex vertexes = 1;
  repeated VertexStatus statuses = 2;
  repeated VertexLog logs = 3;
  repeated VertexWarning warnings = 4;
}
message Vertex {
  string digest = 1;
  repeated string inputs = 2;
  string name = 3;
  bool cached = 4;
  google.protobuf.Timestamp started = 5;
  google.protobuf.Timestamp completed = 6;
  string error = 7;
}
message VertexStatus {
  string ID = 1;
  string vertex = 2;
  string name = 3;
  int64 current = 4;
  int64 total = 5;
  google.protobuf.Timestamp timestamp = 6;
  google.protobuf.Timestamp started = 7;
  google.protobuf.Timestamp completed = 8;
}
message VertexLog {
  string vertex = 1;
  google.protobuf.Timestamp timestamp = 2;
  int64 stream = 3;
  bytes msg = 4;
}
message VertexWarning {
  string vertex = 1;
  int64 level = 2;
  bytes short = 3;
  repeated bytes detail = 4;
  string url = 5;
}

package moby.filesync.v1;
message CredentialsRequest { string Host = 1; }
message CredentialsResponse { string Username = 1; string Secret = 2; }

package moby.buildkit.secrets.v1;
message GetSecretRequest { string ID = 1; map<string, string> annotations = 2; }
message GetSecretResponse { bytes data = 1; }

package grpc.health.v1;
message HealthCheckRequest { string service = 1; }
message HealthCheckResponse { int32 status = 1; }
`;

// One .proto text may hold one package only: each block is parsed into the same root.
const root = DEFINITIONS.split(/\n(?=package )/)
  .slice(1)
  .reduce((r, block) => parse(`syntax = "proto3";\n${block}`, r, { keepCase: true }).root, parse('').root);

function type(name: string): Type {
  return root.lookupType(name);
}

/** A protobuf Timestamp as decoded here. */
export interface Timestamp {
  readonly seconds: number;
  readonly nanos: number;
}

export interface Vertex {
  readonly digest: string;
  readonly inputs: readonly string[];
  readonly name: string;
  readonly cached: boolean;
  readonly started?: Timestamp | null;
  readonly completed?: Timestamp | null;
  readonly error: string;
}

export interface VertexStatus {
  readonly ID: string;
  readonly vertex: string;
  readonly name: string;
  readonly current: number;
  readonly total: number;
  readonly timestamp?: Timestamp | null;
  readonly started?: Timestamp | null;
  readonly completed?: Timestamp | null;
}

export interface VertexLog {
  readonly vertex: string;
  readonly timestamp?: Timestamp | null;
  /** 1 stdout, 2 stderr. */
  readonly stream: number;
  readonly msg: Buffer;
}

export interface VertexWarning {
  readonly vertex: string;
  readonly level: number;
  readonly short: Buffer;
  readonly detail: readonly Buffer[];
  readonly url: string;
}

/** One `moby.buildkit.trace` message of a BuildKit build stream. */
export interface StatusResponse {
  readonly vertexes: readonly Vertex[];
  readonly statuses: readonly VertexStatus[];
  readonly logs: readonly VertexLog[];
  readonly warnings: readonly VertexWarning[];
}

const statusResponse = type('moby.buildkit.v1.StatusResponse');
// int64 fields as numbers: log timestamps and byte counts stay far below 2^53.
const AS_PLAIN = { longs: Number, bytes: Buffer, arrays: true, defaults: true } as const;

/** Decodes the `aux` of a trace message (base64 protobuf); throws on bytes that are not a StatusResponse. */
export function decodeStatus(aux: string): StatusResponse {
  const message = statusResponse.decode(Buffer.from(aux, 'base64'));
  return statusResponse.toObject(message, AS_PLAIN) as StatusResponse;
}

/** A request or response message of the session's gRPC services, by its full protobuf name. */
export interface SessionMessages {
  'moby.filesync.v1.CredentialsRequest': { Host: string };
  'moby.filesync.v1.CredentialsResponse': { Username: string; Secret: string };
  'moby.buildkit.secrets.v1.GetSecretRequest': { ID: string };
  'moby.buildkit.secrets.v1.GetSecretResponse': { data: Buffer };
  'grpc.health.v1.HealthCheckRequest': { service: string };
  'grpc.health.v1.HealthCheckResponse': { status: number };
}

export function decodeMessage<K extends keyof SessionMessages>(
  name: K,
  bytes: Uint8Array,
): SessionMessages[K] {
  const t = type(name);
  return t.toObject(t.decode(bytes), AS_PLAIN) as SessionMessages[K];
}

export function encodeMessage<K extends keyof SessionMessages>(name: K, value: SessionMessages[K]): Buffer {
  const t = type(name);
  return Buffer.from(t.encode(t.fromObject(value)).finish());
}

/** A StatusResponse to encode: fields left out take protobuf's defaults. */
export interface StatusInput {
  readonly vertexes?: readonly Partial<Vertex>[];
  readonly statuses?: readonly Partial<VertexStatus>[];
  readonly logs?: readonly Partial<VertexLog>[];
  readonly warnings?: readonly Partial<VertexWarning>[];
}

/** Encodes a StatusResponse as a trace message's `aux`: for tests and benchmarks that play an engine's trace. */
export function encodeStatus(value: StatusInput): string {
  return Buffer.from(statusResponse.encode(statusResponse.fromObject(value)).finish()).toString('base64');
}
