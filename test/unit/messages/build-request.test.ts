import { readFileSync } from 'node:fs';
import path from 'node:path';
import { atom, decode, float, mapOf, tuple, type Term } from '../../../src/etf';
import {
  InvalidRequestError,
  parseBuildRequest,
  readReplyRoute,
  type RequestIssue,
} from '../../../src/messages';
import { REQUIRED_FIELDS, sampleRequest, WORKFLOW_ID } from './sample-request';

function rejection(term: Term): InvalidRequestError {
  try {
    parseBuildRequest(term);
  } catch (err) {
    if (err instanceof InvalidRequestError) return err;
    throw err;
  }
  throw new Error('the request was accepted');
}

const issues = (term: Term): readonly RequestIssue[] => rejection(term).issues;

describe('reading a build request', () => {
  it('accepts the request the orchestrator sends and keeps the term it came in', () => {
    const term = sampleRequest();
    const { request, term: kept } = parseBuildRequest(term);
    expect(kept).toBe(term);
    expect(request).toMatchObject({
      id: WORKFLOW_ID,
      current_step: 'build',
      milestones: ['config', 'build', 'deploy'],
      deployment_repo: 'myorg/myapp_docker',
      workflow_start_time: [1444, 140992, 115862],
      notifications_config: { hipchat: { room_names: ['Deployments'] } },
      workflow_step_durations: { config: '38 second(s)' },
      force_build: false,
      notifications_broker_id: '2',
    });
  });

  it('accepts the example request written by Erlang', () => {
    const bytes = readFileSync(path.join(__dirname, '../../../examples/etf/build-request.etf'));
    expect(parseBuildRequest(decode(bytes)).request.current_step).toBe('build');
  });

  it('normalises atoms in current_step and milestones to strings', () => {
    const term = sampleRequest({
      current_step: atom('config'),
      milestones: [atom('config'), atom('deploy')],
    });
    const { request } = parseBuildRequest(term);
    expect(request.current_step).toBe('config');
    expect(request.milestones).toEqual(['config', 'deploy']);
  });

  it('accepts a current_step sent as a binary', () => {
    expect(parseBuildRequest(sampleRequest({ current_step: 'config' })).request.current_step).toBe('config');
  });

  it('fills the defaults of fields that are nil or missing', () => {
    const term = sampleRequest({
      event_log: null,
      workflow_error: null,
      force_build: undefined,
      step_time: undefined,
    });
    const { request } = parseBuildRequest(term);
    expect(request).toMatchObject({
      event_log: [],
      workflow_error: false,
      force_build: false,
      step_time: null,
    });
  });

  it('forces a build only for force_build true, not for a binary', () => {
    expect(parseBuildRequest(sampleRequest({ force_build: true })).request.force_build).toBe(true);
    expect(parseBuildRequest(sampleRequest({ force_build: 'true' })).request.force_build).toBe(false);
  });

  it('ignores unknown keys and keys that are not atoms', () => {
    const term = sampleRequest({}, [
      [atom('something_new'), tuple(1)],
      ['id', 'not-a-uuid'],
    ]);
    expect(parseBuildRequest(term).request.id).toBe(WORKFLOW_ID);
  });

  it.each(REQUIRED_FIELDS)('refuses a request without %s', (field) => {
    expect(issues(sampleRequest({ [field]: undefined }))).toEqual([{ field, message: 'is required' }]);
  });

  it.each(REQUIRED_FIELDS)('refuses a request whose %s is nil', (field) => {
    expect(issues(sampleRequest({ [field]: null }))).toEqual([{ field, message: 'is required' }]);
  });

  const wrong: Array<[string, Term, string]> = [
    ['id', 'abc', 'must match format "uuid"'],
    ['current_step', atom('deploy'), 'must be equal to one of the allowed values: config, build'],
    ['milestones', 'build', 'must be array'],
    ['event_log', [1], '/0 must be string'],
    ['workflow_error', 'no', 'must be boolean'],
    ['deployment_repo', 7, 'must be string,null'],
    ['build_messaging_exchange_id', float(1.5), 'must be integer,null'],
    ['orchestration_queue_name', '', 'must NOT have fewer than 1 characters'],
    ['workflow_start_time', tuple(1, 2), 'must NOT have fewer than 3 items'],
    ['workflow_start_time', [1, 2, 3], 'must be a tuple {MegaSecs, Secs, MicroSecs}'],
    ['step_time', tuple(1, -2, 3), '/1 must be >= 0'],
    ['workflow_step_durations', mapOf({ config: 38 }), '/config must be string'],
    ['fleet_config', [], 'must be object,null'],
    ['force_build', 1, 'must be boolean,string'],
  ];

  it.each(wrong)('refuses a request whose %s is %p', (field, value, message) => {
    expect(issues(sampleRequest({ [field]: value }))).toEqual([{ field, message }]);
  });

  it('refuses a key that appears twice', () => {
    expect(issues(sampleRequest({}, [[atom('id'), WORKFLOW_ID]]))).toEqual([
      { field: 'id', message: 'appears more than once' },
    ]);
  });

  it('refuses a message that is not a map', () => {
    expect(issues([1, 2])).toEqual([{ field: '(message)', message: 'must be a map' }]);
  });

  it('names every bad field in one error', () => {
    const term = sampleRequest({
      id: 'x',
      current_step: undefined,
      milestones: [atom('build'), 3],
      force_build: 2,
    });
    const err = rejection(term);
    expect(err.issues.map((i) => i.field).sort()).toEqual([
      'current_step',
      'force_build',
      'id',
      'milestones',
    ]);
    expect(err.message).toBe(
      'invalid build request: current_step is required; id must match format "uuid"; milestones /1 must be string; ' +
        'force_build must be boolean,string',
    );
    expect(err.term).toBe(term);
  });
});

describe('finding where to reply', () => {
  it('reads the reply route of a request that is otherwise invalid', () => {
    expect(readReplyRoute(sampleRequest({ id: 'x' }))).toEqual({
      orchestration_queue_name: 'workflow_orchestration',
      workflow_orchestration_exchange_id: '1',
      workflow_orchestration_broker_id: '1',
    });
  });

  it.each([
    ['a message that is not a map', 'x'],
    ['a request without a broker', sampleRequest({ workflow_orchestration_broker_id: undefined })],
    ['a request with an empty queue name', sampleRequest({ orchestration_queue_name: '' })],
    [
      'a request with an atom for an exchange',
      sampleRequest({ workflow_orchestration_exchange_id: atom('x') }),
    ],
  ])('finds none for %s', (_name, term) => {
    expect(readReplyRoute(term)).toBeUndefined();
  });
});
