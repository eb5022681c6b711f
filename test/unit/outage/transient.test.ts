import { AmqpPublishError } from '../../../src/amqp';
import { DockerBuildError, DockerEngineError, DockerUnreachableError } from '../../../src/docker';
import {
  GitAuthError,
  GitRemoteError,
  GitTimeoutError,
  GitUnreachableError,
  RefNotFoundError,
  RepoNotFoundError,
} from '../../../src/git';
import { ManagerAuthError, ManagerUnavailableError } from '../../../src/manager';
import { TransientFailure } from '../../../src/manager/http';
import { isTransient, OutageError, transientText } from '../../../src/outage';
import { RegistryAuthError, RegistryResponseError, RegistryUnavailableError } from '../../../src/registry';

const url = 'http://git.test/org/repo.git';

function systemError(code: string): Error {
  return Object.assign(new Error(`connect ${code}`), { code, syscall: 'connect' });
}

describe('the classification of failures', () => {
  it.each([
    ['an unreachable git server', new GitUnreachableError('clone', 'git.test', 'ECONNREFUSED')],
    ['a git operation that timed out', new GitTimeoutError('fetch', 'git.test', 1000)],
    ['a git server answering 503', new GitRemoteError('clone', url, 'HTTP 503', 503)],
    ['a git server answering 429', new GitRemoteError('push', url, 'HTTP 429', 429)],
    ['an unavailable registry', new RegistryUnavailableError('registry.test', 'HTTP 502')],
    ['a Manager answer of 5xx before the retries', new TransientFailure('status 503', 503)],
    ['an engine that broke the connection', new DockerUnreachableError('unix:///x', 'ECONNRESET')],
    ['an engine answering 500', new DockerEngineError('unix:///var/run/docker.sock', 500, 'server error')],
    ['a refused connection', systemError('ECONNREFUSED')],
    ['a DNS failure', systemError('EAI_AGAIN')],
    [
      'a fetch failure with the socket error as its cause',
      new TypeError('fetch failed', { cause: systemError('ECONNRESET') }),
    ],
    ['a deadline that passed', new DOMException('timed out', 'TimeoutError')],
    [
      'a broker channel that closed under a publish',
      new AmqpPublishError('x.500', 'rk.503', 'channel closed'),
    ],
    ['a publish the broker did not confirm in time', new AmqpPublishError('x', 'rk', 'timeout')],
  ])('calls %s transient', (_what, err) => {
    expect(isTransient(err)).toBe(true);
  });

  it.each([
    ['a missing ref', new RefNotFoundError(url, 'nope')],
    ['a missing repository', new RepoNotFoundError('clone', url)],
    ['refused git credentials', new GitAuthError('clone', url, 'rejected')],
    [
      'a git server answering 404 in a way the adapter did not map',
      new GitRemoteError('clone', url, 'HTTP 418', 418),
    ],
    ['refused registry credentials', new RegistryAuthError('registry.test', 'the credentials were rejected')],
    [
      'a registry answer that fits no protocol step',
      new RegistryResponseError('registry.test', 400, 'bad name'),
    ],
    [
      'a failing Dockerfile',
      new DockerBuildError("The command '/bin/sh -c exit 3' returned a non-zero code: 3"),
    ],
    [
      'an engine refusing a call with 404',
      new DockerEngineError('unix:///var/run/docker.sock', 404, 'no such image'),
    ],
    ['a Manager refusing the credentials', new ManagerAuthError('POST', 'OAuth login', 401, 'refused')],
    [
      'a Manager outage the client already waited out',
      new ManagerUnavailableError('GET', '/x', 503, 'status 503'),
    ],
    [
      'an outage already waited out',
      new OutageError('registry', 61_000, 7, new RegistryUnavailableError('r', 'HTTP 503')),
    ],
    ['an abort', new DOMException('aborted', 'AbortError')],
    ['a publish the broker refused', new AmqpPublishError('x.503', 'rk.500', 'message nacked')],
    ['a template error', new SyntaxError('Unexpected token')],
    ['something that is not an error', 'ECONNREFUSED'],
  ])('calls %s the request’s own', (_what, err) => {
    expect(isTransient(err)).toBe(false);
  });

  it('reads the passing failures a daemon reports in words, a lost blob among them', () => {
    expect(transientText('blob unknown: blob unknown to registry')).toBe(true);
    expect(transientText('received unexpected HTTP status: 503 Service Unavailable')).toBe(true);
    expect(transientText('denied: requested access to the resource is denied')).toBe(false);
  });
});
