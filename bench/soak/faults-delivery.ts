// The soak's delivery faults, beside the planned ones: a poison request (its replica is killed every time it
// takes it), a kill switch thrown in the middle of a build, a replica whose work directory becomes unwritable
// for a while, and finishes slower than the reporter's budget (the Manager slow to answer the lookup a reply
// needs). Each has requests of its own (the work directory strikes whatever the stream sends), and the figures
// they are judged by come from what the orchestrator received, the replicas' logs and the engines: poison
// requests dead-lettered or still looping, replies per workflow, runs after a reply, builds of one workflow
// running at the same time, and build containers and dangling images left on the engines.
import fs from 'node:fs';
import path from 'node:path';
import { dockerModem } from '../../test/harness/docker';
import { serviceRequest, slowBuild, withExchangeCopies } from '../../test/integration/service/helpers';
import { seedRepos, type RequestJson } from '../../test/integration/workflow/helpers';
import type { FakeManagerSeed } from '../../test/fakes/manager';
import { idOf } from './analyse';
import type { Orchestrator } from './orchestrator';
import type { Replica } from './replica';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The replicas' FINISH_TIMEOUT_SECONDS: short enough for the Manager to outlast it with the reporter's stop time,
 * long enough that the stream's own finishes, slowed by the planned faults, seldom do.
 */
export const SOAK_FINISH_TIMEOUT_SECONDS = 15;
/** The replicas' HTTP_TIMEOUT_SECONDS. */
export const SOAK_HTTP_TIMEOUT_SECONDS = 10;
/**
 * A slow finish's lookup is left unanswered this many times, each until the replica's HTTP timeout gives up on
 * it and retries: three times (30 s and the backoff) is past the finish budget and the reporter's 5 s stop time,
 * when the workflow has ended.
 */
const SLOW_LOOKUP_TIMEOUTS = 3;
/** Longer than the HTTP timeout, so the Manager's answer never arrives in time. */
const SLOW_LOOKUP_MS = SOAK_HTTP_TIMEOUT_SECONDS * 1000 + 5_000;
/**
 * The reply exchange of each slow finish: the orchestration exchange under an id of its own, which no replica has
 * looked up yet, so the reply's lookup of it reaches the Manager (lookups are kept five minutes).
 */
const SLOW_FINISH_EXCHANGE_IDS = [901, 902, 903];

/** What the reply to a workflow the kill switch stopped says. */
const KILL_SWITCH_REASON = /marked as errored in the Manager/;
/** A failure of one of the stream's faults: an engine stopped under the build, an outage longer than the budget. */
const OTHER_FAULT = /docker engine \S+ is unreachable|unavailable for [\d.]+ s \(/;
/** Requests the kill switch is thrown for at most, when other faults fail its builds first. */
const KILL_SWITCH_TRIES = 3;
/** What the intake logs when a workflow ends with its reply still going out: the slow finish struck. */
const REPLY_OUTLIVED_WORKFLOW =
  'the workflow ended while its reply was going out; the reply decides its delivery';

/** The Manager's seed with the slow finishes' reply exchanges: copies of `exchangeId` under their own ids. */
export function withSlowFinishExchanges(seed: FakeManagerSeed, exchangeId: string): FakeManagerSeed {
  return withExchangeCopies(seed, exchangeId, SLOW_FINISH_EXCHANGE_IDS);
}

/** What the faults need of the soak's rig. */
export interface DeliveryRig {
  readonly orchestrator: Orchestrator;
  readonly replicas: readonly Replica[];
  readonly manager: {
    setWorkflow(id: string, body: Record<string, unknown>): void;
    delayNext(path: string, ms: number, times?: number): void;
  };
  /**
   * The build engines' Docker hosts (`unix://…`). The first ones are shared with whatever else uses the test
   * environment, so what is left there is shown only; the last is the soak's own, and must be left clean.
   */
  readonly engines: readonly string[];
  /** The replicas' MAX_DELIVERIES. */
  readonly maxDeliveries: number;
  readonly readyTimeoutMs: number;
  readonly say: (text: string) => void;
}

/** A fault's window, as the report sets failed workflows against. */
export interface DeliveryWindow {
  readonly kind: string;
  readonly from: number;
  readonly to: number;
}

interface LogLine {
  readonly message?: unknown;
  readonly workflow_id?: unknown;
  readonly step?: unknown;
  readonly outcome?: unknown;
  readonly timestamp?: unknown;
}

/** The JSON lines of a replica's log file, with their time. */
function logLines(file: string): (LogLine & { at: number })[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').flatMap((line) => {
    try {
      const parsed = JSON.parse(line) as LogLine;
      const at = typeof parsed.timestamp === 'string' ? Date.parse(parsed.timestamp) : NaN;
      return Number.isFinite(at) ? [{ ...parsed, at }] : [];
    } catch {
      return [];
    }
  });
}

