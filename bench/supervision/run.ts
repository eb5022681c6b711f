// Supervision layer figures: spawning and stopping workflow actors, memory per idle actor, and ask round
// trips through one and two levels (raw nact `query` alongside, for the cost of the layer).
// Run from the repository root: npm run bench:supervision
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { dispatch, query, spawn, start, stop, type Ref } from 'nact';
import { startWorkflow, workflowsSupervisor } from '../../actors/workflows';
import {
  ask,
  defineActor,
  startTree,
  type ActorRef,
  type ChildReport,
  type ReplyTo,
} from '../../actors/supervision';

const WORKFLOWS = 10_000;
const ROUND_TRIPS = 20_000;
const WARMUP = 2_000;

type Plan = 'idle' | 'finish';

/** A workflow that does nothing but exist, or ends itself as soon as it has started. */
function benchWorkflow(_id: string, plan: Plan) {
  return defineActor<never>({
    init: (ctx) => {
      if (plan === 'finish') ctx.stop();
    },
    handle: () => undefined,
  });
}

// --expose-gc without asking whoever runs the bench for a flag.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

function ms(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

async function spawnAndStop(): Promise<Record<string, string>> {
  let ended = 0;
  let allEnded!: () => void;
  const done = new Promise<void>((resolve) => (allEnded = resolve));
  const onWorkflowExit = (_report: ChildReport): void => {
    ended += 1;
    if (ended === WORKFLOWS) allEnded();
  };
  const tree = await startTree(
    workflowsSupervisor<Plan, never>({ workflow: benchWorkflow, maxWorkflows: WORKFLOWS, onWorkflowExit }),
    { id: 'workflows' },
  );
  const before = heapUsed();
  let t = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: WORKFLOWS }, (_, i) => startWorkflow(tree.root, `wf-${i}`, 'idle', 600_000)),
  );
  const spawnMs = ms(t);
  const perActor = (heapUsed() - before) / WORKFLOWS;
  t = process.hrtime.bigint();
  await tree.stop();
  await done;
  const stopMs = ms(t);

  ended = 0;
  const finishing = new Promise<void>((resolve) => (allEnded = resolve));
  const tree2 = await startTree(
    workflowsSupervisor<Plan, never>({ workflow: benchWorkflow, maxWorkflows: WORKFLOWS, onWorkflowExit }),
    { id: 'workflows' },
  );
  t = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: WORKFLOWS }, (_, i) => startWorkflow(tree2.root, `wf-${i}`, 'finish', 600_000)),
  );
  await finishing;
  const lifecycleMs = ms(t);
  await tree2.stop();
  return {
    [`spawn ${WORKFLOWS} idle workflows`]: `${spawnMs.toFixed(0)} ms (${((spawnMs * 1000) / WORKFLOWS).toFixed(1)} µs each)`,
    [`stop them (supervisor shutdown)`]: `${stopMs.toFixed(0)} ms (${((stopMs * 1000) / WORKFLOWS).toFixed(1)} µs each)`,
    [`spawn ${WORKFLOWS} that end themselves, until all reported`]: `${lifecycleMs.toFixed(0)} ms`,
    ['heap per idle workflow actor']: `${(perActor / 1024).toFixed(2)} KiB`,
  };
}

type Hop = { readonly type: 'hop'; readonly replyTo: ReplyTo<number> };

/** The innermost level: answers `hop` itself. */
function leaf() {
  return defineActor<Hop>({
    init: () => undefined,
    handle: (msg, _state, ctx) => ctx.reply(msg.replyTo, 1),
  });
}

function summary(samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
  return `mean ${mean.toFixed(1)} µs, p50 ${at(0.5).toFixed(1)} µs, p99 ${at(0.99).toFixed(1)} µs`;
}

async function timeRoundTrips(once: () => Promise<unknown>): Promise<string> {
  for (let i = 0; i < WARMUP; i += 1) await once();
  const samples: number[] = [];
  for (let i = 0; i < ROUND_TRIPS; i += 1) {
    const t = process.hrtime.bigint();
    await once();
    samples.push(Number(process.hrtime.bigint() - t) / 1e3);
  }
  return summary(samples);
}

async function roundTrips(): Promise<Record<string, string>> {
  // Level 2 is a child of level 1, which asks it before answering.
  const twoLevels = defineActor<Hop, ActorRef<Hop>>({
    init: (ctx) => ctx.spawnChild('inner', leaf()),
    async handle(msg, inner, ctx) {
      ctx.reply(msg.replyTo, 1 + (await ask(inner, { type: 'hop' }, 60_000)));
      return inner;
    },
  });
  const one = await startTree(leaf(), { id: 'one' });
  const two = await startTree(twoLevels, { id: 'two' });
  const result = {
    ['ask, one level']: await timeRoundTrips(() => ask(one.root, { type: 'hop' }, 60_000)),
    ['ask, two levels']: await timeRoundTrips(() => ask(two.root, { type: 'hop' }, 60_000)),
    ['raw nact query, one level']: await rawNactRoundTrips(),
  };
  await one.stop();
  await two.stop();
  return result;
}

async function rawNactRoundTrips(): Promise<string> {
  const system = start();
  const echo = spawn(system, (state: undefined, msg: { readonly sender: Ref<number> }) => {
    dispatch(msg.sender, 1);
    return state;
  });
  const figure = await timeRoundTrips(() => query(echo, (sender: Ref<number>) => ({ sender }), 60_000));
  stop(system);
  return figure;
}

async function main(): Promise<void> {
  console.log(`supervision bench (node ${process.version}, ${process.arch})`);
  const figures = { ...(await spawnAndStop()), ...(await roundTrips()) };
  const width = Math.max(...Object.keys(figures).map((k) => k.length));
  for (const [name, value] of Object.entries(figures)) console.log(`  ${name.padEnd(width)}  ${value}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
