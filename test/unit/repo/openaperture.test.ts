import fs from 'node:fs';
import path from 'node:path';
import { nopLogger, type Logger } from '../../../src/log';
import { notificationsConfig } from '../../../src/repo';

const example = fs.readFileSync(
  path.join(__dirname, '../../../examples/repos/hello/openaperture.json'),
  'utf8',
);

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { ...nopLogger, warn: (message: string) => void warnings.push(message), warnings };
}

describe('notificationsConfig', () => {
  it('returns deployments.notifications of the example source repository', () => {
    expect(notificationsConfig(example, nopLogger)).toEqual({
      hipchat: { room_names: ['builds'] },
      email: { groups: { dev: ['dev@example.invalid'] }, events: { on_workflow_completed: ['dev'] } },
    });
  });

  it('returns null when the source repository has no openaperture.json', () => {
    expect(notificationsConfig(null, nopLogger)).toBeNull();
  });

  it('returns null when the file has no notifications section', () => {
    expect(notificationsConfig('{"deployments": {}}', nopLogger)).toBeNull();
    expect(notificationsConfig('[]', nopLogger)).toBeNull();
  });

  it('logs and ignores a file that is not JSON, as the original did', () => {
    const log = recordingLogger();
    expect(notificationsConfig('{oops', log)).toBeNull();
    expect(log.warnings).toEqual([
      'openaperture.json of the source repository is not valid JSON; notifications use defaults',
    ]);
  });
});
