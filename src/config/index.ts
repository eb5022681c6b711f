import fs from 'node:fs';
import type { ErrorObject } from 'ajv';
import { settingConflicts } from './consistency';
import { settings, type Setting, type SettingKey } from './settings';
import { localConfig, serviceConfig } from './validators.generated';

export { settings, type Setting, type SettingKey } from './settings';
export { configFileSchema, defaultConfigFile } from './schema';
export { settingConflicts, settingWarnings } from './consistency';

type Settings = typeof settings;
type ValueOf<S> = S extends { type: 'integer' }
  ? number
  : S extends { type: 'boolean' }
    ? boolean
    : S extends { type: 'list' }
      ? string[]
      : S extends { values: readonly (infer V)[] }
        ? V
        : string;

/** The validated configuration. Settings without a default are `undefined` when unset. */
export type BuilderConfig = {
  readonly [K in SettingKey]: Settings[K] extends { default: unknown }
    ? ValueOf<Settings[K]>
    : ValueOf<Settings[K]> | undefined;
};

/** `local` runs one request from a file; `service` consumes the queue and needs the Manager settings. */
export type ConfigMode = 'local' | 'service';

export interface LoadConfigOptions {
  mode: ConfigMode;
  /** Environment to read. Default: process.env. */
  env?: NodeJS.ProcessEnv;
  /** JSON file keyed by environment variable names; the environment wins over it. Default: none. */
  file?: string;
  /** Values that win over both (command-line flags), keyed by environment variable names. */
  overrides?: Record<string, string>;
}

/** A bad or missing setting. The message names every offending variable and never contains a secret value. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
  }
}

const entries = Object.entries(settings) as [SettingKey, Setting][];
const byEnv = new Map(entries.map(([key, s]) => [s.env, key]));

const validators = { local: localConfig, service: serviceConfig };

function describe(error: ErrorObject, raw: Record<string, unknown>): string {
  if (error.keyword === 'required') {
    return `${String(error.params.missingProperty)} is required in service mode`;
  }
  if (error.keyword === 'additionalProperties') {
    return `${String(error.params.additionalProperty)} is not a known setting`;
  }
  const envName = error.instancePath.split('/')[1] ?? '';
  const key = byEnv.get(envName);
  const shown = key && (settings[key] as Setting).secret ? '(value hidden)' : JSON.stringify(raw[envName]);
  const allowed =
    error.keyword === 'enum' ? `: ${(error.params.allowedValues as unknown[]).map(String).join(', ')}` : '';
  return `${envName} ${error.message ?? 'is invalid'}${allowed} (got ${shown})`;
}

/** What each setting's own check finds wrong with the values (each entry of a list); secrets never shown. */
function checkProblems(raw: Record<string, unknown>): string[] {
  return entries.flatMap(([, s]) => {
    const value = raw[s.env];
    const values = Array.isArray(value) ? value : [value];
    return s.check === undefined || value === undefined
      ? []
      : values.flatMap((v: unknown) => {
          const problem = typeof v === 'string' ? s.check?.(v) : undefined;
          if (problem === undefined) return [];
          return [`${s.env} ${problem} (got ${s.secret ? '(value hidden)' : JSON.stringify(v)})`];
        });
  });
}

function readFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([
      `config file ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    ]);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigError([`config file ${file} is not JSON (${(err as Error).message})`]);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError([`config file ${file} must hold a JSON object keyed by variable names`]);
  }
  return parsed as Record<string, unknown>;
}

/** The suffix of the variable that names a file holding a secret, as Docker and Kubernetes secrets are mounted. */
export const FILE_SUFFIX = '_FILE';

// The file's content is the secret; the one line break editors and `echo` add at its end is not part of it.
function secretFromFile(name: string, env: NodeJS.ProcessEnv): string | undefined {
  const file = env[`${name}${FILE_SUFFIX}`];
  if (file === undefined || file === '') return undefined;
  if (env[name] !== undefined && env[name] !== '')
    throw new ConfigError([`${name} and ${name}${FILE_SUFFIX} are both set: keep one of them`]);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([
      `${name}${FILE_SUFFIX} names ${file}, which cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    ]);
  }
  const secret = text.replace(/\r?\n$/, '');
  if (secret === '') throw new ConfigError([`${name}${FILE_SUFFIX} names ${file}, which is empty`]);
  return secret;
}

