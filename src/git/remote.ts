import type { BuilderConfig } from '../config';
import { combineCredentials, noCredentials, tokenCredentials, type CredentialsProvider } from './credentials';
import { InvalidRepoError } from './errors';
import { quoted } from './quoted';

/** How the builder reaches git servers; built once from the configuration and shared by every workflow. */
export interface GitAccess {
  /** Base URL that `Org/name` expands against, ending in `/`. Default (config): `https://github.com/`. */
  readonly baseUrl: string;
  /** Credentials offered when a server asks for them. */
  readonly credentials: CredentialsProvider;
  /** Milliseconds one network operation (ls-remote, clone, fetch, push) may take. Default (config): 120000. */
  readonly timeoutMs: number;
}

/** One repository, ready for network operations. */
export interface Remote {
  /** HTTP(S) URL without user-info: safe to log and to store in `.git/config`. */
  readonly url: string;
  readonly credentials: CredentialsProvider;
  /** Milliseconds one network operation may take. */
  readonly timeoutMs: number;
}

const NAME_SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const URL_SEGMENT = /^[A-Za-z0-9_~+][A-Za-z0-9_.~+-]*$/;
const SSH_FORM = /^(ssh:\/\/|git\+ssh:\/\/|[^/:\s]+@[^/:\s]+:)/i;

function checkSegments(segments: readonly string[], pattern: RegExp, shown: string): void {
  for (const segment of segments) {
    if (segment.includes('..') || !pattern.test(segment)) {
      throw new InvalidRepoError(`invalid repository ${shown}: bad path component ${quoted(segment)}`);
    }
  }
}

function parseHttpUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidRepoError('invalid repository URL: it cannot be parsed');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidRepoError(
      `invalid repository URL: scheme ${url.protocol} is not supported, use https://`,
    );
  }
  if (url.username !== '' || url.password !== '') {
    // The URL is not echoed: it holds the very secret this rule keeps out of logs.
    throw new InvalidRepoError(
      'repository URLs must not contain credentials; configure them as git credentials for the host instead',
    );
  }
  if (url.search !== '' || url.hash !== '') {
    throw new InvalidRepoError(
      `invalid repository URL ${url.origin}${url.pathname}: no query or fragment allowed`,
    );
  }
  return url;
}

function expandUrl(text: string): string {
  const url = parseHttpUrl(text);
  const shown = `${url.origin}${url.pathname}`;
  // URL parsing quietly resolves `a/../b` (also percent-encoded); such a request is refused, not repaired.
  if (/\.\.|%2e/i.test(text))
    throw new InvalidRepoError(`invalid repository URL ${shown}: bad path component ".."`);
  const segments = url.pathname.split('/').filter((s) => s !== '');
  if (segments.length === 0)
    throw new InvalidRepoError(`invalid repository URL ${shown}: it names no repository`);
  checkSegments(segments, URL_SEGMENT, shown);
  return `${url.origin}/${segments.join('/')}`;
}

function expandName(name: string, baseUrl: string): string {
  const shown = quoted(name);
  const bare = name.endsWith('.git') ? name.slice(0, -'.git'.length) : name;
  const segments = bare.split('/');
  if (segments.length < 2)
    throw new InvalidRepoError(`invalid repository ${shown}: expected "Org/name" or a URL`);
  checkSegments(segments, NAME_SEGMENT, shown);
  const base = parseHttpUrl(baseUrl).href;
  return `${base.endsWith('/') ? base : `${base}/`}${bare}.git`;
}

/**
 * The URL of a repository given as `Org/name` (expanded against `baseUrl` as `<base>Org/name.git`) or as a full
 * http(s) URL (kept as is, host included, unlike the original builder which always used GitHub).
 * Throws `InvalidRepoError` for ssh URLs (isomorphic-git speaks HTTP(S) only), URLs with credentials, and names
 * with characters or components that have no business in a repository path.
 */
export function repoUrl(repo: string, baseUrl: string): string {
  const text = repo.trim();
  if (text === '') throw new InvalidRepoError('no repository given');
  if (SSH_FORM.test(text)) {
    throw new InvalidRepoError(
      'ssh repository URLs are not supported (the builder speaks git over HTTP(S) only); use https://<host>/<org>/<name>.git',
    );
  }
  return /^[a-z][a-z0-9+.-]*:/i.test(text) ? expandUrl(text) : expandName(text, baseUrl);
}

/** A `Remote` for `repo` (`Org/name` or URL), carrying the access settings. */
export function resolveRemote(repo: string, access: GitAccess): Remote {
  return { url: repoUrl(repo, access.baseUrl), credentials: access.credentials, timeoutMs: access.timeoutMs };
}

/**
 * Access settings from the configuration: the GitHub OAuth token is offered to the host of the git base URL
 * only, after any `extra` credentials (per-host ones, say), so a repository URL pointing elsewhere never sees it.
 */
export function gitAccessFromConfig(
  config: Pick<BuilderConfig, 'gitBaseUrl' | 'githubOauthToken' | 'gitTimeoutSeconds'>,
  extra: CredentialsProvider = noCredentials,
): GitAccess {
  const token = config.githubOauthToken;
  const tokenProvider =
    token === undefined ? noCredentials : tokenCredentials(token, parseHttpUrl(config.gitBaseUrl).host);
  return {
    baseUrl: config.gitBaseUrl,
    credentials: combineCredentials(extra, tokenProvider),
    timeoutMs: config.gitTimeoutSeconds * 1000,
  };
}
