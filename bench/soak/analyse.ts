// Reading what the builders left behind: replies as the orchestrator would read them, and the secret scan.
import { isMap, mapGet, type Term } from '../../src/etf';
import type { Tapped } from '../../test/integration/service/helpers';

/** The workflow id of a request or reply map, if it has one. */
export function idOf(message: Pick<Tapped, 'term'>): string | undefined {
  const term = message.term;
  if (term === undefined || !isMap(term)) return undefined;
  const id = mapGet(term, 'id');
  return typeof id === 'string' ? id : undefined;
}

/** What one reply says the run did, from the entries the builder added to the event log. */
export interface ReplySummary {
  readonly failed: boolean;
  /** Replica that ran it (from its first entry). */
  readonly host: string | undefined;
  /** A docker build was started. */
  readonly built: boolean;
  /** The engine its build was placed on last (after any move): the X of `... on docker host X...`. */
  readonly buildHost: string | undefined;
  /** An image was pushed to the registry. */
  readonly pushed: boolean;
  /** The image was found in the registry, so no build. */
  readonly existed: boolean;
  /** For a failure: the reason entry and the headline after it. */
  readonly reason: string | undefined;
  readonly headline: string | undefined;
  readonly entries: readonly string[];
}

export function summarise(fields: Record<string, Term>, id: string): ReplySummary {
  const prefix = `[OA][${id}] `;
  const log: readonly Term[] = Array.isArray(fields.event_log) ? fields.event_log : [];
  const entries = log.flatMap((e) =>
    typeof e === 'string' && e.startsWith(prefix) ? [e.slice(prefix.length)] : [],
  );
  const failed = fields.workflow_error === true;
  const hostEntry = entries.find((e) => e.startsWith('Build/Config request is being processed by Builder '));
  return {
    failed,
    host: hostEntry?.slice('Build/Config request is being processed by Builder '.length),
    built: entries.some((e) => e.startsWith('Executing a docker build for ')),
    buildHost: entries
      .filter((e) => e.startsWith('Beginning docker image build of '))
      .at(-1)
      ?.match(/ on docker host (.+)\.\.\.$/)?.[1],
    pushed: entries.some((e) => e.startsWith('Successfully pushed image ')),
    existed: entries.some((e) => e.endsWith(' already exists, skipping docker build')),
    reason: failed ? entries.at(-2) : undefined,
    headline: failed ? entries.at(-1) : undefined,
    entries,
  };
}

/** A failure reason with its variable parts (ids, hashes, ports, numbers) replaced, for grouping. */
export function reasonClass(reason: string | undefined): string {
  if (reason === undefined) return '(no reason)';
  return reason
    .replace(/[0-9a-f]{40,64}/g, '<sha>')
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uuid>')
    .replace(/(wf-deploy|wf-source|img)-[0-9]+-[0-9]+-[0-9a-f]+/g, '$1-<n>')
    .replace(/(http:\/\/)?127\.0\.0\.1:[0-9]+/g, '<loopback>')
    .replace(/\b[0-9]+(\.[0-9]+)?\b/g, '<n>')
    .slice(0, 220);
}

export interface Needle {
  readonly name: string;
  readonly value: string;
}

/**
 * The forms a secret could take on its way out: as it is, and base64 at each of the three alignments (inside
 * a Basic auth header, say), without the characters its neighbours share.
 */
export function needleForms(value: string): string[] {
  const forms = [value];
  for (let shift = 0; shift < 3; shift++) {
    const b64 = Buffer.concat([Buffer.alloc(shift, 0x3a), Buffer.from(value)]).toString('base64');
    const form = b64.slice(shift === 0 ? 0 : 4, -4);
    if (form.length >= 16) forms.push(form);
  }
  return forms;
}

export interface ScanSource {
  readonly label: string;
  readonly data: Buffer;
}

export interface SecretHit {
  readonly source: string;
  readonly needle: string;
  readonly count: number;
}

export function scanForSecrets(needles: readonly Needle[], sources: readonly ScanSource[]): SecretHit[] {
  const forms = needles.map((n) => ({
    name: n.name,
    forms: needleForms(n.value).map((f) => Buffer.from(f)),
  }));
  const hits = new Map<string, SecretHit>();
  for (const source of sources) {
    for (const needle of forms) {
      let count = 0;
      for (const form of needle.forms) {
        for (let at = source.data.indexOf(form); at >= 0; at = source.data.indexOf(form, at + form.length))
          count++;
      }
      if (count === 0) continue;
      const key = `${source.label}\u0000${needle.name}`;
      const before = hits.get(key)?.count ?? 0;
      hits.set(key, { source: source.label, needle: needle.name, count: before + count });
    }
  }
  return [...hits.values()];
}

