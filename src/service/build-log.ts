import { encodeBuildLog } from '../messages';
import type { Logger } from '../log';

export interface BuildLogOptions {
  readonly workflowId: string;
  /** Sends one batch to every Manager; its failures are the caller's to log, never the build's. */
  readonly send: (payload: Buffer) => Promise<void>;
  readonly log: Logger;
  /** How often buffered lines go out, ms. Default 1000. */
  readonly flushMs?: number;
  /** Lines kept per build; past it one truncation line is sent and the rest dropped. Default 10 000. */
  readonly maxLines?: number;
  /** Characters kept of one line. Default 4096. */
  readonly maxLineLength?: number;
}

/**
 * The build output of one workflow on its way to the Managers' live log view: lines are buffered and sent
 * about once a second, each prefixed with its number so a viewer can tell a gap from a quiet build; a build
 * that talks too much is cut off with one line saying so. Nothing here waits on the broker: a slow or failing
 * publish costs log lines, never build time.
 */
export class BuildLogStream {
  private buffer: string[] = [];
  private count = 0;
  private dropped = 0;
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> = Promise.resolve();
  private readonly maxLines: number;
  private readonly maxLineLength: number;

  constructor(private readonly options: BuildLogOptions) {
    this.maxLines = options.maxLines ?? 10_000;
    this.maxLineLength = options.maxLineLength ?? 4096;
  }

  /** Lines dropped because the build exceeded `maxLines`. */
  get droppedLines(): number {
    return this.dropped;
  }

  push(line: string): void {
    if (this.count >= this.maxLines) {
      if (this.dropped++ === 0)
        this.buffer.push(`[${this.count + 1}] ... output truncated after ${this.maxLines} lines`);
      this.schedule();
      return;
    }
    this.count += 1;
    const text = line.length > this.maxLineLength ? `${line.slice(0, this.maxLineLength)}…` : line;
    this.buffer.push(`[${this.count}] ${text}`);
    this.schedule();
  }

  /** Sends what is buffered now and waits for every send so far. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.sendBuffered();
    await this.sending;
  }

  private schedule(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.sendBuffered();
    }, this.options.flushMs ?? 1000);
    this.timer.unref();
  }

  private sendBuffered(): void {
    if (this.buffer.length === 0) return;
    const logs = this.buffer;
    this.buffer = [];
    const payload = encodeBuildLog({ workflow_id: this.options.workflowId, logs });
    this.sending = this.sending
      .then(() => this.options.send(payload))
      .catch((err: unknown) =>
        this.options.log.warn('build log lines could not be sent', { err, lines: logs.length }),
      );
  }
}
