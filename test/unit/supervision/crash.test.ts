import { execFile } from 'node:child_process';
import path from 'node:path';
import {
  defineActor,
  startTree,
  type ActorBehaviour,
  type ActorRef,
  type ChildExit,
} from '../../../actors/supervision';
import { crashes, type Go } from './faults';

/** A root that starts `child` as `c` and hands every exit of it to `seen`, with the ref it started. */
function watcher(
  child: () => ActorBehaviour<Go, void>,
  seen: (exit: ChildExit, started: ActorRef<Go>) => void,
): ActorBehaviour<never, ActorRef<Go>> {
  return defineActor<never, ActorRef<Go>>({
    init: (ctx) => ctx.spawnChild('c', child()),
    handle: (_msg, started) => started,
    onChildExit: (exit, started) => {
      seen(exit, started);
      return started;
    },
  });
}

interface ScenarioRun {
  readonly code: number | string | null | undefined;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs crash-scenario.ts in a child node with the runtime's defaults, so an unhandled rejection or an
 * uncaught exception would end it with code 1. The TypeScript is transpiled on require, file by file.
 */
function runScenario(): Promise<ScenarioRun> {
  const script = `
    const { readFileSync } = require('node:fs');
    const ts = require(${JSON.stringify(require.resolve('typescript'))});
    const compilerOptions = {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2022,
      esModuleInterop: true,
    };
    require.extensions['.ts'] = (module, filename) => {
      const source = readFileSync(filename, 'utf8');
      module._compile(ts.transpileModule(source, { compilerOptions }).outputText, filename);
    };
    require(${JSON.stringify(path.join(__dirname, 'crash-scenario.ts'))});
  `;
  return new Promise((resolve) => {
    execFile(process.execPath, ['-e', script], { timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? error.code : 0, stdout, stderr }),
    );
  });
}

describe('a crash', () => {
  it.each(crashes.map((crash) => [crash.what, crash] as const))(
    'of a child that %s reaches its parent as an exit with the child id and the reason',
    async (_what, crash) => {
      const before = Date.now();
      let report!: (seen: { exit: ChildExit; started: ActorRef<Go> }) => void;
      const reported = new Promise<{ exit: ChildExit; started: ActorRef<Go> }>(
        (resolve) => (report = resolve),
      );
      const tree = await startTree(
        watcher(crash.child, (exit, started) => report({ exit, started })),
        { id: 'watcher' },
      );
      const { exit, started } = await reported;
      expect(exit).toMatchObject({
        id: 'c',
        ref: started,
        exit: { kind: 'crashed', reason: { ...crash.reason, path: 'watcher/c' } },
      });
      const at = 'reason' in exit.exit ? Date.parse(exit.exit.reason.at) : NaN;
      expect(at).toBeGreaterThanOrEqual(before);
      expect(at).toBeLessThanOrEqual(Date.now());
      expect(tree.health().root.state).toBe('running');
      await tree.stop();
    },
  );

  it('never ends the Node process, wherever an actor throws or rejects', async () => {
    const run = await runScenario();
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(run.stdout)).toEqual({
      starts: {
        ...Object.fromEntries(crashes.map((_, i) => [`crash-${i}`, 'started'])),
        'fails-init': 'ChildStartError',
        'throws-in-terminate': 'started',
        'throws-after-stop-began': 'started',
      },
      stops: { 'throws-in-terminate': 'stopped', 'throws-after-stop-began': 'stopped' },
      exits: crashes.map((crash, i) => `crash-${i}:crashed:${crash.reason.name}`).sort(),
      parent: 'running',
    });
  });
});
