// The hostile-input corpus against the service as it runs in production: every message a broken or malicious
// publisher could send, plus deployment repositories whose templates try to escape or loop, published to the
// builder queue of a real RabbitMQ topology, with the fake Manager, the test git server, dockerd and the
// authenticated registry behind it. Each case must end in the dead-letter queue with a reason, or as a failed
// workflow with a reason, reported wherever the message says; nothing may leak, hang, or stop the consumer.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import { decode, isMap, mapGet, type Term } from '../../../src/etf';
import { startFakeManager, type FakeManager } from '../../fakes/manager';
import { testEnv } from '../../harness/env';
import { baseRequest, hostileCorpus, type HostileCase } from '../../hostile/corpus';
import { TEMPLATE_BASE, templateCases, type Outside } from '../../hostile/templates';
import { BrokerAdmin, eventually } from '../amqp/topology';
import { seedFromDirectory, type SeededRepo } from '../git/helpers';
import { removeSeededRepos, scratchDir, seedRepos, type SeededRepos } from '../workflow/helpers';
import {
  managerSeed,
  provisionTopology,
  publishToBuilder,
  requestBytes,
  serviceRequest,
  startTestService,
  stopServices,
  tap,
  withField,
  PUBLISHED,
  type PublishedQueue,
  type ServiceTopology,
  type ServiceUnderTest,
  type Tapped,
} from './helpers';

const env = testEnv();
/** The password of the repository URL with credentials in the corpus. */
const URL_PASSWORD = 's3cr3t-pass';
/** Long enough for every case on a busy two-core machine; a case still open then is a hang. */
const SETTLE_MS = 150_000;
/** A reason longer than this is not a reason any more but an echo of the input. */
const MAX_REASON = 1_000;
const REASON_HEADER = 'x-oa-reject-reason';

/** One message of the run: a corpus case, or a deployment repository with a hostile template. */
interface Case extends HostileCase {
  /** What the failure reason must contain, for the template cases. */
  readonly reason?: string;
}

let workRoot: string;
let outsideDir: string;
let outside: Outside;
/** Text of `outside.secret`, which no output may carry. */
let outsideText: string;
let admin: BrokerAdmin;
let topology: ServiceTopology;
let manager: FakeManager;
let published: Record<PublishedQueue, Tapped[]>;
let deadLetters: Tapped[];
let repos: SeededRepos;
const templateRepos: SeededRepo[] = [];
let cases: Case[];
let running: ServiceUnderTest;
let finalRequest: ReturnType<typeof serviceRequest>;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => void unhandled.push(reason);

/** The builder's event-log entries in a reply to `id`, without their `[OA][<id>] ` prefix. */
function builderEntries(reply: Record<string, Term>, id: string): string[] {
  const prefix = `[OA][${id}] `;
  const log = Array.isArray(reply.event_log) ? reply.event_log : [];
  return log.flatMap((e) => (typeof e === 'string' && e.startsWith(prefix) ? [e.slice(prefix.length)] : []));
}

/** The reason a failure reply gives: the entry before the last one (which is the headline). */
const reasonIn = (reply: Record<string, Term>, id: string): string | undefined =>
  builderEntries(reply, id).at(-2);

/** Bidirectional overrides and isolates, which make a reason read differently from what it says. */
const REORDERING = /[\u202a-\u202e\u2066-\u2069]/;

const clear = (reason: unknown): reason is string =>
  typeof reason === 'string' &&
  reason.trim() !== '' &&
  reason.length <= MAX_REASON &&
  !REORDERING.test(reason);

const repliesTo = (id: string) => withField(published.workflow_orchestration, 'id', id);

const deadLetterOf = (c: Case): Tapped | undefined => deadLetters.find((d) => d.content.equals(c.bytes));

const terms = new Map<Case, Term | undefined>();
/** What a case decodes to, if it does; decoded once, since the waiting asks again and again. */
function termOf(c: Case): Term | undefined {
  if (!terms.has(c)) {
    try {
      terms.set(c, decode(c.bytes));
    } catch {
      terms.set(c, undefined);
    }
  }
  return terms.get(c);
}

/** The workflow id a case carries as text, which the builder reports it under. */
function idOf(c: Case): string | undefined {
  if (c.workflowId !== undefined) return c.workflowId;
  const term = termOf(c);
  const id = term !== undefined && isMap(term) ? mapGet(term, 'id') : undefined;
  return typeof id === 'string' ? id : undefined;
}

