import { BUILDER_VERSION } from '../version';

/**
 * The label on every image this builder builds, and on each image a classic build commits on its way there:
 * what tells the builder's leftovers on a shared engine from images others made. Its value is the builder's
 * version; only the key is matched.
 */
export const BUILDER_LABEL = 'org.openaperture.builder';

/** The labels a BuildKit build is given (`labels`): BuildKit commits no image before the last. */
export const builderLabels: Readonly<Record<string, string>> = { [BUILDER_LABEL]: BUILDER_VERSION };

const LABEL_INSTRUCTION = `LABEL ${BUILDER_LABEL}=${JSON.stringify(BUILDER_VERSION)}`;
const DIRECTIVE = /^#\s*([A-Za-z]+)\s*=\s*(\S*)\s*$/;
const FROM = /^from\s/i;

/** The escape character of a Dockerfile: `\`, unless a parser directive at the top names another. */
function escapeOf(lines: readonly string[]): string {
  for (const line of lines) {
    const directive = DIRECTIVE.exec(line.trim());
    if (!directive) break;
    if (directive[1]?.toLowerCase() === 'escape' && directive[2]) return directive[2];
  }
  return '\\';
}

/** A Dockerfile as sent, and where lines were added to it. */
export interface LabelledDockerfile {
  readonly text: string;
  /** The lines of `text` that were added, 1-based, ascending. */
  readonly added: readonly number[];
}

/**
 * `dockerfile` with the builder's label set right after each `FROM` (after its continuation lines), for the
 * classic builder: it commits an image per step, and the `labels` build option reaches only the last one, so
 * the images of a build that is killed half way would carry no mark. A label set first in a stage is
 * inherited by every image the stage commits after it. Costs one more step per stage in the build log.
 * Comment and blank lines inside an instruction's continuation belong to it, as the classic parser reads them
 * (it has no heredocs).
 */
export function labelEveryStage(dockerfile: string): LabelledDockerfile {
  const lines = dockerfile.split('\n');
  const escape = escapeOf(lines);
  const out: string[] = [];
  const added: number[] = [];
  let continuing = false;
  let inFrom = false;
  for (const raw of lines) {
    out.push(raw);
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (!continuing) inFrom = FROM.test(line);
    continuing = line.endsWith(escape);
    if (inFrom && !continuing) {
      added.push(out.push(LABEL_INSTRUCTION));
      inFrom = false;
    }
  }
  return { text: out.join('\n'), added };
}

const PARSE_ERROR_LINE = /(dockerfile parse error (?:on )?line )(\d+)/g;

/**
 * The daemon's message about the Dockerfile as sent, with its line numbers ("dockerfile parse error line N")
 * turned back into the lines of the user's Dockerfile.
 */
export function userLines(message: string, added: readonly number[]): string {
  return message.replace(PARSE_ERROR_LINE, (_all, prefix: string, line: string) => {
    const sent = Number(line);
    return `${prefix}${sent - added.filter((n) => n < sent).length}`;
  });
}
