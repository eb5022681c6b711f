import fs from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { connectEngine, type Engine } from '../../../src/docker';
import {
  sendJson,
  startFakeHttpServer,
  type FakeHandler,
  type FakeHttpServer,
} from '../registry/fake-http-server';

/** A fake Docker Engine API: answers `/version` like dockerd 20.10 and hands every other call to `handler`. */
export interface FakeEngine {
  readonly server: FakeHttpServer;
  readonly engine: Engine;
}

export async function startFakeEngine(handler: FakeHandler): Promise<FakeEngine> {
  const server = await startFakeHttpServer((req, res) => {
    if (req.url.pathname === '/version')
      return sendJson(res, 200, { ApiVersion: '1.41', MinAPIVersion: '1.12' });
    return handler(req, res);
  });
  const engine = await connectEngine(
    `tcp://${server.host}`,
    { requestTimeoutMs: 2000 },
    { signal: new AbortController().signal },
  );
  return { server, engine };
}

/** Answers 200 with the given build or push stream: objects as JSON lines, strings written as they are. */
export function streamLines(res: ServerResponse, lines: readonly (object | string)[]): void {
  res.writeHead(200, { 'Content-Type': 'application/json' });
  for (const line of lines) res.write(typeof line === 'string' ? line : `${JSON.stringify(line)}\n`);
  res.end();
}

/** The Engine API path of a recorded request without its version prefix. */
export function apiPath(pathname: string): string {
  return pathname.replace(/^\/v\d+\.\d+/, '');
}

/** The id the fake engines give the image they build. */
export const BUILT_IMAGE_ID = 'sha256:0dc8d91103f776bc10c7337578132e46fe256133c581573519676628398a5ef0';

/**
 * What a build test file needs around its fakes: a build context with a Dockerfile for the whole file, and
 * fake servers closed after each test (`track` them as they start).
 */
export function buildFixture(): { contextDir: () => string; track: (...servers: FakeHttpServer[]) => void } {
  let contextDir = '';
  let servers: FakeHttpServer[] = [];
  beforeAll(async () => {
    contextDir = await fs.mkdtemp(path.join(os.tmpdir(), 'oa-build-context-'));
    await fs.writeFile(path.join(contextDir, 'Dockerfile'), 'FROM busybox:latest\n');
  });
  afterAll(() => fs.rm(contextDir, { recursive: true, force: true }));
  afterEach(async () => {
    await Promise.all(servers.map((s) => s.close()));
    servers = [];
  });
  return { contextDir: () => contextDir, track: (...started) => servers.push(...started) };
}