/**
 * The workflows whose build step ran in two places at once, from the replicas' logs: a build runs from its
 * `step started` to its `step finished`, or, when its replica was killed, to the kill (`kills`, ms since the
 * epoch; the engine drops a build whose client is gone) or else that replica's next start.
 */
export function concurrentBuilds(logs: readonly { file: string; kills: readonly number[] }[]): string[] {
  const runs = new Map<string, { from: number; to: number }[]>();
  for (const { file, kills } of logs) {
    const open = new Map<string, number>();
    const lines = logLines(file);
    const close = (id: string, to: number): void => {
      const from = open.get(id);
      if (from === undefined) return;
      open.delete(id);
      const killed = kills.find((at) => at >= from && at <= to);
      runs.set(id, [...(runs.get(id) ?? []), { from, to: killed ?? to }]);
    };
    for (const line of lines) {
      if (line.message === 'registered with the Manager')
        for (const id of [...open.keys()]) close(id, line.at);
      if (typeof line.workflow_id !== 'string' || line.step !== 'build') continue;
      if (line.message === 'step started') open.set(line.workflow_id, line.at);
      if (line.message === 'step finished') close(line.workflow_id, line.at);
    }
    const end = lines.at(-1)?.at ?? Date.now();
    for (const id of [...open.keys()]) close(id, end);
  }
  return [...runs].flatMap(([id, list]) =>
    list.some((a, i) => list.some((b, j) => i < j && a.from < b.to && b.from < a.to)) ? [id] : [],
  );
}

/**
 * The workflows in flight on `replica`, from its `/healthz`. A planned kill may have it down or starting: the
 * process that answers within 30 s is asked (a restarted one holds only what it took since).
 */
async function inFlight(replica: Replica): Promise<string[]> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if (!replica.running) throw new Error(`replica ${replica.name} is not running`);
      const res = await fetch(`http://${replica.options.healthListen}/healthz`, {
        signal: AbortSignal.timeout(5_000),
      });
      const body = (await res.json()) as { workload?: { workflow_id: string }[] };
      return (body.workload ?? []).map((w) => w.workflow_id);
    } catch (err) {
      if (Date.now() >= deadline) throw err;
      await sleep(250);
    }
  }
}

