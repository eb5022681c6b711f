import type { ErrorObject } from 'ajv';
import { isAtom, isMap, isTuple, mapGet, toJson, type ErlMap, type Json, type Term } from '../etf';
import type { BuildRequestFields } from './build-request-schema';
import { InvalidRequestError, type RequestIssue } from './errors';
import { buildRequest as validate, buildRequestFields } from './validators.generated';

/** A validated build request, field names as on the wire. */
export type BuildRequest = Omit<BuildRequestFields, 'force_build'> & {
  /** True only when the request said `true`, which is the only value that forces a build. */
  force_build: boolean;
};

export interface ReceivedBuildRequest {
  request: BuildRequest;
  /** The map exactly as received: the reply echoes it, unknown keys, atoms and tuples included. */
  term: ErlMap;
}

/** Where the reply to a request goes; all three fields are needed to send one. */
export interface ReplyRoute {
  orchestration_queue_name: string;
  workflow_orchestration_exchange_id: string;
  workflow_orchestration_broker_id: string;
}

/** The 35 keys of a build request, in the order of the schema. */
export const BUILD_REQUEST_FIELDS: ReadonlySet<string> = new Set(buildRequestFields);

// Timestamps are echoed to the orchestrator, which computes elapsed times from them and crashes on anything but
// a tuple; the JSON view shows tuples and lists alike, so this is checked on the term.
const TIMESTAMPS = ['workflow_start_time', 'step_time'];

function issueOf(e: ErrorObject): RequestIssue {
  if (e.keyword === 'required') return { field: String(e.params.missingProperty), message: 'is required' };
  const [field = '', ...inner] = e.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const where = inner.length > 0 ? `/${inner.join('/')} ` : '';
  const allowed = e.keyword === 'enum' ? `: ${(e.params.allowedValues as string[]).join(', ')}` : '';
  return { field, message: `${where}${e.message ?? 'is invalid'}${allowed}` };
}

/**
 * Validates a decoded build request and normalises it (atoms to strings, nil to defaults). Throws one
 * {@link InvalidRequestError} listing every bad field. Only atom keys count, as for the Elixir reader.
 */
export function parseBuildRequest(term: Term): ReceivedBuildRequest {
  if (!isMap(term)) throw new InvalidRequestError([{ field: '(message)', message: 'must be a map' }], term);
  const fields: Record<string, Json> = {};
  const issues: RequestIssue[] = [];
  const seen = new Set<string>();
  for (const [key, value] of term.entries) {
    if (!isAtom(key) || !BUILD_REQUEST_FIELDS.has(key.name)) continue;
    if (seen.has(key.name)) issues.push({ field: key.name, message: 'appears more than once' });
    seen.add(key.name);
    if (TIMESTAMPS.includes(key.name) && value !== null && !isTuple(value)) {
      issues.push({ field: key.name, message: 'must be a tuple {MegaSecs, Secs, MicroSecs}' });
    }
    const json = toJson(value);
    if (json !== null) fields[key.name] = json;
  }
  if (!validate(fields)) issues.push(...(validate.errors ?? []).map(issueOf));
  if (issues.length > 0) throw new InvalidRequestError(issues, term);
  const valid = fields as unknown as BuildRequestFields;
  return { request: { ...valid, force_build: valid.force_build === true }, term };
}

/** The reply route of a message, even an invalid one, or undefined when it has none to reply to. */
export function readReplyRoute(term: Term): ReplyRoute | undefined {
  if (!isMap(term)) return undefined;
  const route: Record<string, string> = {};
  for (const key of [
    'orchestration_queue_name',
    'workflow_orchestration_exchange_id',
    'workflow_orchestration_broker_id',
  ]) {
    const value = mapGet(term, key);
    if (typeof value !== 'string' || value === '') return undefined;
    route[key] = value;
  }
  return route as unknown as ReplyRoute;
}
