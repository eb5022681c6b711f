// Changes a hostile user could commit to a deployment repository, applied to a copy of a realistic one before it
// is seeded on the git server. Seeding goes through the git CLI, which stores symbolic links as links.
import fs from 'node:fs';
import path from 'node:path';

/** Changes the working tree `dir` of a repository about to be committed. */
export type RepoChange = (dir: string) => void;

/** Replaces top-level `name` (or adds it) with a symbolic link to `target`. */
export const replaceWithLink =
  (name: string, target: string): RepoChange =>
  (dir) => {
    fs.rmSync(path.join(dir, name), { recursive: true, force: true });
    fs.symlinkSync(target, path.join(dir, name));
  };

/** Appends `text` to top-level file `name`. */
export const append =
  (name: string, text: string): RepoChange =>
  (dir) =>
    fs.appendFileSync(path.join(dir, name), text);

/** Replaces top-level `name` with a directory holding one file: same name, but nothing a template can be. */
export const replaceWithDirectory =
  (name: string): RepoChange =>
  (dir) => {
    fs.rmSync(path.join(dir, name), { recursive: true, force: true });
    fs.mkdirSync(path.join(dir, name));
    fs.writeFileSync(path.join(dir, name, 'inside'), 'FROM scratch\n');
  };
