import { InvalidRefError } from './errors';

/**
 * Refs arrive from a message queue and end up in ref lookups and commit messages, so they are held to
 * `git check-ref-format --allow-onelevel` plus a character whitelist: no shell metacharacters or spaces
 * even though no shell is involved, because such names are never legitimate in a deploy request and are
 * a common sign of injection attempts against tools that do use a shell.
 */

const MAX_REF_LENGTH = 255;
const ALLOWED = /^[A-Za-z0-9._/+@-]+$/;
const FULL_SHA = /^[0-9a-f]{40}$/;
// Four is git's own minimum abbreviation length.
const ABBREVIATED_SHA = /^[0-9a-f]{4,39}$/;

/** Throws `InvalidRefError` unless `ref` is a safe branch, tag, full ref or (abbreviated) commit name. */
export function validateRef(ref: string): string {
  const fail = (reason: string): never => {
    throw new InvalidRefError(ref, reason);
  };
  if (ref.length === 0) fail('it is empty');
  if (ref.length > MAX_REF_LENGTH) fail(`it is longer than ${MAX_REF_LENGTH} characters`);
  if (ref.startsWith('-')) fail('it starts with "-"');
  if (!ALLOWED.test(ref)) fail('only letters, digits and . _ / + @ - are allowed');
  if (ref.startsWith('/') || ref.endsWith('/') || ref.includes('//')) fail('it has an empty path component');
  if (ref.includes('..')) fail('it contains ".."');
  if (ref.endsWith('.')) fail('it ends with "."');
  if (ref === '@') fail('"@" alone is not a ref');
  for (const component of ref.split('/')) {
    if (component.startsWith('.')) fail('a path component starts with "."');
    if (component.endsWith('.lock')) fail('a path component ends with ".lock"');
  }
  return ref;
}

/** A complete 40-hex commit id: used as is, without asking the server. */
export function isFullSha(ref: string): boolean {
  return FULL_SHA.test(ref);
}

/** Could be an abbreviated commit id (it may also be a branch that happens to look like one). */
export function isAbbreviatedSha(ref: string): boolean {
  return ABBREVIATED_SHA.test(ref);
}

/**
 * Whether `ref` may be a plain branch name, which is then tried as a branch before anything else (as
 * `git checkout` prefers branches): not a full commit id, `HEAD` or a full `refs/...` name.
 */
export function mayNameBranch(ref: string): boolean {
  return !isFullSha(ref) && ref !== 'HEAD' && !ref.startsWith('refs/');
}
