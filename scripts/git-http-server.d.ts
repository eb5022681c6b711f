export interface GitServerAuth {
  username: string;
  password: string;
}

export interface GitServerOptions {
  /** Directory holding the bare repositories, served as `/anon/<name>.git` and `/auth/<name>.git`. */
  root: string;
  /** Default 0: the system picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Credentials for the `/auth` area; without them that area answers 404. */
  auth?: GitServerAuth;
}

export interface GitServer {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:40123`. */
  url: string;
  port: number;
  close(): Promise<void>;
}

export function startGitServer(options: GitServerOptions): Promise<GitServer>;
