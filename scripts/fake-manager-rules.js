'use strict';
// The real Manager's rules for the three writes a builder makes, as its controllers and models implement them
// (docs/manager.md cites each route). Both fakes apply these same functions: scripts/fake-manager.js, which
// runs without a compile step, and the tests' fake (test/fakes/manager.ts). Plain Node, no dependencies.

const HOUR_MS = 3_600_000;

const rfc1123 = (ms) => new Date(ms).toUTCString();
const errors = (...messages) => ({ errors: messages });
/** What Phoenix answers when a controller raises (ErrorView `500.html`). */
const RAISED = { status: 500, body: 'Server internal error - 500' };

/** The fields the Workflow model casts (`@required_fields ++ @optional_fields`); a PUT drops every other. */
const WORKFLOW_FIELDS = [
  'id',
  'deployment_repo',
  'deployment_repo_git_ref',
  'source_repo',
  'source_repo_git_ref',
  'source_commit_hash',
  'milestones',
  'current_step',
  'elapsed_step_time',
  'elapsed_workflow_time',
  'workflow_duration',
  'workflow_step_durations',
  'workflow_error',
  'workflow_completed',
  'event_log',
  'scheduled_start_time',
  'execute_options',
];

/** varchar sizes of the `workflows` columns; Postgres refuses a longer value and the update raises. */
const WORKFLOW_COLUMNS = {
  deployment_repo: 128,
  deployment_repo_git_ref: 256,
  source_repo: 128,
  source_repo_git_ref: 256,
  source_commit_hash: 256,
  current_step: 128,
  elapsed_step_time: 128,
  elapsed_workflow_time: 128,
  workflow_duration: 128,
};

/** varchar sizes of `messaging_exchange_modules`; `workload` holds the JSON text of the list. */
const MODULE_COLUMNS = {
  hostname: 255,
  type: 255,
  status: 255,
  workload: 255,
  source_repo: 128,
  source_repo_git_ref: 256,
  deployment_repo: 128,
  deployment_repo_git_ref: 256,
};

/** The first string column of `row` longer than its size allows (in characters, as Postgres counts). */
function overflowing(row, columns) {
  return Object.keys(columns).find((c) => typeof row[c] === 'string' && [...row[c]].length > columns[c]);
}

/** The 400 of a changeset whose required fields came blank, or undefined when none did. */
function blankFields(item, body, required) {
  const blank = required.filter((f) => body[f] === undefined || body[f] === null || body[f] === '');
  if (blank.length === 0) return undefined;
  return {
    status: 400,
    body: errors(
      { message: `One or more fields for ${item} were invalid` },
      ...blank.map((f) => ({ [f]: "can't be blank" })),
    ),
  };
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const RFC1123 =
  /^(Sun|Mon|Tue|Wed|Thu|Fri|Sat), (\d{2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) (GMT|UTC|Z|[+-]\d{4})$/;

/**
 * Timex's `{RFC1123}` parse, `Tue, 05 Mar 2013 23:25:19 GMT` or with a `+hhmm` offset: ms since the epoch, or
 * undefined for anything else (a wrong weekday or an impossible date included).
 */
function parseRfc1123(text) {
  const m = typeof text === 'string' ? RFC1123.exec(text) : null;
  if (!m) return undefined;
  const [, day, date, month, year, hour, minute, second, zone] = m;
  const monthIndex = MONTHS.indexOf(month);
  const local = Date.UTC(
    Number(year),
    monthIndex,
    Number(date),
    Number(hour),
    Number(minute),
    Number(second),
  );
  const check = new Date(local);
  if (
    monthIndex < 0 ||
    check.getUTCDate() !== Number(date) ||
    check.getUTCMonth() !== monthIndex ||
    check.getUTCHours() !== Number(hour) ||
    check.getUTCMinutes() !== Number(minute) ||
    check.getUTCSeconds() !== Number(second) ||
    DAYS[check.getUTCDay()] !== day
  )
    return undefined;
  const offset = /^[+-]/.test(zone)
    ? (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3))) * 60_000
    : 0;
  return local - offset;
}