/** Whether a rejected case names where its failure reply goes, so the builder can send one. */
function routed(c: Case): boolean {
  const term = termOf(c);
  if (term === undefined || !isMap(term)) return false;
  return [
    'orchestration_queue_name',
    'workflow_orchestration_exchange_id',
    'workflow_orchestration_broker_id',
  ]
    .map((key) => mapGet(term, key))
    .every((value) => typeof value === 'string' && value !== '');
}

/** `text` as a test failure shows it: the start of it, and how long it really is. */
const brief = (text: unknown): string => {
  const shown = String(text);
  return shown.length > 120 ? `${shown.slice(0, 120)}... (${shown.length} characters)` : shown;
};

/** The reason of a case dead-lettered after decoding that names its workflow: the builder reports those. */
function reportableReason(c: Case): string | undefined {
  const reason = deadLetterOf(c)?.headers[REASON_HEADER];
  const decoded = typeof reason === 'string' && reason.startsWith('invalid build request: ');
  return decoded && idOf(c) !== undefined ? reason : undefined;
}

const systemEventMessages = (): string[] =>
  manager.state.requests
    .filter((r) => r.method === 'POST' && r.path === '/system_events')
    .map((r) => String((r.body as { message?: unknown } | undefined)?.message));

/** Whether a case rejected after decoding was told to the Manager and, when it has a reply route, answered. */
function reported(c: Case): boolean {
  const id = idOf(c) ?? '';
  const reason = reportableReason(c) ?? '';
  const told = systemEventMessages().includes(
    `Builder ${running.hostname} rejected build request ${id}: ${reason}`,
  );
  const entries = [reason, `Build request rejected by Builder ${running.hostname}`];
  const answered = repliesTo(id).some(
    (r) =>
      r.workflow_error === true &&
      r.workflow_completed === true &&
      builderEntries(r, id).slice(-2).join('\n') === entries.join('\n'),
  );
  return told && (answered || !routed(c));
}

const FULL = { depth: 10, breakLength: Infinity, maxArrayLength: Infinity, maxStringLength: Infinity };

/** Everything the builder said to the outside world, by where it went. */
function texts(): Record<string, string> {
  const all: Record<string, string> = {};
  for (const queue of PUBLISHED)
    published[queue].forEach((m, i) => (all[`${queue} #${i}`] = m.content.toString('latin1')));
  deadLetters.forEach((d, i) => (all[`dead-letter headers #${i}`] = inspect(d.headers, FULL)));
  manager.state.requests.forEach(
    (r, i) => (all[`Manager ${r.method} ${r.path} #${i}`] = JSON.stringify(r.body ?? null)),
  );
  running.log.lines.forEach((l, i) => (all[`log line ${i} (${brief(l.message)})`] = inspect(l, FULL)));
  return all;
}

const ackedIds = (): string[] =>
  running.log.lines.flatMap((l) =>
    l.message === 'delivery acked' && typeof l.fields.workflow_id === 'string' ? [l.fields.workflow_id] : [],
  );

/**
 * How each case ended: dead-lettered with a reason, or its workflow failed with one. Cases sharing a workflow
 * id (corruptions of one valid message) are judged together: as many of them as were not dead-lettered must
 * have run, and every reply to the id must be a failure with a reason.
 */
function outcomes(): Map<Case, 'rejected' | 'failed' | 'crashed'> {
  const acks = ackedIds();
  const ran = new Map<string, Case[]>();
  const ended = new Map<Case, 'rejected' | 'failed' | 'crashed'>();
  for (const c of cases) {
    const letter = deadLetterOf(c);
    if (letter) ended.set(c, clear(letter.headers[REASON_HEADER]) ? 'rejected' : 'crashed');
    else ran.set(idOf(c) ?? '', [...(ran.get(idOf(c) ?? '') ?? []), c]);
  }
  for (const [id, group] of ran) {
    const replies = repliesTo(id);
    const failedWithReason =
      acks.filter((a) => a === id).length >= group.length &&
      replies.length >= group.length &&
      replies.every((r) => r.workflow_error === true && clear(reasonIn(r, id)));
    for (const c of group) ended.set(c, failedWithReason ? 'failed' : 'crashed');
  }
  return ended;
}

const expected = (c: Case, ended: 'rejected' | 'failed' | 'crashed'): boolean =>
  ended !== 'crashed' && (c.expect === 'either' || c.expect === ended);

const settledCount = (): number => deadLetters.length + ackedIds().length;

