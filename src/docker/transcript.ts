const STEP = /^Step \d+\/\d+ : (\S+)/;
const USING_CACHE = /^ ---> Using cache$/;
const RUNNING_IN = /^ ---> Running in ([0-9a-f]{12,64})$/;
const REMOVED = /^Removing intermediate container ([0-9a-f]{12,64})$/;
const STEP_IMAGE = /^ ---> ([0-9a-f]{12,64})$/;
const BUILT = /^Successfully built ([0-9a-f]{12,64})$/;

/**
 * The text output of a classic-builder build, reassembled into lines (the daemon sends fragments such as a
 * step title and its newline as separate messages) and read for what this build itself created:
 *
 * - the intermediate containers it started and the daemon has not reported removing, and
 * - the newest image it committed. FROM images and cache hits belong to others; a FROM step counts only when
 *   the base image's ONBUILD triggers ran a container. Deleting that newest image also deletes its untagged
 *   parents, which are this build's earlier steps.
 *
 * This is how a failed or cancelled build finds its leftovers: its intermediate images and containers carry
 * no tag or label, so only the output names them. podman's output has another shape and is only passed
 * through (podman removes its working containers itself when `forcerm` is set).
 */
export class BuildTranscript {
  /** Intermediate containers started by this build and not yet removed by the daemon. */
  readonly containers = new Set<string>();
  /** The newest image this build committed itself, if any. */
  createdImage: string | undefined;
  /** The id from "Successfully built <id>": the image id when the daemon sent no `aux.ID`. */
  builtId: string | undefined;

  private partial = '';
  private step = { from: false, cached: false, ran: false };

  /** `onImage` hears each image this build commits itself, as it commits it. */
  constructor(
    private readonly onLine: (line: string) => void,
    private readonly onImage: (id: string) => void = () => undefined,
  ) {}

  /** Takes one `stream` fragment of the build output. */
  write(fragment: string): void {
    const lines = (this.partial + fragment).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) this.line(line.endsWith('\r') ? line.slice(0, -1) : line);
  }

  /** Emits an unterminated last line, if the stream ended inside one. */
  end(): void {
    if (this.partial !== '') this.line(this.partial);
    this.partial = '';
  }

  private line(line: string): void {
    this.observe(line);
    this.onLine(line);
  }

  private observe(line: string): void {
    let match: RegExpExecArray | null;
    if ((match = STEP.exec(line))) {
      this.step = { from: /^from$/i.test(match[1] ?? ''), cached: false, ran: false };
    } else if (USING_CACHE.test(line)) {
      this.step.cached = true;
    } else if ((match = RUNNING_IN.exec(line))) {
      this.containers.add(match[1] ?? '');
      this.step.ran = true;
    } else if ((match = REMOVED.exec(line))) {
      this.containers.delete(match[1] ?? '');
    } else if ((match = STEP_IMAGE.exec(line))) {
      if (!this.step.cached && (!this.step.from || this.step.ran) && match[1]) {
        this.createdImage = match[1];
        this.onImage(match[1]);
      }
    } else if ((match = BUILT.exec(line))) {
      this.builtId = match[1];
    }
  }
}