/**
 * `POST /messaging/exchanges/:id/modules` on the module rows (hostname -> row) of an existing exchange: the four
 * fields are required, then any row of that hostname is deleted, then the new one inserted; an insert that
 * fails (a column too long: a workload over 255 characters of JSON) answers 500 and leaves no row at all.
 */
function registerModule(rows, exchangeId, body, now) {
  const b = body ?? {};
  const invalid = blankFields('MessagingExchangeModule', b, ['hostname', 'type', 'status', 'workload']);
  if (invalid) return invalid;
  const hostname = String(b.hostname);
  rows.delete(hostname);
  const stored = { workload: JSON.stringify(b.workload) };
  for (const field of [
    'type',
    'status',
    'source_repo',
    'source_repo_git_ref',
    'deployment_repo',
    'deployment_repo_git_ref',
  ])
    stored[field] = b[field] ?? null;
  if (overflowing({ ...stored, hostname }, MODULE_COLUMNS) !== undefined)
    return {
      status: 500,
      body: errors({ message: 'An unexpected error occured with MessagingExchangeModule' }),
    };
  rows.set(hostname, {
    messaging_exchange_id: Number(exchangeId),
    hostname,
    ...stored,
    workload: b.workload,
    inserted_at: rfc1123(now),
    updated_at: rfc1123(now),
  });
  return {
    status: 201,
    location: `/messaging/exchanges/${exchangeId}/modules/${encodeURIComponent(hostname)}`,
  };
}

/**
 * `PUT /workflows/:id` on the workflows (id -> row): only the model's fields are kept, a missing
 * `workflow_completed` becomes false, a `scheduled_start_time` that is not RFC 1123 raises (500), and so does a
 * value longer than its column.
 */
function updateWorkflow(workflows, id, body, now) {
  const existing = workflows.get(id);
  if (!existing) return { status: 404 };
  const b = body ?? {};
  const next = { ...existing };
  for (const field of WORKFLOW_FIELDS) if (field in b) next[field] = b[field];
  next.id = id;
  next.workflow_completed = b.workflow_completed ?? false;
  if (b.scheduled_start_time !== undefined && b.scheduled_start_time !== null) {
    const at = parseRfc1123(b.scheduled_start_time);
    if (at === undefined) return RAISED;
    next.scheduled_start_time = rfc1123(at);
  }
  if (overflowing(next, WORKFLOW_COLUMNS) !== undefined) return { status: 500 };
  workflows.set(id, { ...next, updated_at: rfc1123(now) });
  return { status: 204, location: `/workflows/${id}` };
}

/** Elixir's `==` on decoded JSON: maps equal whatever their key order, lists element by element. */
function sameJson(a, b) {
  if (Array.isArray(a) || Array.isArray(b))
    return (
      Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameJson(x, b[i]))
    );
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => k in b && sameJson(a[k], b[k]));
  }
  return a === b;
}

/**
 * `POST /system_events` on the stored events ({ body, at }): `type` and `severity` are required; with
 * `unique: true` an event of the same type stored within the last hour whose data equals this one's (or either
 * side's data null) makes it a duplicate, 409. The message is never compared.
 */
function createSystemEvent(events, body, now) {
  const b = body ?? {};
  const invalid = blankFields('SystemEvent', b, ['type', 'severity']);
  if (invalid) return invalid;
  const data = b.data ?? null;
  const duplicate =
    b.unique === true &&
    events.some(
      (e) =>
        e.body.type === b.type &&
        now - e.at < HOUR_MS &&
        (data === null || (e.body.data ?? null) === null || sameJson(e.body.data, data)),
    );
  if (duplicate)
    return { status: 409, body: errors({ message: 'A SystemEvent already exists with that identifier' }) };
  events.push({ body: b, at: now });
  return { status: 201, location: '/system_events' };
}

module.exports = { registerModule, updateWorkflow, createSystemEvent, parseRfc1123, rfc1123, errors };
