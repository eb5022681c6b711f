import type http from 'node:http';
import { buildImage, DockerBuildError, type BuildInput, type Engine } from '../../../src/docker';
import { backendFor } from '../../../src/docker/buildkit/backend';
import { encodeStatus } from '../../../src/docker/buildkit/proto';
import { BUILT_IMAGE_ID, buildFixture } from './fake-engine';
import { sessionEngine, type SessionEngine } from './fake-session-engine';

const fixture = buildFixture();
const at = (seconds: number) => ({ seconds, nanos: 0 });
const trace = (value: Parameters<typeof encodeStatus>[0]) => ({
  id: 'moby.buildkit.trace',
  aux: encodeStatus(value),
});
const RUN = { digest: 'sha256:run', name: '[2/2] RUN make' };

const succeeded = [
  trace({ vertexes: [{ ...RUN, started: at(10) }] }),
  trace({ logs: [{ vertex: RUN.digest, stream: 1, msg: Buffer.from('made\n'), timestamp: at(11) }] }),
  trace({ vertexes: [{ ...RUN, started: at(10), completed: at(12) }] }),
  { id: 'moby.image.id', aux: { ID: BUILT_IMAGE_ID } },
  { stream: 'Successfully tagged app:1\n' },
];

/** Answers `/_ping` with `ping` headers and `POST /build` with `lines` once the context has arrived. */
function engineAnswering(ping: http.OutgoingHttpHeaders, lines: readonly object[]): http.RequestListener {
  return (req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url?.includes('/_ping')) {
        res.writeHead(200, ping);
        res.end('OK');
      } else if (req.url?.includes('/build?')) {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        for (const line of lines) res.write(`${JSON.stringify(line)}\n`);
        res.end();
      } else {
        res.writeHead(200);
        res.end();
      }
    });
  };
}

let fake: SessionEngine | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

const input = (engine: Engine, extra: Partial<BuildInput> = {}): BuildInput => ({
  engine,
  contextDir: fixture.contextDir(),
  tags: ['app:1'],
  backend: 'auto',
  ...extra,
});

const buildCall = (calls: readonly string[]): URL =>
  new URL(calls.find((c) => c.startsWith('POST /build?'))?.slice('POST '.length) ?? '/none', 'http://engine');

describe('buildImage with BuildKit on a fake engine', () => {
  it('builds with version=2 in the session it opened when auto finds Builder-Version 2, logging the trace', async () => {
    fake = await sessionEngine(engineAnswering({ 'Builder-Version': '2' }, succeeded));
    const lines: string[] = [];
    const built = await buildImage(input(fake.engine, { networkMode: 'none' }), {
      signal: new AbortController().signal,
      onLine: (l) => lines.push(l),
    });
    expect(built).toEqual({ id: BUILT_IMAGE_ID, tags: ['app:1'] });
    const query = buildCall(fake.calls).searchParams;
    expect(query.get('version')).toBe('2');
    expect(query.get('session')).toBe(fake.upgrades[0]?.['x-docker-expose-session-uuid']);
    expect(query.get('buildid')).toMatch(/^[0-9a-f-]{36}$/);
    expect(query.get('networkmode')).toBe('none');
    expect(lines).toEqual([
      '#1 [2/2] RUN make',
      '#1 1.000 made',
      '#1 DONE 2.0s',
      'Successfully tagged app:1',
    ]);
  });

  it('loses only the log lines of a trace message it cannot read, not the build', async () => {
    const unreadable = { id: 'moby.buildkit.trace', aux: Buffer.from([0x0a, 0xff]).toString('base64') };
    fake = await sessionEngine(engineAnswering({}, [unreadable, ...succeeded]));
    const lines: string[] = [];
    const built = await buildImage(input(fake.engine, { backend: 'buildkit' }), {
      signal: new AbortController().signal,
      onLine: (l) => lines.push(l),
    });
    expect(built.id).toBe(BUILT_IMAGE_ID);
    expect(lines[0]).toMatch(/^\(a BuildKit progress message could not be read: /);
    expect(fake.calls.filter((c) => c.includes('/_ping'))).toEqual([]);
  });

  it("fails with the daemon's in-band error and the failed step's output", async () => {
    fake = await sessionEngine(
      engineAnswering({}, [
        trace({ vertexes: [{ ...RUN, started: at(10) }] }),
        trace({
          logs: [{ vertex: RUN.digest, stream: 2, msg: Buffer.from('no rule\n'), timestamp: at(11) }],
        }),
        trace({ vertexes: [{ ...RUN, started: at(10), error: 'exit code: 2' }] }),
        { errorDetail: { message: 'executor failed running [make]: exit code: 2' } },
      ]),
    );
    const failure = buildImage(input(fake.engine), { signal: new AbortController().signal });
    await expect(failure).rejects.toThrow(
      new DockerBuildError('executor failed running [make]: exit code: 2\n > [2/2] RUN make:\nno rule'),
    );
    expect(fake.calls.filter((c) => c.includes('/build/cancel'))).toEqual([]);
  });

  it('fails a stream that names no image', async () => {
    fake = await sessionEngine(
      engineAnswering(
        {},
        succeeded.filter((m) => !('id' in m && m.id === 'moby.image.id')),
      ),
    );
    await expect(buildImage(input(fake.engine), { signal: new AbortController().signal })).rejects.toThrow(
      new DockerBuildError('Docker build failed to produce a valid image!'),
    );
  });

  it('cancels the build by its id in the engine when aborted', async () => {
    let started: () => void = () => undefined;
    const running = new Promise<void>((resolve) => (started = resolve));
    fake = await sessionEngine((req, res) => {
      req.resume();
      if (req.url?.includes('/build?')) {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.write(`${JSON.stringify(trace({ vertexes: [{ ...RUN, started: at(10) }] }))}\n`);
        started();
      } else {
        res.writeHead(200);
        res.end();
      }
    });
    const controller = new AbortController();
    const build = buildImage(input(fake.engine, { backend: 'buildkit' }), { signal: controller.signal });
    await running;
    controller.abort(new Error('cancelled by the workflow'));
    await expect(build).rejects.toThrow('cancelled by the workflow');
    const buildId = buildCall(fake.calls).searchParams.get('buildid');
    expect(fake.calls).toContain(`POST /build/cancel?id=${buildId}`);
  });
});

describe('backendFor', () => {
  const engine = (apiVersion: string, flavour: Engine['flavour'] = 'docker') =>
    ({ endpoint: 'tcp://e', apiVersion, flavour, requestTimeoutMs: 1000 }) as Engine;

  it('follows the Builder-Version the engine declares', () => {
    expect(backendFor(engine('1.41'), { 'builder-version': '2' })).toBe('buildkit');
    expect(backendFor(engine('1.41'), { 'builder-version': '1' })).toBe('classic');
  });

  it('without a declared builder, picks BuildKit from API 1.39 on Linux engines', () => {
    expect(backendFor(engine('1.41'), { ostype: 'linux' })).toBe('buildkit');
    expect(backendFor(engine('1.39'), {})).toBe('buildkit');
    expect(backendFor(engine('1.38'), { ostype: 'linux' })).toBe('classic');
    expect(backendFor(engine('1.41'), { ostype: 'windows' })).toBe('classic');
  });

  it("picks classic for podman's compatible API and for https engines, whatever they declare", () => {
    expect(backendFor(engine('1.41', 'podman'), { 'builder-version': '2' })).toBe('classic');
    const tls = { ...engine('1.41'), endpoint: 'https://engine.example:2376' };
    expect(backendFor(tls, { 'builder-version': '2' })).toBe('classic');
  });
});
