export type Row = Record<string, unknown>;

/** What a route answers: the status, a body sent as JSON, and the `Location` header. */
export interface Answer {
  status: number;
  body?: unknown;
  location?: string;
}

/** A stored system event and when it was stored, ms since the epoch. */
export interface StoredEvent {
  body: Row;
  at: number;
}

export function registerModule(
  rows: Map<string, Row>,
  exchangeId: string,
  body: unknown,
  now: number,
): Answer;
export function updateWorkflow(workflows: Map<string, Row>, id: string, body: unknown, now: number): Answer;
export function createSystemEvent(events: StoredEvent[], body: unknown, now: number): Answer;
export function parseRfc1123(text: unknown): number | undefined;
export function rfc1123(ms: number): string;
export function errors(...messages: Row[]): Row;
