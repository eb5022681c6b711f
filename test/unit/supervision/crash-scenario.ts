// Run by crash.test.ts in a child process with the runtime's defaults and no process guard: any failure
// below that escaped the supervision layer would end the process with code 1 before the report is printed.
import {
  ask,
  defineActor,
  startTree,
  type ActorBehaviour,
  type ActorRef,
  type ReplyTo,
} from '../../../actors/supervision';
import { crashes, onGo, type Go } from './faults';

let handlerRunning!: () => void;
const lateHandlerStarted = new Promise<void>((resolve) => (handlerRunning = resolve));

const children: Record<string, () => ActorBehaviour<Go, void>> = {
  ...Object.fromEntries(crashes.map((crash, i) => [`crash-${i}`, crash.child])),
  'fails-init': () =>
    defineActor<Go>({
      init: () => {
        throw new Error('init failed');
      },
      handle: () => undefined,
    }),
  'throws-in-terminate': () =>
    defineActor<Go>({
      init: () => undefined,
      handle: () => undefined,
      terminate: () => {
        throw new Error('terminate threw');
      },
    }),
  'throws-after-stop-began': () =>
    onGo(async (ctx) => {
      handlerRunning();
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
      throw new Error('late failure');
    }),
};

type ParentMsg =
  | { readonly type: 'start'; readonly id: string; readonly replyTo: ReplyTo<string> }
  | { readonly type: 'stop'; readonly id: string; readonly replyTo: ReplyTo<string> };

function parent(onExit: (line: string) => void): ActorBehaviour<ParentMsg, Map<string, ActorRef<Go>>> {
  return defineActor<ParentMsg, Map<string, ActorRef<Go>>>({
    init: () => new Map(),
    async handle(msg, started, ctx) {
      if (msg.type === 'stop') {
        const ref = started.get(msg.id);
        ctx.reply(msg.replyTo, ref ? await ctx.stopChild(ref) : 'not started');
        return started;
      }
      const child = children[msg.id];
      if (!child) throw new Error(`no child ${msg.id}`);
      try {
        started.set(msg.id, await ctx.spawnChild(msg.id, child()));
        ctx.reply(msg.replyTo, 'started');
      } catch (error) {
        ctx.reply(msg.replyTo, error instanceof Error ? error.name : String(error));
      }
      return started;
    },
    onChildExit: (exit, started) => {
      onExit(`${exit.id}:${exit.exit.kind}:${'reason' in exit.exit ? exit.exit.reason.name : '-'}`);
      return started;
    },
  });
}

async function main(): Promise<void> {
  const exits: string[] = [];
  let allCrashed!: () => void;
  const crashed = new Promise<void>((resolve) => (allCrashed = resolve));
  const tree = await startTree(
    parent((line) => {
      exits.push(line);
      if (exits.length === crashes.length) allCrashed();
    }),
    { id: 'parent' },
  );
  const starts: Record<string, string> = {};
  for (const id of Object.keys(children)) starts[id] = await ask(tree.root, { type: 'start', id }, 10_000);
  await lateHandlerStarted;
  const stops: Record<string, string> = {};
  for (const id of ['throws-in-terminate', 'throws-after-stop-began']) {
    stops[id] = await ask(tree.root, { type: 'stop', id }, 10_000);
  }
  await crashed;
  // A rejection nobody handled is reported after the microtasks of the turn it happened in; give it turns.
  await new Promise((resolve) => setTimeout(resolve, 50));
  const report = { starts, stops, exits: exits.sort(), parent: tree.health().root.state };
  await tree.stop();
  process.stdout.write(JSON.stringify(report));
}

void main();
