import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

/**
 * The Dockerfile and .dockerignore, read as text (no image is built here: that needs the base image from a
 * registry). Checks what a build would get wrong silently, and runs the HEALTHCHECK command against a server.
 */

const ROOT = path.join(__dirname, '../../..');
const read = (file: string): string => fs.readFileSync(path.join(ROOT, file), 'utf8');

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  name: string;
  from: string;
  steps: Instruction[];
}

/** Instructions with continuation lines joined and comments dropped, grouped by stage. */
function parseDockerfile(text: string): { args: Instruction[]; stages: Stage[] } {
  const lines = text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
  const args: Instruction[] = [];
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, keyword = '', rest = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const instruction = { keyword: keyword.toUpperCase(), args: rest };
    if (instruction.keyword === 'FROM') {
      const [, from = '', name = ''] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest) ?? [];
      stages.push({ name, from, steps: [] });
    } else if (stages.length === 0) args.push(instruction);
    else stages[stages.length - 1]?.steps.push(instruction);
  }
  return { args, stages };
}

const dockerfile = parseDockerfile(read('Dockerfile'));
const stage = (name: string): Stage => {
  const found = dockerfile.stages.find((s) => s.name === name);
  if (!found) throw new Error(`no stage ${name}`);
  return found;
};
const all = (s: Stage, keyword: string): string[] =>
  s.steps.filter((i) => i.keyword === keyword).map((i) => i.args);
/** Sources of the COPY instructions that read the build context (not another stage). */
const contextSources = (s: Stage): string[] =>
  all(s, 'COPY')
    .filter((args) => !args.startsWith('--from'))
    .flatMap((args) => args.split(/\s+/).slice(0, -1));

function healthcheck(): string[] {
  const args = all(stage('runtime'), 'HEALTHCHECK')[0] ?? '';
  const json = args.slice(args.indexOf('CMD') + 3).trim();
  return JSON.parse(json) as string[];
}

function runHealthcheck(listen: string): Promise<number | null> {
  const [command = '', ...rest] = healthcheck();
  return new Promise((resolve) => {
    const child = spawn(command === 'node' ? process.execPath : command, rest, {
      env: { PATH: process.env.PATH ?? '', HEALTH_LISTEN: listen },
      stdio: 'ignore',
    });
    child.once('exit', (code) => resolve(code));
  });
}

describe('Dockerfile', () => {
  it('builds from the pinned Node LTS image in four stages, the runtime last', () => {
    expect(dockerfile.args).toEqual([{ keyword: 'ARG', args: 'NODE_IMAGE=node:22-bookworm-slim' }]);
    expect(dockerfile.stages.map((s) => [s.name, s.from])).toEqual([
      ['build', '${NODE_IMAGE}'],
      ['deps', '${NODE_IMAGE}'],
      ['tools', '${NODE_IMAGE}'],
      ['runtime', '${NODE_IMAGE}'],
    ]);
  });

  it('compiles with every dependency and ships only the production ones', () => {
    const build = all(stage('build'), 'RUN');
    expect(build.some((r) => /^npm ci\b/.test(r) && !r.includes('--omit'))).toBe(true);
    expect(build).toContain('npm run build');
    expect(all(stage('deps'), 'RUN').some((r) => /^npm ci .*--omit=dev/.test(r))).toBe(true);
    const runtime = stage('runtime');
    expect(all(runtime, 'COPY')).toEqual(
      expect.arrayContaining([
        '--from=deps /app/node_modules ./node_modules',
        '--from=build /app/dist ./dist',
        'bin ./bin',
        'config ./config',
      ]),
    );
    expect(all(runtime, 'RUN')).toEqual([]);
    expect(
      contextSources(runtime).filter((s) => /^(src|actors|test|scripts|node_modules)\b/.test(s)),
    ).toEqual([]);
  });

  it('gives the build stage every input of tsconfig.build.json', () => {
    const tsconfig = JSON.parse(read('tsconfig.build.json')) as { include: string[]; extends?: string };
    expect(tsconfig.extends).toBeUndefined();
    const sources = contextSources(stage('build'));
    for (const dir of tsconfig.include) expect(sources).toContain(dir);
    expect(sources).toContain('tsconfig.build.json');
  });

  it('needs nothing at run time that --omit=dev leaves out', () => {
    const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string> };
    const used = new Set<string>();
    const walk = (dir: string): void => {
      for (const entry of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
        const rel = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(rel);
        else if (entry.name.endsWith('.ts')) {
          const text = read(rel);
          for (const m of text.matchAll(/^(?:import|export)\s+(type\s+)?([\s\S]*?)\s*from\s+'([^']+)'/gm)) {
            const [, typeOnly, names = '', from = ''] = m;
            const allTypes = /^\{[^}]*\}$/.test(names) && /^\{\s*(type\s+[^,}]+,?\s*)+\}$/.test(names);
            if (typeOnly || allTypes || from.startsWith('.') || from.startsWith('node:')) continue;
            used.add(
              from.startsWith('@') ? from.split('/').slice(0, 2).join('/') : (from.split('/')[0] ?? from),
            );
          }
        }
      }
    };
    walk('src');
    walk('actors');
    expect(used.size).toBeGreaterThan(5);
    expect([...used].filter((name) => !(name in pkg.dependencies))).toEqual([]);
  });

  it('runs bin/oa-builder.js serve as a non-root user', () => {
    const runtime = stage('runtime');
    const user = all(runtime, 'USER').pop();
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    expect(all(runtime, 'ENTRYPOINT')).toEqual(['["node", "bin/oa-builder.js"]']);
    expect(all(runtime, 'CMD')).toEqual(['["serve"]']);
    expect(read('bin/oa-builder.js')).toContain("require('./load-bundle')");
    expect(read('bin/load-bundle.js')).toContain("path.join(__dirname, '..', 'dist', 'oa-builder.js')");
  });

  it('keeps everything but what it copies out of the build context', () => {
    const ignore = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    expect(ignore[0]).toBe('*');
    const included = ignore.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
    const sources = dockerfile.stages.flatMap(contextSources);
    expect([...new Set(sources)].sort()).toEqual([...included].sort());
    for (const source of sources) expect(fs.existsSync(path.join(ROOT, source))).toBe(true);
  });

  describe('HEALTHCHECK', () => {
    let server: http.Server;
    let port: number;
    let status = 200;
    const paths: string[] = [];
    beforeAll(async () => {
      server = http.createServer((req, res) => {
        paths.push(req.url ?? '');
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end('{}');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as AddressInfo).port;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('uses node, not curl, and asks /healthz on HEALTH_LISTEN', async () => {
      expect(healthcheck().slice(0, 2)).toEqual(['node', '-e']);
      status = 200;
      paths.length = 0;
      await expect(runHealthcheck(`127.0.0.1:${port}`)).resolves.toBe(0);
      expect(paths).toEqual(['/healthz']);
    });

    it('asks a wildcard address on loopback', async () => {
      status = 200;
      await expect(runHealthcheck(`0.0.0.0:${port}`)).resolves.toBe(0);
      await expect(runHealthcheck(`:${port}`)).resolves.toBe(0);
    });

    it('fails on 503 (the tree is down), on no answer and on a bad address', async () => {
      status = 503;
      await expect(runHealthcheck(`127.0.0.1:${port}`)).resolves.toBe(1);
      const closed = http.createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const free = (closed.address() as AddressInfo).port;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      await expect(runHealthcheck(`127.0.0.1:${free}`)).resolves.toBe(1);
      await expect(runHealthcheck('nonsense')).resolves.toBe(1);
    });
  });
});
