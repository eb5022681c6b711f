import { randomUUID } from 'node:crypto';
import {
  LEFTOVER_GRACE_MS,
  pruneLeftovers,
  removeRecordedImages,
  type PrunedLeftovers,
} from '../src/docker/cleanup';
import { engineFor, type EngineFlavour, type EngineOptions } from '../src/docker/engine';
import { DockerUnreachableError } from '../src/docker/errors';
import { engineFault } from '../src/docker/farm/fault';
import type { RecordedImage } from '../src/docker/image-record';
import { closedBreaker, probeDue, tripped, type Breaker } from '../src/docker/farm/breaker';
import type { EngineSpec } from '../src/docker/farm/hosts';
import { place } from '../src/docker/farm/placement';
import { probeEngine, type KnownVersion, type ProbeResult } from '../src/docker/farm/probe';
import type { EngineRequest, EngineSource, LeaseOutcome } from '../src/docker/farm/source';
import {
  ask,
  defineActor,
  send,
  type ActorBehaviour,
  type ActorContext,
  type ActorRef,
  type ReplyTo,
} from './supervision';
import type { Logger } from '../src/log';

/** A slot granted to one build. Plain data: the client makes the {@link Engine} from it. */
export interface Grant {
  readonly endpoint: string;
  readonly apiVersion: string;
  readonly flavour: EngineFlavour;
  readonly reason: string;
  readonly waitedMs: number;
}

export type AcquireReply = { readonly granted: Grant } | { readonly waiting: string };

/** One engine as `/healthz` and `/metrics` show it. */
export interface EngineStatus {
  readonly endpoint: string;
  readonly healthy: boolean;
  readonly apiVersion: string | null;
  readonly slots: number;
  readonly inUse: number;
  /** Failures in a row (probes, or builds that could not reach it) since it last answered. */
  readonly failures: number;
  readonly lastError: string | null;
  readonly builds: Readonly<Record<LeaseOutcome, number>>;
  /** What the start prune of the builder's leftover images removed on this engine; null until it is done. */
  readonly startCleanup: PrunedLeftovers | null;
  /** How many of the images a killed predecessor's builds left were removed; null until that is done. */
  readonly recordedRemoved: number | null;
}

/** The farm as plain data. */
export interface FarmStatus {
  readonly engines: readonly EngineStatus[];
  /** Which engine each workflow builds on, and why it was placed there. */
  readonly leases: readonly { workflowId: string; endpoint: string; reason: string }[];
  readonly waiting: number;
  /** Builds that had to wait for a slot, and how long they waited in all. */
  readonly waitsTotal: number;
  readonly waitSecondsTotal: number;
}

export type FarmMsg =
  | {
      readonly type: 'acquire';
      readonly id: string;
      readonly request: EngineRequest;
      readonly replyTo: ReplyTo<AcquireReply>;
    }
  | { readonly type: 'wait'; readonly id: string; readonly replyTo: ReplyTo<Grant | null> }
  | { readonly type: 'cancel'; readonly id: string }
  | { readonly type: 'release'; readonly id: string; readonly outcome: LeaseOutcome; readonly error?: string }
  | { readonly type: 'tick' }
  /** Probe `endpoint` now (a build on it failed): answers why it is down, or null when it answers. */
  | { readonly type: 'check'; readonly endpoint: string; readonly replyTo: ReplyTo<string | null> }
  | { readonly type: 'probed'; readonly endpoint: string; readonly result: ProbeResult }
  | { readonly type: 'pruned'; readonly endpoint: string; readonly result: PrunedLeftovers | undefined }
  | { readonly type: 'recorded-removed'; readonly endpoint: string; readonly images: number }
  | { readonly type: 'status'; readonly replyTo: ReplyTo<FarmStatus> };

