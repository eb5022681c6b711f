import git from 'isomorphic-git';
import { RefNotFoundError } from './errors';
import { isAbbreviatedSha, isFullSha, validateRef } from './ref-name';
import type { Remote } from './remote';
import { withRemote, type GitContext } from './transport';

/** What a requested ref turned out to be on the server. */
export type RefTarget =
  | { readonly kind: 'branch'; readonly name: string; readonly commit: string }
  | { readonly kind: 'tag'; readonly name: string; readonly commit: string }
  | { readonly kind: 'commit'; readonly commit: string }
  /** Not a ref on the server but could abbreviate a commit id: only a clone can tell which. */
  | { readonly kind: 'abbreviated'; readonly prefix: string };

const HEADS = 'refs/heads/';
const TAGS = 'refs/tags/';

// Branches before tags, as `git checkout <ref>` (what the original ran) prefers them.
function candidates(ref: string): string[] {
  return ref === 'HEAD' || ref.startsWith('refs/') ? [ref] : [`${HEADS}${ref}`, `${TAGS}${ref}`];
}

/**
 * Finds `ref` on the server with an ls-remote (protocol v2, filtered by prefix so a repository with
 * thousands of pull-request refs costs one small answer), without fetching any object.
 * A full 40-hex commit id is taken as is, with no request. Annotated tags resolve to the commit they tag.
 * Throws `InvalidRefError` for malformed refs and `RefNotFoundError` when nothing matches.
 */
export async function locateRef(remote: Remote, ref: string, ctx: GitContext): Promise<RefTarget> {
  validateRef(ref);
  if (isFullSha(ref)) return { kind: 'commit', commit: ref };
  const wanted = candidates(ref);
  const listed = await withRemote('ls-remote', remote, ctx, (io) =>
    Promise.all(
      wanted.map((prefix) =>
        git.listServerRefs({ ...io, url: remote.url, prefix, symrefs: true, peelTags: true }),
      ),
    ),
  );
  const byName = new Map(listed.flat().map((r) => [r.ref, r]));
  for (const name of wanted) {
    const found = byName.get(name);
    if (found === undefined) continue;
    const full = found.target ?? name;
    if (full.startsWith(HEADS)) return { kind: 'branch', name: full.slice(HEADS.length), commit: found.oid };
    if (full.startsWith(TAGS))
      return { kind: 'tag', name: full.slice(TAGS.length), commit: found.peeled ?? found.oid };
    return { kind: 'commit', commit: found.oid };
  }
  if (isAbbreviatedSha(ref)) return { kind: 'abbreviated', prefix: ref };
  throw new RefNotFoundError(remote.url, ref);
}