/** Seeds one copy of the example deployment repository per template case, and returns the cases. */
async function templateRepoCases(): Promise<Case[]> {
  const seeded: Case[] = [];
  for (const t of templateCases(outside)) {
    const tree = scratchDir('oa-hostile-tree-');
    try {
      fs.cpSync(TEMPLATE_BASE, tree, { recursive: true });
      t.change(tree);
      const repo = await seedFromDirectory('hostile-template', tree, 'main');
      templateRepos.push(repo);
      const id = randomUUID();
      const request = baseRequest(id, `anon/${repo.name}`, { source_repo: `anon/${repos.source.name}` });
      seeded.push({
        name: t.name,
        bytes: requestBytes({ ...request, id }),
        expect: 'failed',
        workflowId: id,
        reason: t.reason,
      });
    } finally {
      fs.rmSync(tree, { recursive: true, force: true });
    }
  }
  return seeded;
}

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  workRoot = scratchDir('oa-hostile-work-');
  outsideDir = scratchDir('oa-hostile-outside-');
  outside = { secret: path.join(outsideDir, 'secret'), planted: path.join(outsideDir, 'planted') };
  outsideText = `FROM outside-the-checkout-${path.basename(outsideDir)}\n`;
  fs.writeFileSync(outside.secret, outsideText);

  admin = await BrokerAdmin.open(env.amqpUrl);
  topology = await provisionTopology(admin);
  published = {} as Record<PublishedQueue, Tapped[]>;
  for (const logical of PUBLISHED) published[logical] = await tap(admin.channel, topology.queues[logical]);
  deadLetters = await tap(admin.channel, topology.deadLetterQueue);
  manager = await startFakeManager(managerSeed(topology, env.amqpUrl));

  repos = await seedRepos();
  cases = [...hostileCorpus(`anon/${repos.deployment.name}`), ...(await templateRepoCases())];
  running = await startTestService({
    manager,
    topology,
    workRoot,
    env: {
      BUILDER_CONCURRENCY: '2',
      WORKFLOW_TIMEOUT_SECONDS: '40',
      STEP_TIMEOUT_SECONDS: '30',
      GIT_TIMEOUT_SECONDS: '15',
      HTTP_TIMEOUT_SECONDS: '5',
      SHUTDOWN_GRACE_SECONDS: '5',
      DOCKER_REGISTRY_URL: env.authRegistry.url,
      DOCKER_REGISTRY_USERNAME: env.authRegistry.username,
      DOCKER_REGISTRY_PASSWORD: env.authRegistry.password,
    },
  });

  // Last in the queue, and quick to end: the templates render and are pushed, then the image is not found.
  finalRequest = serviceRequest(repos, { current_step: 'config' });
  const final: Case = {
    name: 'final',
    bytes: requestBytes(finalRequest),
    expect: 'failed',
    workflowId: finalRequest.id,
  };
  for (const c of [...cases, final]) {
    // The orchestrator saves a workflow before it asks for it, so the builder's saves find one.
    const id = idOf(c);
    if (id !== undefined)
      manager.setWorkflow(id, { workflow_completed: false, workflow_error: false, event_log: [] });
    publishToBuilder({ admin, topology }, c.bytes, c.headers);
  }

  const total = cases.length + 1;
  const settled = () =>
    settledCount() >= total && cases.every((c) => reportableReason(c) === undefined || reported(c));
  // Not thrown: the tests below say which cases did not end, which is more use than a timeout.
  await eventually(`all ${total} messages were settled and reported`, settled, SETTLE_MS).catch(
    (err: unknown) => console.log(`hostile: ${(err as Error).message} (${settledCount()} were settled)`),
  );
}, SETTLE_MS + 60_000);

afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await stopServices();
  await manager?.close();
  await admin?.dispose();
  await removeSeededRepos();
  for (const dir of [workRoot, outsideDir, ...templateRepos.map((r) => r.dir)])
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('the builder service fed the hostile-input corpus', () => {
  it('ends every case as expected, without a hang, a lost message or an unhandled rejection', () => {
    const ended = outcomes();
    const tried = cases.length;
    const crashedCases = cases.filter((c) => !expected(c, ended.get(c) ?? 'crashed'));
    const crashes = crashedCases.length + unhandled.length;
    console.log(
      `hostile: ${tried} tried, ${tried - crashedCases.length} rejected cleanly, ${crashes} crashes`,
    );

    expect(crashedCases.map((c) => `${c.name} (expected ${c.expect}, got ${ended.get(c)})`)).toEqual([]);
    expect(unhandled).toEqual([]);
    expect(crashes).toBe(0);
    expect(tried).toBeGreaterThanOrEqual(200);
    expect(new Set(cases.map((c) => c.name)).size).toBe(tried);
  });

  it('dead-letters every message that cannot run with the original bytes and a short reason saying why', () => {
    const rejected = cases.filter((c) => c.expect === 'rejected');
    expect(rejected.length).toBeGreaterThan(100);
    const unclear = rejected
      .map((c) => ({ name: c.name, reason: deadLetterOf(c)?.headers[REASON_HEADER] }))
      .filter(({ reason }) => !clear(reason) || !/^(undecodable|invalid build request): \S/.test(reason))
      .map(({ name, reason }) => `${name}: ${brief(reason)}`);
    expect(unclear).toEqual([]);
    expect(deadLetters.every((d) => d.headers['x-oa-original-queue'] === topology.builderQueue)).toBe(true);
    // Headers that leave no room for the reason are left off the copy rather than blocking it.
    const padded = rejected.filter((c) => c.headers !== undefined).map(deadLetterOf);
    expect(padded.map((d) => d?.headers['x-oa-original-headers-dropped'])).toEqual([true, true]);
  });

  it('answers every request rejected after decoding that names a workflow, and tells the Manager', () => {
    const reportable = cases.filter((c) => reportableReason(c) !== undefined);
    expect(reportable.length).toBeGreaterThan(60);
    const unreported = reportable.filter((c) => !reported(c)).map((c) => c.name);
    expect(unreported).toEqual([]);
    // A case with an id of its own is answered once, and only when it says where answers go.
    const answers = cases
      .filter((c) => c.workflowId !== undefined && reportableReason(c) !== undefined)
      .map((c) => ({ name: c.name, replies: repliesTo(c.workflowId ?? '').length, routed: routed(c) }));
    expect(answers.filter((a) => a.replies !== (a.routed ? 1 : 0))).toEqual([]);
    expect(answers.filter((a) => !a.routed).map((a) => a.name)).toEqual(
      expect.arrayContaining(['missing-orchestration_queue_name', 'wrong-type-orchestration_queue_name-1']),
    );
  });

  it('fails each workflow of a hostile request or repository with a short reason, naming the file for templates', () => {
    const failed = cases.filter((c) => c.expect === 'failed');
    expect(failed.length).toBeGreaterThan(80);
    const reasons = failed.map((c) => {
      const [reply] = repliesTo(c.workflowId ?? '');
      const reason = reply && reasonIn(reply, c.workflowId ?? '');
      return { c, ok: reply?.workflow_error === true && clear(reason), reason };
    });
    expect(reasons.filter((r) => !r.ok).map((r) => `${r.c.name}: ${brief(r.reason)}`)).toEqual([]);
    const templates = reasons.filter((r) => r.c.reason !== undefined);
    expect(templates.length).toBeGreaterThanOrEqual(15);
    const misnamed = templates.filter((r) => !String(r.reason).includes(r.c.reason ?? ''));
    expect(misnamed.map((r) => `${r.c.name}: ${r.reason} (expected ${r.c.reason})`)).toEqual([]);
  });

  it('reads nothing from outside the checkout and writes nothing there', () => {
    expect(fs.readFileSync(outside.secret, 'utf8')).toBe(outsideText);
    expect(fs.existsSync(outside.planted)).toBe(false);
    const mark = outsideText.trim();
    const carriers = Object.entries(texts()).filter(([, text]) => text.includes(mark));
    expect(carriers.map(([where]) => where)).toEqual([]);
  });

  it('leaks no secret into replies, notifications, Manager calls, dead-letter headers or the log', () => {
    const secrets = [manager.clientSecret, env.authRegistry.password, URL_PASSWORD];
    // Each was in play: the URL in requests, the client secret at login, the password at the registry.
    expect(cases.filter((c) => c.bytes.includes(URL_PASSWORD)).length).toBeGreaterThanOrEqual(2);
    expect(manager.state.logins.length).toBeGreaterThanOrEqual(1);
    expect(reasonIn(repliesTo(finalRequest.id)[0] ?? {}, finalRequest.id)).toContain(env.authRegistry.host);
    const leaks = Object.entries(texts()).flatMap(([where, text]) =>
      secrets.filter((secret) => text.includes(secret)).map((secret) => `${secret} in ${where}`),
    );
    expect(leaks).toEqual([]);
  });

  it('keeps consuming to the last message, and leaves the queue and the work directory empty', async () => {
    const [reply, ...more] = repliesTo(finalRequest.id);
    expect(more).toEqual([]);
    expect(reply?.workflow_error).toBe(true);
    expect(reasonIn(reply ?? {}, finalRequest.id)).toMatch(/^Docker image \(.+\) not found in docker repo: /);
    expect(running.service.ready()).toBe(true);
    await eventually('the work directory is empty', () => fs.readdirSync(workRoot).length === 0);

    await stopServices();
    // Stopped, the service holds no delivery any more: an unacked one would be back in the queue.
    expect(await admin.ready(topology.builderQueue)).toBe(0);
  });
});
