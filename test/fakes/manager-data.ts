/**
 * The fake Manager's records and their rules, as protocol §3.3–3.4 describes the real Manager's: computed
 * exchange routing keys, module upsert by hostname, the partial-PUT quirk of workflows and the one-hour
 * uniqueness window of system events.
 */

export type Row = Record<string, unknown>;

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

const rfc1123 = (ms: number): string => new Date(ms).toUTCString();

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

/** Module registration rules: the four fields are required, and `workload: null` is a 400 (§3.4.3). */
export function moduleProblems(body: Row): string[] {
  return ['hostname', 'type', 'status', 'workload'].filter(
    (field) => body[field] === undefined || body[field] === null || body[field] === '',
  );
}

/** A PUT body applied to a workflow: a missing `workflow_completed` becomes false (§3.4.5 quirk). */
export function appliedWorkflow(existing: Row, body: Row, now: number): Row {
  return {
    ...existing,
    ...body,
    workflow_completed: body.workflow_completed ?? false,
    updated_at: rfc1123(now),
  };
}

export interface StoredEvent {
  body: Row;
  at: number;
}

const hourMs = 3_600_000;

/** Whether a unique event duplicates one of `events`: same type within an hour and equal (or null) data. */
export function duplicatesEvent(events: readonly StoredEvent[], body: Row, now: number): boolean {
  const data = JSON.stringify(body.data ?? null);
  return events.some(
    (e) =>
      e.body.type === body.type &&
      now - e.at < hourMs &&
      (data === 'null' ||
        e.body.data === null ||
        e.body.data === undefined ||
        JSON.stringify(e.body.data) === data),
  );
}
