import { readRepoFile } from './confined-fs';

/**
 * The settings files of a deployment repository (docker.json, etcd.json, source.json, fleet.json, aws.json),
 * read with the original builder's rules and, where they still fit, its error texts, which operators know
 * from event logs.
 */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** A settings file that is missing, malformed or lacks a required value. */
export class RepoConfigError extends Error {
  override name = 'RepoConfigError';
  constructor(
    /** The settings file concerned, e.g. `docker.json`. */
    readonly file: string,
    message: string,
  ) {
    super(message);
  }
}

type JsonObject = { [key: string]: JsonValue };

function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The parsed file, or `undefined` when it does not exist. Bad JSON throws with `parsePrefix` + the reason. */
async function readJson(dir: string, file: string, parsePrefix: string): Promise<JsonValue | undefined> {
  const found = await readRepoFile(dir, file);
  if (found === null) return undefined;
  try {
    return JSON.parse(found.text) as JsonValue;
  } catch (err) {
    throw new RepoConfigError(file, `${parsePrefix} ${(err as Error).message}`);
  }
}

function optionalString(obj: JsonObject, key: string, file: string): string | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new RepoConfigError(file, `${key} in ${file} must be a string`);
  return value === '' ? undefined : value;
}

/** A registry named by docker.json instead of the builder's configured one. */
export interface CustomRegistry {
  readonly url: string;
  readonly username?: string;
  readonly email?: string;
  /** A secret: never log it. */
  readonly password?: string;
}

export interface DockerSettings {
  /** `docker_url`: the image repository, e.g. `myorg/myapp`, registry host included if written there. */
  readonly dockerUrl: string;
  /** Set when docker.json has `docker_registry_url`; its other registry fields are optional here. */
  readonly registry: CustomRegistry | null;
}

const NO_DOCKER_NAME = 'Unable to get the docker repo name, docker_repo_name not specified and';

export async function readDockerSettings(dir: string): Promise<DockerSettings> {
  const file = 'docker.json';
  const json = await readJson(dir, file, 'An error occurred parsing docker.json JSON!');
  if (json === undefined) throw new RepoConfigError(file, `${NO_DOCKER_NAME} docker.json does not exist!`);
  const obj = isObject(json) ? json : {};
  const dockerUrl = optionalString(obj, 'docker_url', file);
  if (dockerUrl === undefined)
    throw new RepoConfigError(file, `${NO_DOCKER_NAME} docker_url not specified in docker.json`);
  const url = optionalString(obj, 'docker_registry_url', file);
  if (url === undefined) return { dockerUrl, registry: null };
  const registry: { -readonly [K in keyof CustomRegistry]: CustomRegistry[K] } = { url };
  for (const [key, field] of [
    ['docker_registry_username', 'username'],
    ['docker_registry_email', 'email'],
    ['docker_registry_password', 'password'],
  ] as const) {
    const value = optionalString(obj, key, file);
    if (value !== undefined) registry[field] = value;
  }
  return { dockerUrl, registry };
}

/**
 * etcd.json `token`, which picks the Fleet cluster to deploy to; required only when the workflow's
 * milestones include `deploy` (otherwise `null`, and the file is not even read).
 */
export async function readEtcdToken(dir: string, milestones: readonly string[]): Promise<string | null> {
  if (!milestones.includes('deploy')) return null;
  const file = 'etcd.json';
  const json = await readJson(dir, file, 'An error occurred parsing etcd JSON! ');
  if (json === undefined) throw new RepoConfigError(file, 'No etcd JSON file is present in this repository!');
  const token = isObject(json) ? json.token : undefined;
  if (token === undefined || token === null) throw new RepoConfigError(file, 'token missing from etcd.json');
  if (typeof token !== 'string' || token === '')
    throw new RepoConfigError(file, 'invalid token in etcd.json');
  return token;
}

/** The source repository of a deployment, from the request or, failing that, from source.json. */
export interface SourceRepoSpec {
  readonly repo: string;
  readonly ref: string;
}

/** The request's own source fields; empty strings count as unset, as in the original. */
export interface SourceRequest {
  readonly source_repo?: string | null | undefined;
  readonly source_repo_git_ref?: string | null | undefined;
}

/**
 * Picks the source repository: the request's `source_repo`, else source.json's; the ref from the request,
 * else source.json, else `master`. `null` when neither names a repository (a deployment without source).
 */
export async function selectSourceRepo(dir: string, request: SourceRequest): Promise<SourceRepoSpec | null> {
  const file = 'source.json';
  const json = await readJson(dir, file, 'An error occurred parsing source.json JSON!');
  const fromFile = isObject(json) ? json : {};
  const repo = request.source_repo || optionalString(fromFile, 'source_repo', file);
  if (!repo) return null;
  const ref =
    request.source_repo_git_ref || optionalString(fromFile, 'source_repo_git_ref', file) || 'master';
  return { repo, ref };
}

/** fleet.json as is, or `null` when absent; passed through to the orchestrator. */
export async function readFleetConfig(dir: string): Promise<JsonValue | null> {
  return (await readJson(dir, 'fleet.json', 'An error occurred parsing Fleet JSON! ')) ?? null;
}

/** aws.json as is, or `null` when absent; passed through to the orchestrator. */
export async function readAwsConfig(dir: string): Promise<JsonValue | null> {
  return (await readJson(dir, 'aws.json', 'An error occurred parsing AWS JSON! ')) ?? null;
}
