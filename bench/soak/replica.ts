// One `oa-builder serve` replica as a child process, as ops run it: configured only by its environment, its
// stdout and stderr kept in files for the secret scan, stopped by SIGTERM or killed by SIGKILL by its PID.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface ReplicaOptions {
  readonly name: string;
  /** The compiled CLI's entry point. */
  readonly bin: string;
  /** Options for Node itself, before the entry point (such as --cpu-prof). Default none. */
  readonly nodeArgs?: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  /** `host:port` of its health endpoint (HEALTH_LISTEN). */
  readonly healthListen: string;
  readonly workRoot: string;
  /** Where its output files go. */
  readonly logDir: string;
  /** Told when the process ends without having been asked to (a crash, not a kill or stop of ours). */
  readonly onUnexpectedExit: (replica: Replica, code: number | null, signal: string | null) => void;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class Replica {
  readonly stdoutFile: string;
  readonly stderrFile: string;
  starts = 0;
  kills = 0;
  /** When each SIGKILL was sent, ms since the epoch: where a build its log leaves open ended. */
  readonly killedAt: number[] = [];
  /** Graceful stops that needed a SIGKILL after all. */
  forcedStops = 0;
  private child: ChildProcess | undefined;
  /** The processes this object killed: one that dies while it starts was not a failed start. */
  private readonly killedChildren = new WeakSet<ChildProcess>();
  private exited: Promise<void> = Promise.resolve();
  private expectingExit = false;

  constructor(readonly options: ReplicaOptions) {
    this.stdoutFile = path.join(options.logDir, `${options.name}.stdout`);
    this.stderrFile = path.join(options.logDir, `${options.name}.stderr`);
  }

  get name(): string {
    return this.options.name;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the process and resolves once /readyz answers 200 (it is registered, connected and consuming). */
  async start(readyTimeoutMs: number): Promise<void> {
    if (this.child) throw new Error(`${this.name} is already running`);
    const out = fs.openSync(this.stdoutFile, 'a');
    const err = fs.openSync(this.stderrFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, [...(this.options.nodeArgs ?? []), this.options.bin, 'serve'], {
        env: this.options.env,
        stdio: ['ignore', out, err],
      });
    } finally {
      fs.closeSync(out);
      fs.closeSync(err);
    }
    this.child = child;
    this.starts++;
    this.expectingExit = false;
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        if (this.child === child) this.child = undefined;
        if (!this.expectingExit) this.options.onUnexpectedExit(this, code, signal);
        resolve();
      }),
    );
    const deadline = Date.now() + readyTimeoutMs;
    while (Date.now() < deadline) {
      if (this.child !== child) {
        // Another fault killed it while it started (the poison request's kill, say): whoever killed it starts
        // it again, so this start has nothing left to do.
        if (this.killedChildren.has(child)) return;
        throw new Error(`${this.name} exited while starting (see ${this.stderrFile})`);
      }
      if (await this.ready()) return;
      await sleep(250);
    }
    throw new Error(`${this.name} was not ready within ${readyTimeoutMs} ms (see ${this.stderrFile})`);
  }

  async ready(): Promise<boolean> {
    try {
      const res = await fetch(`http://${this.options.healthListen}/readyz`, {
        signal: AbortSignal.timeout(2_000),
      });
      await res.arrayBuffer();
      return res.status === 200;
    } catch {
      return false;
    }
  }

  /** SIGKILL: no drain, no cleanup, deliveries left to the broker. */
  async kill9(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.expectingExit = true;
    this.kills++;
    this.killedAt.push(Date.now());
    this.killedChildren.add(child);
    child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM and wait for the drain; SIGKILL after `graceMs` plus a margin, counted in `forcedStops`. */
  async stop(graceMs: number): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.expectingExit = true;
    child.kill('SIGTERM');
    const forced = setTimeout(() => {
      this.forcedStops++;
      child.kill('SIGKILL');
    }, graceMs + 30_000);
    await this.exited;
    clearTimeout(forced);
  }

  /** Entries of its BUILDER_TMPDIR (a missing directory has none). */
  workDirEntries(): string[] {
    try {
      return fs.readdirSync(this.options.workRoot);
    } catch {
      return [];
    }
  }
}