interface EngineState {
  readonly spec: EngineSpec;
  breaker: Breaker;
  known: KnownVersion | undefined;
  inUse: number;
  probing: boolean;
  /**
   * Builds that judge their failure by a probe: `checks` wait for one to start (one already under way may
   * have been sent before the failure), `checking` for the answer of the one under way.
   */
  checks: ReplyTo<string | null>[];
  checking: ReplyTo<string | null>[];
  readonly builds: Record<LeaseOutcome, number>;
  /** Whether the start prune has been started: once per engine, when it answers after the grace. */
  pruning: boolean;
  startCleanup: PrunedLeftovers | null;
  /** The images a killed predecessor recorded on this engine, until they are handed to a removal. */
  recorded: readonly string[];
  recordedRemoved: number | null;
}

interface Lease {
  readonly workflowId: string;
  readonly endpoint: string;
  readonly reason: string;
  readonly grant: Grant;
}

interface Waiter {
  readonly id: string;
  readonly request: EngineRequest;
  readonly since: number;
  replyTo?: ReplyTo<Grant | null>;
}

interface FarmState {
  readonly engines: Map<string, EngineState>;
  readonly leases: Map<string, Lease>;
  waiters: Waiter[];
  readonly timer: NodeJS.Timeout;
  /** When this incarnation started: the start prune waits for the grace from here. */
  readonly startedAt: number;
  waitsTotal: number;
  waitSecondsTotal: number;
}

export interface FarmOptions {
  readonly engines: readonly EngineSpec[];
  /** How often each engine is probed, in milliseconds (BUILD_HOST_PROBE_SECONDS). */
  readonly probeIntervalMs: number;
  /** Timeouts of the probes. */
  readonly engine: EngineOptions;
  /**
   * How old the builder's dangling images must be for a prune to remove them, and how long after its start the
   * farm prunes each engine. Default 60 s.
   */
  readonly leftoverGraceMs?: number;
  /**
   * The images the classic builds of a killed predecessor committed (read from the work directories it left):
   * each engine's are removed as soon as it answers. Default: none.
   */
  readonly leftoverImages?: readonly RecordedImage[];
}

const healthy = (e: EngineState): boolean => e.breaker.state === 'closed' && e.known !== undefined;

function loads(state: FarmState) {
  return [...state.engines.values()].map((e) => ({
    endpoint: e.spec.endpoint,
    healthy: healthy(e),
    inUse: e.inUse,
    slots: e.spec.slots,
  }));
}

function describeFarm(state: FarmState): string {
  return [...state.engines.values()]
    .map((e) =>
      healthy(e)
        ? `${e.spec.endpoint} ${e.inUse}/${e.spec.slots} slots in use`
        : `${e.spec.endpoint} out of rotation (${e.breaker.lastError ?? 'not probed yet'})`,
    )
    .join('; ');
}

/**
 * The `farm` child of the app: the Docker engines of BUILD_HOSTS, their health and their slots. It probes
 * every engine at start and every interval (a failing one is taken out of rotation, with backoff, until it
 * answers again), places each build on an engine with a free slot (rendezvous affinity per deployment repo,
 * else the least loaded) and keeps the builds that find none waiting, first come first served, until a slot
 * frees up or their step gives up. A replica killed mid-build leaves images behind, and its restart is when
 * they are found: once per engine, as soon as it answers, the farm removes the images a predecessor's classic
 * builds recorded ({@link removeRecordedImages}); and when the leftover grace has passed since the start, the
 * dangling images its BuildKit builds left ({@link pruneLeftovers}; waiting out the grace makes all that a
 * predecessor left old enough, however quickly the replica was restarted). It is the
 * one owner of these decisions; builds reach it through {@link farmSource}. A restart forgets the leases in
 * flight: their releases then reach nobody, and the new incarnation may place up to one build more per slot
 * for as long as those builds run.
 */
