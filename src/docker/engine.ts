import type Modem from 'docker-modem';
import type { CallContext } from '../registry/call-context';
import { withDeadline } from '../registry/deadline';
import { parseEndpoint } from './endpoint';
import { dial, errorMessage, modemFor, readJson, readText, type EngineCall } from './engine-call';
import { DockerApiVersionError, DockerUnreachableError } from './errors';
import type { EngineSpec } from './farm/hosts';

/** The highest Engine API version the integration suite runs against (dockerd 20.10 and podman 4.3). */
export const TESTED_API_VERSION = '1.41';

/** The lowest Engine API version whose build, push, image inspect and delete calls this adapter relies on. */
export const MIN_API_VERSION = '1.24';

/** How to talk to an Engine endpoint. */
export interface EngineOptions {
  /**
   * Highest API version to speak ("major.minor"). Default {@link TESTED_API_VERSION}. Raise it for daemons
   * whose minimum is above it (Docker 29 accepts nothing below 1.44); the calls used here are unchanged
   * there.
   */
  readonly maxApiVersion?: string;
  /** Deadline of each short Engine call (version, list, delete), in milliseconds. Default 30000. */
  readonly requestTimeoutMs?: number;
  /**
   * Open a connection per call, never reusing one kept alive: what a probe needs to learn whether the engine
   * takes new work (see {@link modemFor}). Default false.
   */
  readonly newConnections?: boolean;
}

/** Which implementation answers: podman's Docker-compatible API differs in a few build details. */
export type EngineFlavour = 'docker' | 'podman';

/** A connected Engine: the endpoint with its negotiated API version. Plain data plus a stateless HTTP client. */
export interface Engine {
  /** The BUILD_HOSTS entry, used in messages. */
  readonly endpoint: string;
  readonly apiVersion: string;
  readonly flavour: EngineFlavour;
  readonly requestTimeoutMs: number;
  readonly modem: Modem;
}

interface VersionReply {
  ApiVersion?: unknown;
  MinAPIVersion?: unknown;
  Components?: { Name?: unknown }[];
}

function parseVersion(value: unknown): [number, number] | undefined {
  const match = typeof value === 'string' ? /^(\d+)\.(\d+)$/.exec(value) : null;
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

function compareVersions(a: [number, number], b: [number, number]): number {
  return a[0] - b[0] || a[1] - b[1];
}

function required(value: string): [number, number] {
  const parsed = parseVersion(value);
  if (!parsed) throw new RangeError(`API version ${JSON.stringify(value)} is not "major.minor"`);
  return parsed;
}

function negotiate(endpoint: string, reply: VersionReply, max: string): string {
  const daemonMax = parseVersion(reply.ApiVersion);
  if (!daemonMax) throw new DockerApiVersionError(endpoint, '/version reports no ApiVersion');
  const chosen = compareVersions(daemonMax, required(max)) < 0 ? daemonMax : required(max);
  const daemonMin = parseVersion(reply.MinAPIVersion) ?? chosen;
  const version = chosen.join('.');
  if (compareVersions(chosen, daemonMin) < 0) {
    throw new DockerApiVersionError(
      endpoint,
      `it needs API ${daemonMin.join('.')} or newer, this builder speaks up to ${max}`,
    );
  }
  if (compareVersions(chosen, required(MIN_API_VERSION)) < 0) {
    throw new DockerApiVersionError(
      endpoint,
      `it speaks up to API ${version}, this builder needs ${MIN_API_VERSION}`,
    );
  }
  return version;
}

/**
 * Connects to one Engine endpoint (a BUILD_HOSTS entry) and negotiates the API version once from the
 * unversioned `GET /version`: the lower of the daemon's maximum and ours, failing fast with
 * {@link DockerApiVersionError} when that is below the daemon's minimum. docker-modem does not negotiate
 * by itself; without a version every call would use whatever the daemon's newest API is.
 */
export async function connectEngine(
  target: string | Pick<EngineSpec, 'endpoint' | 'address' | 'tls'>,
  options: EngineOptions,
  ctx: CallContext,
): Promise<Engine> {
  const spec = typeof target === 'string' ? { endpoint: target, address: parseEndpoint(target) } : target;
  const { endpoint } = spec;
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  const maxApiVersion = options.maxApiVersion ?? TESTED_API_VERSION;
  required(maxApiVersion);
  const onTimeout = () =>
    new DockerUnreachableError(endpoint, `no answer within ${requestTimeoutMs / 1000} s`);
  return withDeadline(ctx.signal, requestTimeoutMs, onTimeout, async (signal) => {
    const res = await dial(
      modemFor(spec.address, undefined, spec.tls, options.newConnections),
      endpoint,
      { method: 'GET', path: '/version' },
      signal,
    );
    const reply = ((await readJson(res, endpoint, signal)) ?? {}) as VersionReply;
    const apiVersion = negotiate(endpoint, reply, maxApiVersion);
    const podman =
      res.headers['libpod-api-version'] !== undefined ||
      (reply.Components ?? []).some((c) => typeof c.Name === 'string' && /podman/i.test(c.Name));
    ctx.log?.debug('docker engine connected', { endpoint, apiVersion, podman });
    return engineFor(spec, { apiVersion, flavour: podman ? 'podman' : 'docker' }, requestTimeoutMs);
  });
}

/** The {@link Engine} of an endpoint whose API version is already known (from a probe of the farm). */
export function engineFor(
  spec: Pick<EngineSpec, 'endpoint' | 'address' | 'tls'>,
  version: { readonly apiVersion: string; readonly flavour: EngineFlavour },
  requestTimeoutMs: number,
): Engine {
  return {
    endpoint: spec.endpoint,
    apiVersion: version.apiVersion,
    flavour: version.flavour,
    requestTimeoutMs,
    modem: modemFor(spec.address, version.apiVersion, spec.tls),
  };
}

/** Runs one short Engine call under the engine's request deadline. */
export function withRequestDeadline<T>(
  engine: Engine,
  signal: AbortSignal,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const seconds = engine.requestTimeoutMs / 1000;
  const onTimeout = () => new DockerUnreachableError(engine.endpoint, `no answer within ${seconds} s`);
  return withDeadline(signal, engine.requestTimeoutMs, onTimeout, work);
}

/** A short Engine call answered with JSON; a non-2xx status is a {@link DockerEngineError}. */
export function engineJson(engine: Engine, call: EngineCall, signal: AbortSignal): Promise<unknown> {
  return withRequestDeadline(engine, signal, async (deadline) =>
    readJson(await dial(engine.modem, engine.endpoint, call, deadline), engine.endpoint, deadline),
  );
}

/** A short Engine call whose status the caller judges (e.g. 404 "already gone"); the daemon's message with it. */
export function engineStatus(
  engine: Engine,
  call: EngineCall,
  signal: AbortSignal,
): Promise<{ status: number; message: string }> {
  return withRequestDeadline(engine, signal, async (deadline) => {
    const res = await dial(engine.modem, engine.endpoint, call, deadline);
    const body = await readText(res, engine.endpoint, deadline);
    return { status: res.statusCode ?? 0, message: errorMessage(body) };
  });
}
