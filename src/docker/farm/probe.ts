import { withDeadline } from '../../registry/deadline';
import { connectEngine, type EngineFlavour, type EngineOptions } from '../engine';
import { dial, modemFor, readText } from '../engine-call';
import { DockerUnreachableError, messageOf } from '../errors';
import type { EngineSpec } from './hosts';

/** What a probe learnt: the engine answers, with the API version to speak, or why it does not. Plain data. */
export type ProbeResult =
  | { readonly ok: true; readonly apiVersion: string; readonly flavour: EngineFlavour }
  | { readonly ok: false; readonly error: string };

/** A known engine's version and flavour, which a `/_ping` alone does not re-check. */
export type KnownVersion = Extract<ProbeResult, { ok: true }>;

/**
 * Probes one engine: `GET /_ping` when its API version is already known, else `GET /version` (which also
 * negotiates it, as for any connection), each on a new connection. Never throws: a failure is a result naming
 * the engine, for the breaker and `/healthz`.
 */
export async function probeEngine(
  spec: EngineSpec,
  known: KnownVersion | undefined,
  options: EngineOptions,
  signal: AbortSignal,
): Promise<ProbeResult> {
  try {
    if (!known) {
      const engine = await connectEngine(spec, { ...options, newConnections: true }, { signal });
      return { ok: true, apiVersion: engine.apiVersion, flavour: engine.flavour };
    }
    const timeoutMs = options.requestTimeoutMs ?? 30_000;
    const onTimeout = () =>
      new DockerUnreachableError(spec.endpoint, `no answer to /_ping within ${timeoutMs / 1000} s`);
    await withDeadline(signal, timeoutMs, onTimeout, async (deadline) => {
      const modem = modemFor(spec.address, undefined, spec.tls, true);
      const res = await dial(modem, spec.endpoint, { method: 'GET', path: '/_ping' }, deadline);
      const body = await readText(res, spec.endpoint, deadline);
      if (res.statusCode !== 200)
        throw new DockerUnreachableError(spec.endpoint, `/_ping answered HTTP ${res.statusCode}: ${body}`);
    });
    return known;
  } catch (err) {
    return { ok: false, error: messageOf(err) };
  }
}
