// Talking to the test dockerd through docker-modem the way the builder must: build and push answer with
// JSON lines whose errors arrive in-band under an HTTP 200, so each stream is read to its end and searched
// for an `error` line. docker-modem's followProgress is not used: a non-JSON line would throw inside its
// data handler, and it reports in-band errors as success.
import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import Modem from 'docker-modem';
import tarfs from 'tar-fs';
import { testEnv } from './env';

export interface DockerLine {
  stream?: string;
  status?: string;
  error?: string;
  errorDetail?: { code?: number; message?: string };
  aux?: { ID?: string; Tag?: string; Digest?: string; Size?: number };
  /** A line that was not a JSON object, kept verbatim. */
  raw?: string;
}

export interface StreamResult {
  statusCode: number;
  lines: DockerLine[];
  /** The message of the first in-band error line, if any. */
  error: string | undefined;
}

export function dockerModem(socketPath = testEnv().dockerSocket): Modem {
  return new Modem({ socketPath });
}

function parseLine(text: string): DockerLine | undefined {
  const line = text.trim();
  if (line === '') return undefined;
  try {
    const value: unknown = JSON.parse(line);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value;
  } catch {
    // Not JSON: kept below as raw text rather than failing the whole stream.
  }
  return { raw: line };
}

/** Splits a stream into lines (chunks may cut lines and UTF-8 characters anywhere) and parses each. */
export async function readJsonLines(stream: AsyncIterable<Uint8Array | string>): Promise<DockerLine[]> {
  const decoder = new TextDecoder();
  const lines: DockerLine[] = [];
  let pending = '';
  const take = (text: string): void => {
    const line = parseLine(text);
    if (line) lines.push(line);
  };
  for await (const chunk of stream) {
    pending += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      take(pending.slice(0, newline));
      pending = pending.slice(newline + 1);
    }
  }
  take(pending + decoder.decode());
  return lines;
}

export function inBandError(lines: DockerLine[]): string | undefined {
  const line = lines.find((l) => l.error !== undefined || l.errorDetail !== undefined);
  return line && (line.errorDetail?.message ?? line.error ?? 'error line without a message');
}

function dial(modem: Modem, options: Modem.DialOptions): Promise<unknown> {
  return new Promise((resolve, reject) => {
    modem.dial(options, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

/** Dials a streaming endpoint and reads its JSON lines to the end. */
export async function dockerStream(modem: Modem, options: Modem.DialOptions): Promise<StreamResult> {
  const res = (await dial(modem, { ...options, isStream: true })) as IncomingMessage;
  const lines = await readJsonLines(res);
  return { statusCode: res.statusCode ?? 0, lines, error: inBandError(lines) };
}

export interface BuildResult extends StreamResult {
  /** From the `aux.ID` line of a successful build. */
  imageId: string | undefined;
}

/**
 * Builds `contextDir` (which holds a Dockerfile) as `tag` with the classic builder, with no network for
 * RUN steps and no intermediate containers left behind, even on failure.
 */
export async function buildImage(modem: Modem, contextDir: string, tag: string): Promise<BuildResult> {
  // tar-fs packs are streamx streams; a PassThrough gives docker-modem the Node stream its types ask for.
  const pack = tarfs.pack(contextDir);
  const body = pack.pipe(new PassThrough());
  pack.on('error', (err: Error) => body.destroy(err));
  const result = await dockerStream(modem, {
    path: '/build?',
    method: 'POST',
    file: body,
    options: { t: tag, rm: true, forcerm: true, networkmode: 'none' },
    statusCodes: { 200: true, 400: 'bad parameter', 500: 'server error' },
  });
  const imageId = result.lines.find((l) => typeof l.aux?.ID === 'string')?.aux?.ID;
  return { ...result, imageId };
}

export async function tagImage(modem: Modem, source: string, repo: string, tag: string): Promise<void> {
  await dial(modem, {
    path: `/images/${source}/tag?`,
    method: 'POST',
    options: { repo, tag },
    statusCodes: { 201: true, 404: 'no such image', 409: 'conflict', 500: 'server error' },
  });
}

export interface RegistryCredentials {
  username: string;
  password: string;
  serveraddress: string;
}

/**
 * Pushes `repo:tag`. The X-Registry-Auth header is always sent (`{}` for an open registry): the 20.10
 * daemon rejects a push without it with a 400.
 */
export function pushImage(
  modem: Modem,
  repo: string,
  tag: string,
  credentials?: RegistryCredentials,
): Promise<StreamResult> {
  return dockerStream(modem, {
    path: `/images/${repo}/push?`,
    method: 'POST',
    options: { tag },
    authconfig: credentials ?? {},
    statusCodes: { 200: true, 404: 'no such image', 500: 'server error' },
  });
}

/** Removes one image reference (a tag or an id); one already gone counts as removed. */
export async function removeImage(modem: Modem, ref: string): Promise<void> {
  await dial(modem, {
    path: `/images/${ref}?`,
    method: 'DELETE',
    statusCodes: { 200: true, 404: true, 409: 'in use', 500: 'server error' },
  });
}

export async function imageExists(modem: Modem, ref: string): Promise<boolean> {
  const found = await dial(modem, {
    path: `/images/${ref}/json`,
    method: 'GET',
    statusCodes: { 200: true, 404: true, 500: 'server error' },
  });
  return typeof found === 'object' && found !== null && 'Id' in found;
}
