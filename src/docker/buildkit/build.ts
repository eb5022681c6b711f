import { randomUUID } from 'node:crypto';
import { registryHost } from '../../registry/image-name';
import type { BuildInput, BuiltImage } from '../build';
import { buildContext } from '../build-context';
import { builderLabels } from '../builder-label';
import { withBuildDeadline } from '../build-deadline';
import type { DockerCallContext } from '../call-context';
import { engineStatus } from '../engine';
import { dial, errorMessage, readText } from '../engine-call';
import { DockerBuildError, DockerTimeoutError } from '../errors';
import { followStream, type EngineMessage } from '../progress';
import { BuildTranscript } from '../transcript';
import { decodeStatus } from './proto';
import { openSession } from './session';
import { BuildKitTrace } from './trace';

/** The messages of a BuildKit build stream besides `stream` and `error`: the trace and the image id. */
interface BuildKitMessage {
  readonly id?: string;
  readonly aux?: unknown;
}

const TRACE = 'moby.buildkit.trace';
const IMAGE_ID = 'moby.image.id';

/** Asks the engine to stop a build whose request is gone; the engine may already have stopped it itself. */
async function cancelBuild(input: BuildInput, buildId: string): Promise<void> {
  const call = { method: 'POST' as const, path: '/build/cancel', query: { id: buildId } };
  await engineStatus(input.engine, call, new AbortController().signal).catch(() => undefined);
}

function readTrace(message: BuildKitMessage, trace: BuildKitTrace, onLine: (line: string) => void): void {
  if (typeof message.aux !== 'string') return;
  try {
    trace.take(decodeStatus(message.aux));
  } catch (err) {
    // A trace the decoder cannot read loses log lines, never the build.
    onLine(`(a BuildKit progress message could not be read: ${(err as Error).message})`);
  }
}

/** The build request and its stream, inside an open session. */
async function runBuild(
  input: BuildInput,
  request: { sessionId: string; buildId: string; context: NodeJS.ReadableStream },
  signal: AbortSignal,
  onLine: (line: string) => void,
): Promise<BuiltImage> {
  const { engine } = input;
  const query = {
    version: '2',
    session: request.sessionId,
    buildid: request.buildId,
    t: input.tags,
    dockerfile: input.dockerfile ?? 'Dockerfile',
    buildargs: input.buildArgs,
    labels: builderLabels,
    nocache: input.noCache ?? true,
    networkmode: input.networkMode,
  };
  const call = { method: 'POST' as const, path: '/build', query, body: request.context };
  const res = await dial(engine.modem, engine.endpoint, call, signal);
  if (res.statusCode !== 200)
    throw new DockerBuildError(errorMessage(await readText(res, engine.endpoint, signal)));
  const trace = new BuildKitTrace(onLine);
  const text = new BuildTranscript(onLine);
  let imageId: string | undefined;
  const outcome = await followStream(
    res,
    engine.endpoint,
    signal,
    (engineMessage: EngineMessage) => {
      const message = engineMessage as BuildKitMessage;
      if (message.id === TRACE) readTrace(message, trace, onLine);
      else if (message.id === IMAGE_ID) imageId = engineMessage.aux?.ID ?? imageId;
      else if (engineMessage.stream !== undefined) text.write(engineMessage.stream);
    },
    onLine,
  );
  trace.end();
  text.end();
  if (outcome.error !== undefined) throw new DockerBuildError(trace.describeFailure(outcome.error));
  if (!imageId) throw new DockerBuildError('Docker build failed to produce a valid image!');
  return { id: imageId, tags: [...input.tags] };
}

/**
 * Builds `contextDir` with BuildKit (`POST /build?version=2`) inside a session that gives the engine the
 * configured registry's credentials (private base images) and the build's secrets
 * (`RUN --mount=type=secret`). The build context is the same tar as the classic builder's. The trace becomes
 * the build log through {@link BuildKitTrace}; an in-band error is a {@link DockerBuildError} with the failed
 * step's last output lines; the deadline is a {@link DockerTimeoutError}. Aborting closes the request and
 * cancels the build by its id, so it stops in the engine. BuildKit leaves no intermediate containers or
 * images behind, only build cache, which is the engine's to prune; the image it makes carries the builder's
 * label (`labels`), so one left untagged is found by `pruneLeftovers`.
 */
export async function buildWithBuildKit(input: BuildInput, ctx: DockerCallContext): Promise<BuiltImage> {
  const onLine = ctx.onLine ?? (() => undefined);
  const context = await buildContext(input.contextDir, input.dockerfile ?? 'Dockerfile');
  let contextError: Error | undefined;
  context.on('error', (err: Error) => (contextError = err));
  const buildId = randomUUID();
  const services = {
    registry: input.access ? registryHost(input.access.url) : undefined,
    credentials: input.access?.credentials,
    secrets: input.secrets,
  };
  try {
    return await withBuildDeadline(ctx.signal, input.timeoutMs, async (signal) => {
      const session = await openSession(input.engine, services, signal);
      try {
        return await runBuild(input, { sessionId: session.id, buildId, context }, signal, onLine);
      } finally {
        session.close();
      }
    });
  } catch (err) {
    if (!(err instanceof DockerBuildError)) await cancelBuild(input, buildId);
    // An abort also ends the context upload: then the abort is the reason, not the upload.
    const stopped = ctx.signal.aborted || err instanceof DockerTimeoutError;
    if (contextError && !stopped)
      throw new DockerBuildError(`the build context could not be sent: ${contextError.message}`);
    throw err;
  }
}