/** Container and dangling image ids on one engine. */
async function engineState(host: string): Promise<{ containers: string[]; dangling: string[] }> {
  const modem = dockerModem(host.replace(/^unix:\/\//, ''));
  const get = (path: string, options: Record<string, unknown>): Promise<{ Id: string }[]> =>
    new Promise((resolve, reject) =>
      modem.dial({ path, method: 'GET', options, statusCodes: { 200: true } }, (err, data) =>
        err ? reject(err) : resolve(data as { Id: string }[]),
      ),
    );
  return {
    containers: (await get('/containers/json?', { all: true })).map((c) => c.Id),
    dangling: (await get('/images/json?', { filters: { dangling: ['true'] } })).map((i) => i.Id),
  };
}

export class DeliveryFaults {
  readonly windows: DeliveryWindow[] = [];
  private readonly notes: string[] = [];
  private readonly problems: string[] = [];
  /** The requests of these faults, by id, and the replies each should get. */
  private readonly own = new Map<string, { what: string; reason: RegExp }>();
  /** The slow finishes' requests. */
  private readonly slowIds: string[] = [];
  private poisonRuns = 0;
  private poisonId: string | undefined;
  private before = new Map<string, { containers: string[]; dangling: string[] }>();

  constructor(private readonly rig: DeliveryRig) {}

  /** Whether `id` is a request of these faults (its replies are not strays of the stream). */
  owns(id: string): boolean {
    return this.own.has(id);
  }

  /** What the engines hold before the stream: only what appears later is counted as left. */
  async begin(): Promise<void> {
    for (const host of this.rig.engines) this.before.set(host, await engineState(host));
  }

  /**
   * Runs the four faults, each from its share of `windowMs` from now (the slow finishes not before the work
   * directory is back), side by side. The kill switch and the slow
   * finishes strike their own requests only, so they open no window for the stream's workflows to be set against.
   */
  async run(windowMs: number): Promise<void> {
    const start = Date.now();
    const attempt = async (
      share: number,
      kind: string,
      fault: () => Promise<string>,
      strikesStream = true,
    ): Promise<void> => {
      const wait = start + windowMs * share - Date.now();
      if (wait > 0) await sleep(wait);
      const from = Date.now();
      try {
        this.notes.push(`${kind}: ${await fault()}`);
      } catch (err) {
        this.problems.push(`the ${kind} fault went wrong: ${(err as Error).message}`);
      }
      if (strikesStream) this.windows.push({ kind, from, to: Date.now() });
    };
    await Promise.all([
      attempt(0.1, 'poison', () => this.poison()),
      attempt(0.35, 'kill-switch', () => this.killSwitch(), false),
      // The slow finishes come after the unwritable work directory, which would fail their requests at the start.
      attempt(0.6, 'workdir', () => this.unwritableWorkDir(this.rig.replicas.at(-1) as Replica, 6_000)).then(
        () => attempt(0.8, 'slow-finish', () => this.slowFinishes(), false),
      ),
    ]);
  }

  /** A request whose replica is killed every time it takes it, until it is dead-lettered or seen looping. */
  private async poison(): Promise<string> {
    // Its build outlasts the kill by far: a run that finished and replied before the kill landed would be
    // answered again when dead-lettered (the at-least-once window between a reply and its ack).
    const request = serviceRequest(await seedRepos(slowBuild(10)));
    this.poisonId = request.id;
    this.own.set(request.id, {
      what: 'poison',
      reason: /the request was run \d+ times without finishing/,
    });
    this.rig.say(`DELIVERY FAULT poison request ${request.id}: its replica is killed whenever it takes it`);
    await this.rig.orchestrator.publish(request, 120_000);
    const seen = new Map<string, number>();
    const deadline = Date.now() + 300_000;
    while (Date.now() < deadline && this.poisonRuns <= this.rig.maxDeliveries + 2) {
      if (this.deadLettered(request.id)) break;
      for (const replica of this.rig.replicas) {
        const taken = logLines(replica.stderrFile).filter(
          (l) => l.message === 'delivery taken' && l.workflow_id === request.id,
        ).length;
        if (taken <= (seen.get(replica.name) ?? 0)) continue;
        seen.set(replica.name, taken);
        this.poisonRuns++;
        this.rig.say(`poison run ${this.poisonRuns} on replica ${replica.name}: kill -9`);
        await replica.kill9();
        // A planned kill may be restarting it as well.
        if (!replica.running) await replica.start(this.rig.readyTimeoutMs).catch(() => undefined);
      }
      await sleep(250);
    }
    return `${this.poisonRuns} run(s) killed; ${this.deadLettered(request.id) ? 'dead-lettered' : 'NOT dead-lettered'}`;
  }

  /**
   * A slow build whose workflow the Manager marks errored once its build has started. The stream's faults go on
   * meanwhile: a build that an engine stop or an outage failed before the switch could act was answered with that
   * failure, which says nothing of the switch; it must still be answered once, and the switch is thrown again on
   * a new request, up to {@link KILL_SWITCH_TRIES} in all.
   */
  private async killSwitch(): Promise<string> {
    const notes: string[] = [];
    for (let attempt = 1; attempt <= KILL_SWITCH_TRIES; attempt++) {
      const request: RequestJson = serviceRequest(await seedRepos(slowBuild(60)));
      this.own.set(request.id, { what: 'kill switch', reason: KILL_SWITCH_REASON });
      await this.rig.orchestrator.publish(request, 120_000);
      const building = (): boolean =>
        this.rig.orchestrator.messages('buildLogs').some((m) => m.fields?.workflow_id === request.id);
      const deadline = Date.now() + 120_000;
      while (!building() && Date.now() < deadline) await sleep(200);
      if (!building()) return [...notes, 'its build never started'].join('; ');
      this.rig.say(`DELIVERY FAULT kill switch thrown for ${request.id} mid-build`);
      const thrown = Date.now();
      // The workflow's own saves may land after ours; the mark is kept until the reply.
      while (this.repliesTo(request.id) === 0 && Date.now() < deadline + 120_000) {
        this.rig.manager.setWorkflow(request.id, { workflow_error: true, workflow_completed: true });
        await sleep(1_000);
      }
      const entries = this.replyEntries(request.id);
      const preempted =
        !entries.some((e) => KILL_SWITCH_REASON.test(e)) && entries.some((e) => OTHER_FAULT.test(e));
      notes.push(
        `replied ${((Date.now() - thrown) / 1000).toFixed(1)} s after the switch${preempted ? ', failed first by another fault' : ''}`,
      );
      if (!preempted) break;
      this.own.set(request.id, { what: 'kill switch pre-empted by another fault', reason: OTHER_FAULT });
    }
    return notes.join('; ');
  }

  /** The event log entries of the replies to `id`. */
  private replyEntries(id: string): string[] {
    return this.rig.orchestrator
      .messages('replies')
      .filter((m) => idOf(m) === id)
      .flatMap((m) => (Array.isArray(m.fields?.event_log) ? m.fields.event_log : []))
      .filter((e): e is string => typeof e === 'string');
  }

  /**
   * Requests whose finish outlasts the reporter's budget: each names a reply exchange of its own, and the Manager
   * lets the lookup of it time out SLOW_LOOKUP_TIMEOUTS times. The reply is claimed before that lookup, so it is
   * in flight when the workflow ends; it must still go out once, and its request must not run again.
   */
  private async slowFinishes(): Promise<string> {
    const requests = await Promise.all(
      SLOW_FINISH_EXCHANGE_IDS.map(async (exchangeId) => {
        const request = serviceRequest(await seedRepos(), {
          workflow_orchestration_exchange_id: String(exchangeId),
        });
        this.own.set(request.id, {
          what: 'slow finish',
          reason: /request is being processed by Builder/,
        });
        this.slowIds.push(request.id);
        this.rig.manager.delayNext(
          `/messaging/exchanges/${exchangeId}`,
          SLOW_LOOKUP_MS,
          SLOW_LOOKUP_TIMEOUTS,
        );
        return request;
      }),
    );
    this.rig.say(
      `DELIVERY FAULT slow finish: ${requests.length} requests whose reply's Manager lookup times out ${SLOW_LOOKUP_TIMEOUTS} times (${SOAK_HTTP_TIMEOUT_SECONDS} s each, budget ${SOAK_FINISH_TIMEOUT_SECONDS} s)`,
    );
    await Promise.all(requests.map((request) => this.rig.orchestrator.publish(request, 120_000)));
    const deadline = Date.now() + 180_000;
    while (requests.some((r) => this.repliesTo(r.id) === 0) && Date.now() < deadline) await sleep(500);
    const answered = requests.filter((r) => this.repliesTo(r.id) > 0).length;
    return `${answered} of ${requests.length} slow finish(es) answered`;
  }

  /**
   * The work directory of `replica` replaced by a file for `durationMs`, once it has nothing in flight: the
   * workflows it takes meanwhile cannot start.
   */
  private async unwritableWorkDir(replica: Replica, durationMs: number): Promise<string> {
    const root = replica.options.workRoot;
    const idleBy = Date.now() + 20_000;
    while (replica.workDirEntries().length > 0 && Date.now() < idleBy) await sleep(100);
    this.rig.say(
      `DELIVERY FAULT work directory of replica ${replica.name} unwritable for ${durationMs / 1000} s`,
    );
    const moved = replica.workDirEntries();
    // Moved aside in one step: the replica may be writing into it.
    const aside = `${root}.aside`;
    fs.renameSync(root, aside);
    fs.writeFileSync(root, 'not a directory');
    await sleep(durationMs);
    fs.rmSync(root, { force: true });
    fs.renameSync(aside, root);
    // The directories of workflows that ended meanwhile are back, but their workflows could not remove them
    // where the fault had moved them: that is the fault's doing, not the builder's, so the fault clears them.
    const running = await inFlight(replica);
    const cleared = moved.filter((entry) => !running.some((id) => entry.startsWith(id)));
    for (const entry of cleared) fs.rmSync(path.join(root, entry), { recursive: true, force: true });
    return `${moved.length} work dir(s) of replica ${replica.name} in flight when it broke, ${cleared.length} of ended workflows cleared`;
  }

  /**
   * Per slow finish, from the replicas' logs: whether its workflow ended with its reply still going out, the runs
   * and builds that came after its reply reached the orchestrator, and the builds it completed in all (a planned
   * fault may rerun it before its reply). The fault must strike at least one of them to have tested anything.
   */
  private slowFinishFigures(out: (text: string) => void, missed: string[]): void {
    if (this.slowIds.length === 0) return;
    const lines = this.rig.replicas.flatMap((r) => logLines(r.stderrFile));
    const of = (id: string, message: string): (LogLine & { at: number })[] =>
      lines.filter((l) => l.workflow_id === id && l.message === message);
    const rows = this.slowIds.map((id) => {
      const firstReply = Math.min(
        ...this.rig.orchestrator
          .messages('replies')
          .filter((m) => idOf(m) === id)
          .map((m) => this.rig.orchestrator.arrivedAt(m) ?? Infinity),
      );
      const builds = of(id, 'step finished').filter((l) => l.step === 'build' && l.outcome === 'ok');
      return {
        id,
        struck: of(id, REPLY_OUTLIVED_WORKFLOW).length > 0,
        afterReply:
          of(id, 'delivery taken').filter((l) => l.at > firstReply).length +
          builds.filter((l) => l.at > firstReply).length,
        builds: builds.length,
      };
    });
    const struck = rows.filter((r) => r.struck).length;
    const afterReply = rows.reduce((n, r) => n + r.afterReply, 0);
    out(
      `  slow finishes (the reply's Manager lookup timed out ${SLOW_LOOKUP_TIMEOUTS} x ${SOAK_HTTP_TIMEOUT_SECONDS} s, budget ${SOAK_FINISH_TIMEOUT_SECONDS} s): ${rows.length}, ended with the reply going out ${struck}, runs or builds after a reply ${afterReply}, builds completed ${rows.map((r) => r.builds).join('/')}`,
    );
    if (struck === 0) missed.push('no slow finish ended with its reply going out: the fault tested nothing');
    for (const r of rows)
      if (r.afterReply > 0) missed.push(`${r.id} ran or built ${r.afterReply} more time(s) after its reply`);
  }

  private deadLettered(id: string): boolean {
    return this.rig.orchestrator.messages('deadLetters').some((m) => idOf(m) === id);
  }

  private repliesTo(id: string): number {
    return this.rig.orchestrator.messages('replies').filter((m) => idOf(m) === id).length;
  }

  /**
   * The figures, read once the replicas have stopped: lines for the report and the goals missed. `streamIds`
   * are the requests of the stream, whose replies are counted beside these faults' own.
   */
  async figures(streamIds: readonly string[]): Promise<{ lines: string[]; missed: string[] }> {
    const lines: string[] = [];
    const missed = [...this.problems];
    const out = (text: string): void => void lines.push(text);

    const poison = this.poisonId;
    const looping = poison !== undefined && !this.deadLettered(poison) ? 1 : 0;
    out(
      `  poison messages dead-lettered / looping: ${poison === undefined ? 0 : 1 - looping} / ${looping} (runs killed: ${this.poisonRuns}, MAX_DELIVERIES ${this.rig.maxDeliveries})`,
    );
    if (looping > 0) missed.push('a poison message is looping');
    if (poison !== undefined && this.poisonRuns > this.rig.maxDeliveries)
      missed.push(`the poison message ran ${this.poisonRuns} times`);

    const counts = new Map<number, number>();
    for (const id of streamIds) {
      const n = this.repliesTo(id);
      counts.set(n, (counts.get(n) ?? 0) + 1);
    }
    const spread = [...counts.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([n, workflows]) => `${n} repl${n === 1 ? 'y' : 'ies'}: ${workflows}`)
      .join(', ');
    out(`  replies per workflow of the stream: ${spread} (more than one only where idempotent, see above)`);
    for (const [id, { what, reason }] of this.own) {
      const replies = this.rig.orchestrator.messages('replies').filter((m) => idOf(m) === id);
      const why = this.replyEntries(id).some((e) => reason.test(e));
      out(
        `  replies to the ${what} request: ${replies.length} (exactly 1 expected, its reason ${why ? 'given' : 'MISSING'})`,
      );
      if (replies.length !== 1 || !why)
        missed.push(`the ${what} request got ${replies.length} replies${why ? '' : ' without its reason'}`);
    }
    this.slowFinishFigures(out, missed);

    const concurrent = concurrentBuilds(
      this.rig.replicas.map((r) => ({ file: r.stderrFile, kills: r.killedAt })),
    );
    out(
      `  concurrent builds of one workflow: ${concurrent.length}${concurrent.length > 0 ? ` (${concurrent.join(', ')})` : ''}`,
    );
    if (concurrent.length > 0) missed.push(`${concurrent.length} workflow(s) built twice at once`);

    for (const host of this.rig.engines) {
      const before = this.before.get(host) ?? { containers: [], dangling: [] };
      const own = host === this.rig.engines.at(-1);
      try {
        const now = await engineState(host);
        const containers = now.containers.filter((id) => !before.containers.includes(id)).length;
        const dangling = now.dangling.filter((id) => !before.dangling.includes(id)).length;
        out(
          `  engine ${host}${own ? " (the soak's own)" : ' (shared, shown only)'}: build containers left ${containers}, dangling images left ${dangling}`,
        );
        if (own && containers > 0) missed.push(`${containers} build container(s) left on ${host}`);
        if (own && dangling > 0) missed.push(`${dangling} dangling image(s) left on ${host}`);
      } catch (err) {
        missed.push(`engine ${host} could not be read: ${(err as Error).message}`);
      }
    }
    out(`  delivery faults: ${this.notes.join('; ') || 'none ran'}`);
    return { lines, missed };
  }
}