function fromEnvironment(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [, s] of entries) {
    // Aliases first so that the current name wins when both are set.
    for (const name of [...(s.aliases ?? []), s.env]) {
      const value = env[name];
      if (value !== undefined && value !== '') out[s.env] = value;
    }
    const fromFile = s.secret ? secretFromFile(s.env, env) : undefined;
    if (fromFile !== undefined) out[s.env] = fromFile;
  }
  return out;
}

function splitList(value: unknown): unknown {
  return typeof value === 'string'
    ? value
        .split(',')
        .map((v) => v.trim())
        .filter((v) => v.length > 0)
    : value;
}

/**
 * Reads defaults, then the optional file, then the environment, then overrides; validates the result and
 * returns it typed. Throws `ConfigError` naming every bad key.
 */
export function loadConfig(options: LoadConfigOptions): BuilderConfig {
  const raw: Record<string, unknown> = {
    ...(options.file ? readFile(options.file) : {}),
    ...fromEnvironment(options.env ?? process.env),
    ...(options.overrides ?? {}),
  };
  for (const [, s] of entries) {
    if (s.type === 'list' && raw[s.env] !== undefined) raw[s.env] = splitList(raw[s.env]);
  }
  const shown = { ...raw };
  const validate = validators[options.mode];
  const invalid = validate(raw) ? [] : (validate.errors ?? []).map((e) => describe(e, shown));
  const problems = [...invalid, ...checkProblems(raw)];
  if (problems.length > 0) throw new ConfigError(problems);

  const config: Record<string, unknown> = {};
  for (const [key, s] of entries) {
    const value = raw[s.env] ?? (typeof s.default === 'function' ? s.default() : s.default);
    config[key] = value;
  }
  return config as BuilderConfig;
}

/** `config` itself when its settings agree with one another; else a ConfigError naming each broken rule. */
export function consistentConfig(config: BuilderConfig): BuilderConfig {
  const conflicts = settingConflicts(config);
  if (conflicts.length > 0) throw new ConfigError(conflicts);
  return config;
}

/**
 * How long a replica holds a delivery unacknowledged, asked of the broker as its consumer's
 * `x-consumer-timeout`: a workflow may run its whole timeout, then take the grace to stop and its finish budget
 * to report its end.
 */
export function consumerTimeoutMs(config: BuilderConfig): number {
  return (config.workflowTimeoutSeconds + config.shutdownGraceSeconds + config.finishTimeoutSeconds) * 1000;
}

/** The names of the secrets this configuration holds, for the redactor and for masked printing. */
export function secretValues(config: BuilderConfig): string[] {
  return entries
    .filter(([key, s]) => s.secret && typeof config[key] === 'string')
    .map(([key]) => config[key] as string);
}

/** The configuration as `VAR=value` pairs for operators, with secrets masked. */
export function describeConfig(config: BuilderConfig): Record<string, unknown> {
  return Object.fromEntries(
    entries.map(([key, s]) => [s.env, s.secret && config[key] !== undefined ? '********' : config[key]]),
  );
}

/** Markdown table of every setting, generated from the schema so the documentation cannot drift. */
export function configurationTable(): string {
  const rows = entries.map(([, s]) => {
    const def =
      typeof s.default === 'function'
        ? 'computed (see description)'
        : s.default === undefined
          ? s.requiredInService
            ? 'required in service mode'
            : 'unset'
          : `\`${Array.isArray(s.default) ? s.default.join(',') : String(s.default)}\``;
    const names = [s.env, ...(s.aliases ?? []), ...(s.secret ? [`${s.env}${FILE_SUFFIX}`] : [])]
      .map((n) => `\`${n}\``)
      .join(', ');
    return `| ${names} | ${s.type}${s.secret ? ', secret' : ''} | ${def} | ${s.description} |`;
  });
  return ['| variable | type | default | meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
