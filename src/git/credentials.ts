/**
 * Credentials stay behind a callback: they are handed to the HTTP layer only when a server asks (HTTP 401)
 * and never written into a URL or `.git/config`, where they would outlive the workflow and leak into logs.
 */

export interface GitCredentials {
  readonly username: string;
  readonly password: string;
}

/** Returns the credentials to offer for a repository URL, or `undefined` to offer none. */
export type CredentialsProvider = (url: string) => GitCredentials | undefined;

/** Offers nothing: anonymous access only. */
export const noCredentials: CredentialsProvider = () => undefined;

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).host.toLowerCase();
  } catch {
    return undefined;
  }
}

/**
 * Credentials per host (`host` or `host:port`, case-insensitive), so that a repository on another server
 * never receives a secret meant for this one.
 */
export function hostCredentials(byHost: Readonly<Record<string, GitCredentials>>): CredentialsProvider {
  const table = new Map(Object.entries(byHost).map(([host, creds]) => [host.toLowerCase(), creds]));
  return (url) => {
    const host = hostOf(url);
    return host === undefined ? undefined : table.get(host);
  };
}

/**
 * An OAuth or personal access token for one host, sent the way GitHub documents for tokens over HTTPS
 * (token as the user name, `x-oauth-basic` as the password).
 * @param host host (or host:port) the token belongs to, e.g. the host of the configured git base URL.
 */
export function tokenCredentials(token: string, host: string): CredentialsProvider {
  return hostCredentials({ [host]: { username: token, password: 'x-oauth-basic' } });
}

/** Asks each provider in turn; the first that offers credentials wins. */
export function combineCredentials(...providers: readonly CredentialsProvider[]): CredentialsProvider {
  return (url) => {
    for (const provider of providers) {
      const creds = provider(url);
      if (creds !== undefined) return creds;
    }
    return undefined;
  };
}
