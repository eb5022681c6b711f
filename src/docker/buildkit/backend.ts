import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from '../../log';
import { parseEndpoint } from '../endpoint';
import type { Engine } from '../engine';
import { withRequestDeadline } from '../engine';
import { dial, readText } from '../engine-call';

/** Which builder runs a build: `auto` lets the engine's answers decide. */
export type BuilderBackend = 'auto' | 'buildkit' | 'classic';

/** The lowest Engine API version that takes `POST /build?version=2` (Docker 18.09). */
const BUILDKIT_API = [1, 39] as const;

function atLeast(version: string, [major, minor]: readonly [number, number]): boolean {
  const [a = 0, b = 0] = version.split('.').map(Number);
  return a > major || (a === major && b >= minor);
}

/**
 * What `auto` picks for an engine from its `/_ping` headers: the builder its operator made the default
 * (`Builder-Version: 2` BuildKit, `1` classic, as the docker CLI reads it); without that header, BuildKit
 * where the negotiated API takes it and the engine runs Linux (Windows engines answer `version=2` with an
 * error). podman's compatible API has no BuildKit, and the session is not opened over TLS yet, so `https://`
 * engines get the classic builder too.
 */
export function backendFor(engine: Engine, ping: IncomingHttpHeaders): 'buildkit' | 'classic' {
  if (engine.flavour === 'podman') return 'classic';
  const endpoint = parseEndpoint(engine.endpoint);
  if (endpoint.kind === 'tcp' && endpoint.protocol === 'https') return 'classic';
  const declared = ping['builder-version'];
  if (declared === '2') return 'buildkit';
  if (declared === '1') return 'classic';
  if (ping.ostype !== undefined && ping.ostype !== 'linux') return 'classic';
  return atLeast(engine.apiVersion, BUILDKIT_API) ? 'buildkit' : 'classic';
}

/** The backend of one build: `setting` itself, or for `auto` the engine's answer to `GET /_ping`. */
export async function chooseBackend(
  engine: Engine,
  setting: BuilderBackend,
  signal: AbortSignal,
  log?: Logger,
): Promise<'buildkit' | 'classic'> {
  if (setting !== 'auto') return setting;
  const ping = await withRequestDeadline(engine, signal, async (deadline) => {
    const res = await dial(engine.modem, engine.endpoint, { method: 'GET', path: '/_ping' }, deadline);
    await readText(res, engine.endpoint, deadline);
    return res.headers;
  });
  const backend = backendFor(engine, ping);
  log?.debug('builder backend chosen', { endpoint: engine.endpoint, backend, apiVersion: engine.apiVersion });
  return backend;
}
