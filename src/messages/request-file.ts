import { atom, decode, fromJson, mapOf, tuple, type Term } from '../etf';
import { InvalidRequestError } from './errors';
import { parseBuildRequest, type ReceivedBuildRequest } from './build-request';

// The two fields the Elixir side holds as atoms, and the two it holds as tuples: a JSON request writes them as
// a string and as `[mega, sec, micro]`, and they travel as the orchestrator would have sent them.
const ATOM_FIELDS = new Set(['current_step']);
const TIMESTAMP_FIELDS = new Set(['workflow_start_time', 'step_time']);
const ETF_VERSION = 131;

function fieldTerm(key: string, value: unknown): Term {
  if (ATOM_FIELDS.has(key) && typeof value === 'string') return atom(value);
  if (TIMESTAMP_FIELDS.has(key) && Array.isArray(value) && value.length === 3) {
    return tuple(...value.map((v) => fromJson(v)));
  }
  return fromJson(value);
}

/**
 * The term a JSON build request stands for: an atom-keyed map, strings as binaries, `current_step` as an
 * atom, timestamps as tuples, JSON objects as binary-keyed maps (as Elixir's JSON decoder makes them).
 */
export function jsonRequestTerm(json: unknown): Term {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new InvalidRequestError([{ field: '(message)', message: 'must be a JSON object' }], null);
  }
  return mapOf(Object.fromEntries(Object.entries(json).map(([key, value]) => [key, fieldTerm(key, value)])));
}

/**
 * A build request from a file's bytes: Erlang terms (as taken off the queue) when it starts with the ETF
 * version byte, JSON otherwise. Throws `EtfDecodeError`, `SyntaxError` (bad JSON) or `InvalidRequestError`.
 */
export function parseRequestBytes(bytes: Buffer): ReceivedBuildRequest {
  const term = bytes[0] === ETF_VERSION ? decode(bytes) : jsonRequestTerm(JSON.parse(bytes.toString('utf8')));
  return parseBuildRequest(term);
}