export function farmActor(options: FarmOptions): ActorBehaviour<FarmMsg, FarmState> {
  const now = Date.now;

  // `waited`: the build was queued; one placed at its request waited for nothing, however long placing took.
  const grant = (state: FarmState, waiter: Waiter, waited: boolean): Grant | undefined => {
    const placed = place(loads(state), waiter.request.key, new Set(waiter.request.exclude ?? []));
    const engine = placed && state.engines.get(placed.endpoint);
    if (!placed || !engine?.known) return undefined;
    engine.inUse++;
    const waitedMs = waited ? now() - waiter.since : 0;
    const granted = { endpoint: placed.endpoint, ...engine.known, reason: placed.reason, waitedMs };
    state.leases.set(waiter.id, { ...placed, workflowId: waiter.request.workflowId, grant: granted });
    return granted;
  };

  // Every change that can free a slot or heal an engine lets the waiters in, oldest first.
  const dispatch = (state: FarmState, ctx: { reply<R>(to: ReplyTo<R>, value: R): void }): void => {
    state.waiters = state.waiters.filter((waiter) => {
      const granted = grant(state, waiter, true);
      if (!granted) return true;
      state.waitsTotal++;
      state.waitSecondsTotal += granted.waitedMs / 1000;
      if (waiter.replyTo) ctx.reply(waiter.replyTo, granted);
      return false;
    });
  };

  const release = (state: FarmState, id: string, outcome: LeaseOutcome | null, error?: string): void => {
    const lease = state.leases.get(id);
    const engine = lease && state.engines.get(lease.endpoint);
    if (!lease || !engine) return;
    state.leases.delete(id);
    engine.inUse--;
    if (outcome === null) return;
    engine.builds[outcome]++;
    // Once per outage: the builds it held all report it, and its probe may have found it first.
    if (outcome === 'unreachable' && engine.breaker.state === 'closed')
      engine.breaker = tripped(engine.breaker, error ?? 'unreachable', now(), options.probeIntervalMs);
  };

  const probe = (engine: EngineState, self: ActorRef<FarmMsg>, signal: AbortSignal): void => {
    if (engine.probing) return;
    engine.probing = true;
    engine.checking = engine.checks.splice(0);
    const { endpoint } = engine.spec;
    void probeEngine(engine.spec, engine.known, options.engine, signal).then((result) =>
      send(self, { type: 'probed', endpoint, result }),
    );
  };

  // A build's failure is judged by a probe started after it; an engine already out of rotation is down.
  const judge = (engine: EngineState, ctx: ActorContext<FarmMsg>): void => {
    if (engine.checks.length === 0) return;
    if (healthy(engine)) probe(engine, ctx.self, ctx.signal);
    else
      for (const check of engine.checks.splice(0))
        ctx.reply(check, engine.breaker.lastError ?? 'not probed yet');
  };

  const grace = options.leftoverGraceMs ?? LEFTOVER_GRACE_MS;

  // The farm's own calls to an engine that answered: its removals of leftovers.
  const clientOf = (spec: EngineSpec, known: KnownVersion) =>
    engineFor(spec, known, options.engine.requestTimeoutMs ?? 30_000);

  // Exactly the predecessor's images, so no grace: as soon as the engine answers, once.
  const removeRecorded = (
    engine: EngineState,
    ctx: { self: ActorRef<FarmMsg>; signal: AbortSignal; log: Logger },
  ): void => {
    if (engine.recorded.length === 0 || !engine.known) return;
    const ids = engine.recorded;
    engine.recorded = [];
    const { endpoint } = engine.spec;
    const client = clientOf(engine.spec, engine.known);
    void removeRecordedImages(client, ids, { signal: ctx.signal, log: ctx.log }).then((images) =>
      send(ctx.self, { type: 'recorded-removed', endpoint, images }),
    );
  };

  // Once the grace has passed since the start, all a killed predecessor left is old enough to be pruned: each
  // engine that answers is pruned then, once.
  const startPrunes = (
    state: FarmState,
    ctx: { self: ActorRef<FarmMsg>; signal: AbortSignal; log: Logger },
  ): void => {
    if (now() - state.startedAt < grace) return;
    for (const engine of state.engines.values()) {
      if (engine.pruning || !engine.known) continue;
      engine.pruning = true;
      const { endpoint } = engine.spec;
      const client = clientOf(engine.spec, engine.known);
      void pruneLeftovers(client, grace, { signal: ctx.signal, log: ctx.log }).then((result) =>
        send(ctx.self, { type: 'pruned', endpoint, result }),
      );
    }
  };

  return defineActor<FarmMsg, FarmState>({
    init(ctx) {
      const engines = new Map<string, EngineState>(
        options.engines.map((spec): [string, EngineState] => {
          const recorded = (options.leftoverImages ?? [])
            .filter((image) => image.endpoint === spec.endpoint)
            .map((image) => image.id);
          return [
            spec.endpoint,
            {
              spec,
              breaker: closedBreaker,
              known: undefined,
              inUse: 0,
              probing: false,
              checks: [],
              checking: [],
              builds: { ok: 0, failed: 0, unreachable: 0, stopped: 0 },
              pruning: false,
              startCleanup: null,
              recorded,
              recordedRemoved: recorded.length === 0 ? 0 : null,
            },
          ];
        }),
      );
      send(ctx.self, { type: 'tick' });
      // Through the mailbox, so probes are started and judged one message at a time.
      const timer = setInterval(() => send(ctx.self, { type: 'tick' }), options.probeIntervalMs);
      return {
        engines,
        leases: new Map(),
        waiters: [],
        timer,
        startedAt: now(),
        waitsTotal: 0,
        waitSecondsTotal: 0,
      };
    },
    handle(msg, state, ctx) {
      switch (msg.type) {
        case 'acquire': {
          const waiter: Waiter = { id: msg.id, request: msg.request, since: now() };
          // Fair without a queue check: every change runs the waiters first, so none could take this slot.
          const granted = grant(state, waiter, false);
          if (granted) {
            ctx.log.debug('build placed', { workflow_id: msg.request.workflowId, ...granted });
            ctx.reply(msg.replyTo, { granted });
          } else {
            state.waiters.push(waiter);
            const ahead = state.waiters.length - 1;
            ctx.reply(msg.replyTo, {
              waiting: `${ahead} build${ahead === 1 ? '' : 's'} ahead; ${describeFarm(state)}`,
            });
          }
          return state;
        }
        case 'wait': {
          const lease = state.leases.get(msg.id);
          const waiter = state.waiters.find((w) => w.id === msg.id);
          if (lease) ctx.reply(msg.replyTo, lease.grant);
          else if (waiter) waiter.replyTo = msg.replyTo;
          else ctx.reply(msg.replyTo, null);
          return state;
        }
        case 'cancel':
          state.waiters = state.waiters.filter((w) => w.id !== msg.id);
          release(state, msg.id, null);
          dispatch(state, ctx);
          return state;
        case 'release':
          release(state, msg.id, msg.outcome, msg.error);
          dispatch(state, ctx);
          return state;
        case 'tick':
          for (const engine of state.engines.values())
            if (probeDue(engine.breaker, now())) probe(engine, ctx.self, ctx.signal);
          startPrunes(state, ctx);
          return state;
        case 'check': {
          const engine = state.engines.get(msg.endpoint);
          if (!engine) ctx.reply(msg.replyTo, null);
          else {
            engine.checks.push(msg.replyTo);
            judge(engine, ctx);
          }
          return state;
        }
        case 'probed': {
          const engine = state.engines.get(msg.endpoint);
          if (!engine) return state;
          engine.probing = false;
          for (const check of engine.checking.splice(0))
            ctx.reply(check, msg.result.ok ? null : msg.result.error);
          const wasHealthy = healthy(engine);
          if (msg.result.ok) {
            engine.known = msg.result;
            engine.breaker = closedBreaker;
          } else {
            // A failed probe also forgets the version: the engine may come back upgraded.
            engine.known = undefined;
            engine.breaker = tripped(engine.breaker, msg.result.error, now(), options.probeIntervalMs);
          }
          judge(engine, ctx);
          if (healthy(engine) !== wasHealthy) {
            const fields = { endpoint: msg.endpoint, error: engine.breaker.lastError };
            if (wasHealthy) ctx.log.warn('docker engine taken out of rotation', fields);
            else ctx.log.info('docker engine in rotation', { endpoint: msg.endpoint });
          }
          if (healthy(engine)) removeRecorded(engine, ctx);
          dispatch(state, ctx);
          startPrunes(state, ctx);
          return state;
        }
        case 'pruned': {
          const engine = state.engines.get(msg.endpoint);
          // A failed prune is logged by it and tried again at the next start.
          if (engine && msg.result) engine.startCleanup = msg.result;
          return state;
        }
        case 'recorded-removed': {
          const engine = state.engines.get(msg.endpoint);
          if (engine) engine.recordedRemoved = msg.images;
          return state;
        }
        case 'status':
          ctx.reply(msg.replyTo, status(state));
          return state;
      }
    },
    terminate(state) {
      clearInterval(state.timer);
    },
  });
}

