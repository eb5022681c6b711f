import type { LogFields, Logger } from '../../../src/log';
import {
  defineActor,
  type ActorBehaviour,
  type ActorRef,
  type ChildSpec,
  type ReplyTo,
  type RestartType,
} from '../../../actors/supervision';

/** An ordered record of what happened, with waits that resolve on events instead of on time. */
export class Trace {
  readonly events: string[] = [];
  private waiters: { readonly match: (event: string) => boolean; readonly resolve: () => void }[] = [];

  push(event: string): void {
    this.events.push(event);
    this.waiters = this.waiters.filter((waiter) => {
      if (!waiter.match(event)) return true;
      waiter.resolve();
      return false;
    });
  }

  /** Resolves once an event equal to (or matching) `pattern` is recorded, now or later. */
  seen(pattern: string | RegExp): Promise<void> {
    const match = (event: string): boolean =>
      typeof pattern === 'string' ? event === pattern : pattern.test(event);
    if (this.events.some(match)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  /** Resolves once `count` events match `pattern`. */
  async count(pattern: RegExp, count: number): Promise<void> {
    while (this.events.filter((event) => pattern.test(event)).length < count) {
      await new Promise<void>((resolve) => this.waiters.push({ match: (e) => pattern.test(e), resolve }));
    }
  }

  matching(pattern: RegExp): string[] {
    return this.events.filter((event) => pattern.test(event));
  }
}

/** The messages a probe understands. */
export type ProbeMsg =
  | { readonly type: 'ping'; readonly replyTo: ReplyTo<string> }
  | { readonly type: 'crash'; readonly message: string }
  | { readonly type: 'reject'; readonly message: string }
  | { readonly type: 'finish'; readonly failure?: string }
  | { readonly type: 'hang' }
  | { readonly type: 'hang_ignoring_signal' };

/** How a probe behaves beyond the defaults. */
export interface ProbeOptions {
  /** Throw from `init` on these incarnations (1-based, counted per probe name). */
  readonly failInit?: (incarnation: number) => boolean;
  /** Never let `terminate` finish (to exercise the shutdown timeout). */
  readonly stuckTerminate?: boolean;
  /** Told the ref of every incarnation, for actors whose parent does not hand refs out. */
  readonly onStart?: (self: ActorRef<ProbeMsg>) => void;
}

const incarnations = new Map<Trace, Map<string, number>>();

/**
 * A test actor that records `name:init#n`, `name:terminate:<exit kind>`, `name:aborted` into the trace, and
 * does on demand what real actors do wrong: throw, reject, hang with or without honouring its signal.
 */
export function probe(
  trace: Trace,
  name: string,
  options: ProbeOptions = {},
): ActorBehaviour<ProbeMsg, void> {
  const counts = incarnations.get(trace) ?? new Map<string, number>();
  incarnations.set(trace, counts);
  return defineActor<ProbeMsg>({
    init(ctx) {
      const n = (counts.get(name) ?? 0) + 1;
      counts.set(name, n);
      ctx.signal.addEventListener('abort', () => trace.push(`${name}:aborted`));
      options.onStart?.(ctx.self);
      if (options.failInit?.(n)) {
        trace.push(`${name}:init-failed#${n}`);
        throw new Error(`${name} init failed`);
      }
      trace.push(`${name}:init#${n}`);
    },
    async handle(msg, _state, ctx) {
      switch (msg.type) {
        case 'ping':
          ctx.reply(msg.replyTo, `pong from ${name}`);
          return;
        case 'crash':
          throw new TypeError(msg.message);
        case 'reject':
          await Promise.reject(new RangeError(msg.message));
          return;
        case 'finish':
          ctx.stop(msg.failure === undefined ? undefined : new Error(msg.failure));
          return;
        case 'hang':
          trace.push(`${name}:hanging`);
          await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
          return;
        case 'hang_ignoring_signal':
          trace.push(`${name}:hanging`);
          await new Promise<void>(() => undefined);
          return;
      }
    },
    async terminate(_state, exit) {
      trace.push(`${name}:terminate:${exit.kind}`);
      if (options.stuckTerminate) await new Promise<void>(() => undefined);
    },
  });
}

/** A child spec for a probe. */
export function probeSpec(
  trace: Trace,
  id: string,
  restart: RestartType = 'permanent',
  options: ProbeOptions & { readonly shutdownMs?: number } = {},
): ChildSpec {
  return { id, restart, start: () => probe(trace, id, options), ...pick(options) };
}

function pick(options: { readonly shutdownMs?: number }): { shutdownMs?: number } {
  return options.shutdownMs === undefined ? {} : { shutdownMs: options.shutdownMs };
}

/** Narrows a loosely typed ref (from `Tree.child`) to the protocol the test knows the actor has. */
export function refOf<Msg>(ref: ActorRef<unknown> | ActorRef<Msg> | undefined): ActorRef<Msg> {
  if (!ref) throw new Error('no such actor');
  return ref;
}

export const probeRef: (ref: ActorRef<unknown> | ActorRef<ProbeMsg> | undefined) => ActorRef<ProbeMsg> =
  refOf;

/** A logger that keeps every line, children included, for assertions. */
export class RecordingLogger implements Logger {
  readonly lines: { readonly level: string; readonly message: string; readonly fields: LogFields }[] = [];
  debug = (message: string, fields: LogFields = {}): void => this.record('debug', message, fields);
  info = (message: string, fields: LogFields = {}): void => this.record('info', message, fields);
  warn = (message: string, fields: LogFields = {}): void => this.record('warn', message, fields);
  error = (message: string, fields: LogFields = {}): void => this.record('error', message, fields);

  constructor(
    private readonly bound: LogFields = {},
    private readonly sink?: RecordingLogger,
  ) {}

  child(fields: LogFields): Logger {
    return new RecordingLogger({ ...this.bound, ...fields }, this.sink ?? this);
  }

  messages(level: string): string[] {
    return this.lines.filter((line) => line.level === level).map((line) => line.message);
  }

  private record(level: string, message: string, fields: LogFields): void {
    (this.sink ?? this).lines.push({ level, message, fields: { ...this.bound, ...fields } });
  }
}
