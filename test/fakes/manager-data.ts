/**
 * The fake Manager's records and their rules, as protocol §3.3–3.4 describes the real Manager's: computed
 * exchange routing keys here, and the rules of the writes (module registration, workflow saves, system events)
 * from scripts/fake-manager-rules.js, which scripts/fake-manager.js applies too.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as Rules from '../../scripts/fake-manager-rules.js';

export type { Answer, Row, StoredEvent } from '../../scripts/fake-manager-rules.js';
type Row = Rules.Row;

const RULES = 'scripts/fake-manager-rules.js';

/**
 * Loads the rules by path, from the first folder above this file that has them: the soak bench runs this file
 * compiled under dist-bench/, where the compiler copies no JavaScript, so a relative import would miss them.
 */
function loadRules(): typeof Rules {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const file = path.join(dir, RULES);
    if (fs.existsSync(file)) return createRequire(__filename)(file) as typeof Rules;
    if (path.dirname(dir) === dir) throw new Error(`${RULES} not found above ${__dirname}`);
  }
}

export const { registerModule, updateWorkflow, createSystemEvent, rfc1123, errors } = loadRules();

export interface SeedBroker {
  id: number;
  name: string;
  failover_broker_id?: number | null;
}

export interface SeedConnection {
  id: number;
  messaging_broker_id: number;
  username: string | null;
  password: string | null;
  host: string;
  port?: number | string | null;
  virtual_host?: string | null;
}

export interface SeedExchange {
  id: number;
  name: string;
  routing_key_fragment: string;
  parent_exchange_id?: number | null;
  failover_exchange_id?: number | null;
}

export interface SeedRestriction {
  id: number;
  messaging_exchange_id: number;
  messaging_broker_id: number;
}

export interface SeedSystemComponent {
  id: number;
  type: string;
  messaging_exchange_id: number | null;
}

/** What the fake Manager starts with. Everything is optional; ids are compared as strings. */
export interface FakeManagerSeed {
  /** Default `builder-client`. */
  clientId?: string;
  /** Default `s3cr3t-client-secret`. */
  clientSecret?: string;
  /** `expires_in` of issued tokens, seconds. Default 3600. */
  tokenTtlSeconds?: number;
  brokers?: SeedBroker[];
  connections?: SeedConnection[];
  exchanges?: SeedExchange[];
  restrictions?: SeedRestriction[];
  workflows?: (Row & { id: string })[];
  systemComponents?: SeedSystemComponent[];
}

const sameId = (a: unknown, b: unknown): boolean =>
  (typeof a === 'string' || typeof a === 'number') && String(a) === String(b);

/** An exchange as GET returns it: `routing_key` joins the fragments root first, `root_exchange_name` is the top. */
export function exchangeView(exchanges: readonly SeedExchange[], id: string): Row | undefined {
  const exchange = exchanges.find((e) => sameId(e.id, id));
  if (!exchange) return undefined;
  const chain: SeedExchange[] = [];
  for (let e: SeedExchange | undefined = exchange; e;) {
    chain.unshift(e);
    const parent: number | null | undefined = e.parent_exchange_id;
    e = parent === null || parent === undefined ? undefined : exchanges.find((p) => sameId(p.id, parent));
  }
  return {
    failover_exchange_id: null,
    parent_exchange_id: null,
    ...exchange,
    routing_key: chain.map((e) => e.routing_key_fragment).join('.'),
    root_exchange_name: chain[0]?.name,
    inserted_at: rfc1123(0),
    updated_at: rfc1123(0),
  };
}

/** The rows of `rows` whose `field` equals `id`. */
export function rowsWhere<T extends object>(rows: readonly T[], field: keyof T, id: string): T[] {
  return rows.filter((row) => sameId(row[field], id));
}