function status(state: FarmState): FarmStatus {
  return {
    engines: [...state.engines.values()].map((e) => ({
      endpoint: e.spec.endpoint,
      healthy: healthy(e),
      apiVersion: e.known?.apiVersion ?? null,
      slots: e.spec.slots,
      inUse: e.inUse,
      failures: e.breaker.failures,
      lastError: e.breaker.lastError,
      builds: { ...e.builds },
      startCleanup: e.startCleanup,
      recordedRemoved: e.recordedRemoved,
    })),
    leases: [...state.leases.values()].map(({ workflowId, endpoint, reason }) => ({
      workflowId,
      endpoint,
      reason,
    })),
    waiting: state.waiters.length,
    waitsTotal: state.waitsTotal,
    waitSecondsTotal: state.waitSecondsTotal,
  };
}

/** The farm's state now; rejects when the farm is not running. */
export function farmStatus(farm: ActorRef<FarmMsg>, timeoutMs = 5000): Promise<FarmStatus> {
  return ask(farm, { type: 'status' }, timeoutMs);
}

/**
 * The {@link EngineSource} the docker step uses: asks the farm (looked up at each call, since a restarted
 * farm is a new incarnation) for a slot, waits for one if need be, and gives it back on release or when the
 * wait is given up.
 */
export function farmSource(
  farm: () => ActorRef<FarmMsg> | undefined,
  engines: readonly EngineSpec[],
  options: EngineOptions,
): EngineSource {
  const specs = new Map(engines.map((spec) => [spec.endpoint, spec]));
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  return {
    async acquire(request, ctx) {
      const ref = farm();
      if (!ref) throw new DockerUnreachableError('(farm)', 'the build farm is not running');
      const id = randomUUID();
      let granted: Grant | null;
      try {
        const first = await ask(ref, { type: 'acquire', id, request }, requestTimeoutMs, ctx.signal);
        if ('waiting' in first) ctx.onWait?.(first.waiting);
        granted =
          'granted' in first ? first.granted : await ask(ref, { type: 'wait', id }, Infinity, ctx.signal);
      } catch (err) {
        send(ref, { type: 'cancel', id });
        throw err;
      }
      const spec = granted && specs.get(granted.endpoint);
      if (!granted || !spec) throw new DockerUnreachableError('(farm)', 'the build farm lost this build');
      let released = false;
      const { endpoint } = granted;
      // The probe's own deadline bounds the check; the ask waits a little longer for its answer to come back.
      const check = (): Promise<string | undefined> =>
        ask(ref, { type: 'check', endpoint }, requestTimeoutMs + 5000, ctx.signal).then(
          (down) => down ?? undefined,
          // No answer from the farm says nothing of the engine: the build's error stands.
          () => undefined,
        );
      return {
        engine: engineFor(spec, granted, requestTimeoutMs),
        reason: granted.reason,
        waitedMs: granted.waitedMs,
        fault: (err) => engineFault(endpoint, err, check),
        release(outcome, error) {
          if (released) return;
          released = true;
          send(ref, { type: 'release', id, outcome, ...(error === undefined ? {} : { error }) });
        },
      };
    },
  };
}
