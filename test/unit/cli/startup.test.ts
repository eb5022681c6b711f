// What starting the CLI loads: read from require.cache in a child process that loads the compiled commands,
// and from the bundle of them that bin/oa-builder.js runs. The validators are generated ahead of time
// (src/validation/generate.ts) so that TypeBox and ajv's compiler, more than half of the start-up, stay out of
// both (docs/design.md).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildIfStale, COMPILED_CLI } from '../../harness/build';
import { REPO_ROOT } from '../../harness/env';

const run = promisify(execFile);

const LOAD_COMMANDS = `
  const cli = require('node:path').join(process.argv[1], 'dist/src/cli');
  for (const command of ['main', 'run', 'serve']) require(\`\${cli}/\${command}\`);
  process.stdout.write(JSON.stringify(Object.keys(require.cache)));
`;

let loaded: string[];

beforeAll(async () => {
  await buildIfStale();
  const { stdout } = await run(process.execPath, ['-e', LOAD_COMMANDS, REPO_ROOT]);
  loaded = (JSON.parse(stdout) as string[]).map((file) =>
    path.relative(REPO_ROOT, file).split(path.sep).join('/'),
  );
}, 120_000);

describe('loading the commands run and serve', () => {
  it('loads the generated validators of the configuration, of build requests and of Manager answers', () => {
    expect(loaded).toEqual(
      expect.arrayContaining([
        'dist/src/config/validators.generated.js',
        'dist/src/messages/validators.generated.js',
        'dist/src/manager/validators.generated.js',
      ]),
    );
  });

  it('loads no module of TypeBox', () => {
    expect(loaded.filter((file) => file.includes('node_modules/@sinclair/typebox/'))).toEqual([]);
  });

  it("loads of ajv only the runtime helpers the generated code requires, not ajv's compiler", () => {
    const ajv = loaded.filter((file) => file.startsWith('node_modules/ajv/'));
    expect(ajv.filter((file) => !file.startsWith('node_modules/ajv/dist/runtime/'))).toEqual([]);
  });
});

describe('the bundle that bin/oa-builder.js runs', () => {
  // esbuild heads each module it bundles with a comment naming its path.
  const bundled = (): string[] =>
    [...fs.readFileSync(COMPILED_CLI, 'utf8').matchAll(/^\/\/ (node_modules\/\S+)$/gm)].map(
      (m) => m[1] ?? '',
    );

  it('carries no module of TypeBox and of ajv only the runtime helpers', () => {
    const modules = bundled();
    expect(modules.length).toBeGreaterThan(100);
    expect(modules.filter((file) => file.startsWith('node_modules/@sinclair/typebox/'))).toEqual([]);
    expect(
      modules.filter(
        (file) => file.startsWith('node_modules/ajv/') && !file.startsWith('node_modules/ajv/dist/runtime/'),
      ),
    ).toEqual([]);
  });

  it('neither carries nor requires ssh2, which docker-modem loads for SSH engines the builder never dials', () => {
    expect(bundled().filter((file) => file.startsWith('node_modules/ssh2/'))).toEqual([]);
    expect(fs.readFileSync(COMPILED_CLI, 'utf8')).not.toMatch(/require\("ssh2"\)/);
  });
});

// Records what bin/oa-builder.js asks of V8, whether any of the builder's own code was loaded by then, and
// which of Node's built-in modules were (a built-in loaded after a V8 flag is set is compiled from source).
const WATCH_ENTRY = `
  const v8 = require('node:v8');
  const setFlags = v8.setFlagsFromString;
  v8.setFlagsFromString = (flags) => {
    const loadedSoFar = Object.keys(require.cache).filter((file) => file.includes('/dist/'));
    const builtins = process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13));
    process.stderr.write(JSON.stringify({ flags, loadedSoFar, builtins }) + '\\n');
    setFlags(flags);
  };
  process.argv = [process.argv[0], 'oa-builder', ...process.env.COMMAND.split(' ')];
  require(process.env.ENTRY);
`;

interface FlagCall {
  readonly flags: string;
  readonly loadedSoFar: string[];
  readonly builtins: string[];
}

async function flagCalls(command: string): Promise<FlagCall[]> {
  const { stderr } = await run(process.execPath, ['-e', WATCH_ENTRY], {
    env: { ...process.env, ENTRY: path.join(REPO_ROOT, 'bin/oa-builder.js'), COMMAND: command },
  }).catch((err: { stderr: string }) => err);
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as FlagCall);
}

describe('the oa-builder entry point', () => {
  it('keeps WebAssembly at the baseline tier, set before any of the builder is loaded', async () => {
    const calls = await flagCalls('help');
    expect(calls.map(({ flags, loadedSoFar }) => ({ flags, loadedSoFar }))).toEqual([
      { flags: '--liftoff-only', loadedSoFar: [] },
    ]);
  });

  it.each(['run', 'serve'])(
    "for %s, loads the built-ins a workflow uses before that flag, so that they come from Node's code cache",
    async (command) => {
      // A missing request file or settings: the command stops at once, after the entry point's own work.
      const [call] = await flagCalls(`${command} /nonexistent/request.json`);
      expect(call?.builtins).toEqual(
        expect.arrayContaining(['crypto', 'http', 'https', 'http2', 'zlib', 'internal/deps/undici/undici']),
      );
    },
  );
});
