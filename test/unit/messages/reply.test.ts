import { readFileSync } from 'node:fs';
import path from 'node:path';
import { atom, decode, encode, isMap, mapGet, tuple, type ErlMap } from '../../../src/etf';
import { encodeReply, replyTerm, type DeployableUnit } from '../../../src/messages';
import { sampleRequest } from './sample-request';

const example = readFileSync(path.join(__dirname, '../../../examples/etf/build-request.etf'));

function received(): ErlMap {
  const term = decode(example);
  if (!isMap(term)) throw new Error('the example is not a map');
  return term;
}

const unit: DeployableUnit = {
  name: 'myapp@.service',
  options: [
    { section: 'Service', name: 'ExecStart', value: '/usr/bin/docker run -p <%= dst_port %>:80 myorg/myapp' },
  ],
  desiredState: null,
  currentState: null,
  machineID: null,
};

describe('replying to the orchestrator', () => {
  it('echoes the bytes it received when nothing changes', () => {
    expect(encodeReply(received(), {}).equals(example)).toBe(true);
  });

  it('keeps unknown keys, atoms, tuples and the wire order of the received map', () => {
    const request = sampleRequest({}, [[atom('added_by_a_newer_orchestrator'), tuple(atom('ok'), 1)]]);
    const reply = replyTerm(request, { etcd_token: 'abc' });
    expect(reply.entries.map(([k]) => k)).toEqual(request.entries.map(([k]) => k));
    expect(mapGet(reply, 'added_by_a_newer_orchestrator')).toEqual(tuple(atom('ok'), 1));
    expect(mapGet(reply, 'current_step')).toEqual(atom('build'));
    expect(mapGet(reply, 'workflow_start_time')).toEqual(tuple(1444, 140992, 115862));
  });

  it('sets the fields a completed step fills, as Elixir would decode their JSON', () => {
    const reply = replyTerm(received(), {
      etcd_token: 'deadbeef',
      deployable_units: [unit],
      ecs_task_definition: '{"family":"myapp"}',
      fleet_config: { instances: 2 },
      aws_config: null,
      source_repo_git_ref: '4c8d1e0',
      event_log: ['one', 'two'],
    });
    expect(mapGet(reply, 'etcd_token')).toBe('deadbeef');
    expect(mapGet(reply, 'deployable_units')).toEqual([
      {
        kind: 'map',
        entries: [
          ['currentState', null],
          ['desiredState', null],
          ['machineID', null],
          ['name', 'myapp@.service'],
          [
            'options',
            [
              {
                kind: 'map',
                entries: [
                  ['name', 'ExecStart'],
                  ['section', 'Service'],
                  ['value', unit.options[0]?.value],
                ],
              },
            ],
          ],
        ],
      },
    ]);
    expect(mapGet(reply, 'ecs_task_definition')).toBe('{"family":"myapp"}');
    expect(mapGet(reply, 'fleet_config')).toEqual({ kind: 'map', entries: [['instances', 2]] });
    expect(mapGet(reply, 'aws_config')).toBeNull();
    expect(mapGet(reply, 'source_repo_git_ref')).toBe('4c8d1e0');
    expect(mapGet(reply, 'event_log')).toEqual(['one', 'two']);
  });

  it('marks a failed step as errored and completed', () => {
    const reply = replyTerm(received(), { workflow_error: true, workflow_completed: true });
    expect([mapGet(reply, 'workflow_error'), mapGet(reply, 'workflow_completed')]).toEqual([true, true]);
  });

  it('adds a field the orchestrator left out', () => {
    const reply = replyTerm(sampleRequest({ etcd_token: undefined }), { etcd_token: 'abc' });
    expect(mapGet(reply, 'etcd_token')).toBe('abc');
    expect(reply.entries).toHaveLength(35);
  });

  it('encodes the reply it describes', () => {
    const update = { event_log: ['x'] };
    expect(encodeReply(received(), update).equals(encode(replyTerm(received(), update)))).toBe(true);
  });
});