/** The value at `fraction` (0..1) of the sorted numbers, nearest rank; NaN when empty. */
export function percentile(values: readonly number[], fraction: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
  return sorted[rank] as number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** One workflow that should have succeeded: from its publish to its first reply. */
export interface GoodRun {
  readonly from: number;
  readonly to: number;
  readonly failed: boolean;
}

/** A workflow of the run as the image check needs it: its pair, kind, publish time and first reply. */
export interface PairRun {
  readonly pair: number;
  readonly kind: string;
  readonly sentAt: number;
  readonly reply: { readonly at: number; readonly failed: boolean } | undefined;
}

/**
 * Whether a config run could find its image: the config milestone only verifies the image an earlier build of
 * its pair pushed, so unless a build or image-exists run of that pair had succeeded (pushed or found it) before
 * the config run was published, the image is rightly missing and failing is the correct answer, not a fault's
 * doing (the build failed, or was still running, perhaps slowed by a fault it waited out).
 */
export function imageWasPushed(config: PairRun, runs: readonly PairRun[]): boolean {
  return runs.some(
    (run) =>
      run.pair === config.pair &&
      (run.kind === 'build' || run.kind === 'exists') &&
      run.reply !== undefined &&
      !run.reply.failed &&
      run.reply.at <= config.sentAt,
  );
}

/** When one fault struck and how long it lasted. */
export interface FaultWindow {
  readonly kind: string;
  readonly from: number;
  readonly to: number;
}

export interface FaultShare {
  readonly kind: string;
  /** Workflows in flight during a window of this kind that failed. */
  readonly failed: number;
  /** Workflows in flight during a window of this kind. */
  readonly overlapped: number;
}

/**
 * Which faults the failures of good workflows go back to: a workflow counts for every fault kind whose window
 * overlapped its time in flight (so `failed by a fault: N of M` per kind), and a failure that overlapped no
 * window at all is counted apart, as it has no fault to blame.
 */
export function faultShares(
  runs: readonly GoodRun[],
  windows: readonly FaultWindow[],
): { readonly shares: FaultShare[]; readonly failedOutsideFaults: number } {
  const kinds = [...new Set(windows.map((w) => w.kind))];
  const shares = kinds.map((kind) => {
    const hit = runs.filter((run) => overlappedKinds(run, windows).includes(kind));
    return { kind, failed: hit.filter((run) => run.failed).length, overlapped: hit.length };
  });
  const failedOutsideFaults = runs.filter(
    (run) => run.failed && overlappedKinds(run, windows).length === 0,
  ).length;
  return { shares, failedOutsideFaults };
}

/** The fault kinds whose windows overlapped `run`'s time in flight, each once, in the order they struck. */
export function overlappedKinds(run: GoodRun, windows: readonly FaultWindow[]): string[] {
  return [...new Set(windows.filter((w) => w.from <= run.to && run.from <= w.to).map((w) => w.kind))];
}

/** A good workflow that failed while the engine fault was on, and what its logs say of the stopped engine. */
export interface EngineFaultRun {
  /** The engine its build was placed on last. */
  readonly buildHost: string | undefined;
  /** Its build log has a line saying a step other than FROM began (on whichever engine it ran). */
  readonly stepBegan: boolean;
  readonly reason: string | undefined;
}

/** How the failures during the engine fault split: the goal is that none is `notStarted`. */
export interface EngineFaultShare {
  /** Placed last on the stopped engine and a step had begun there: the one kind it may fail. */
  readonly startedThere: number;
  /** Of those, the ones whose reason names the engine. */
  readonly startedThereNamed: number;
  /** Failed for the stopped engine (placed last on it, or its reason names it) before a step began there. */
  readonly notStarted: number;
  /** Failed on another engine, or before any build, for a reason that is not the stopped engine. */
  readonly otherCauses: number;
}

/** Sorts the failures of good workflows in flight during the engine fault by whether they had started there. */
export function engineFaultShare(runs: readonly EngineFaultRun[], engine: string): EngineFaultShare {
  const on = runs.filter((r) => r.buildHost === engine);
  const startedThere = on.filter((r) => r.stepBegan);
  const blamed = runs.filter((r) => r.buildHost !== engine && r.reason?.includes(engine));
  return {
    startedThere: startedThere.length,
    startedThereNamed: startedThere.filter((r) => r.reason?.includes(engine)).length,
    notStarted: on.length - startedThere.length + blamed.length,
    otherCauses: runs.length - on.length - blamed.length,
  };
}
