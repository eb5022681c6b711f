import fs from 'node:fs';
import path from 'node:path';

/** One image a classic build committed, and the engine it is on. */
export interface RecordedImage {
  readonly endpoint: string;
  readonly id: string;
}

/** The file in a workflow's work directory that lists the images its builds committed, one JSON per line. */
export const IMAGE_RECORD = 'engine-images';

/**
 * Writes down, in `dir`, an image a classic build has just committed. The classic builder commits an untagged
 * image per step, and a replica killed mid-build leaves them on the engine with nothing on them to say whose
 * they are; its successor reads this record ({@link recordedImages}) and removes them. Written at once and
 * synchronously: a line still queued when the process is killed would be an image nobody removes.
 */
export function recordImage(dir: string, image: RecordedImage): void {
  fs.appendFileSync(path.join(dir, IMAGE_RECORD), `${JSON.stringify(image)}\n`);
}

function isRecordedImage(value: unknown): value is RecordedImage {
  const image = value as Partial<RecordedImage> | null;
  return (
    typeof image?.endpoint === 'string' && typeof image.id === 'string' && /^[0-9a-f]{12,64}$/.test(image.id)
  );
}

/**
 * The images recorded in `dirs` (work directories a killed run left), oldest first. A missing record is none;
 * a line cut short by the kill, or anything else that is not a record, is skipped.
 */
export async function recordedImages(dirs: readonly string[]): Promise<RecordedImage[]> {
  const texts = await Promise.all(
    dirs.map((dir) => fs.promises.readFile(path.join(dir, IMAGE_RECORD), 'utf8').catch(() => '')),
  );
  return texts.flatMap((text) =>
    text.split('\n').flatMap((line) => {
      try {
        const parsed: unknown = JSON.parse(line);
        return isRecordedImage(parsed) ? [parsed] : [];
      } catch {
        return [];
      }
    }),
  );
}
