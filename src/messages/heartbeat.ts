import { atom, encode, fromJson, mapOf, type Json } from '../etf';

/** The Overseer status event a module sends every 30 s (logical queue `system_modules`). */
export interface Heartbeat {
  /** The module's identity, unique per replica. */
  hostname: string;
  /** Default `active`. */
  status?: 'active' | 'inactive';
  /** Default `builder`. */
  type?: string;
  /** Default `[]`. The Overseer JSON-encodes it, so it holds JSON only. */
  workload?: readonly Json[];
  /**
   * The actor tree's health (states, restarts, last failures), sent along for whoever watches the heartbeats.
   * The Overseer forwards only the keys it knows, so an extra key changes nothing for it. Default: not sent.
   */
  health?: Json;
  /** The builder's version, for whoever watches the heartbeats; an extra key, like `health`. Default: not sent. */
  version?: string;
}

/**
 * `%{event_type: :status, status: :active, workload: [], hostname: "<host>", type: :builder}`: the Overseer
 * pattern-matches `event_type: :status`, so keys and those values are atoms.
 */
export function encodeHeartbeat(h: Heartbeat): Buffer {
  return encode(
    mapOf({
      event_type: atom('status'),
      status: atom(h.status ?? 'active'),
      workload: fromJson(h.workload ?? []),
      hostname: h.hostname,
      type: atom(h.type ?? 'builder'),
      ...(h.health === undefined || h.health === null ? {} : { health: fromJson(h.health) }),
      ...(h.version === undefined ? {} : { version: h.version }),
    }),
  );
}
