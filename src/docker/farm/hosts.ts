import fs from 'node:fs';
import path from 'node:path';
import { parseEndpoint, type Endpoint } from '../endpoint';
import { DockerUnreachableError } from '../errors';

/** Client credentials of a `tcp://` engine that requires TLS (`dockerd --tlsverify`), as PEM text. */
export interface EngineTls {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** One engine of the farm, from one BUILD_HOSTS entry. */
export interface EngineSpec {
  /** The address as written, without its options: what logs, errors, metrics and `/healthz` call it. */
  readonly endpoint: string;
  readonly address: Endpoint;
  /** Builds it runs at once. */
  readonly slots: number;
  readonly tls?: EngineTls;
}

// The file names the Docker CLI reads from DOCKER_CERT_PATH.
const CERT_FILES = { ca: 'ca.pem', cert: 'cert.pem', key: 'key.pem' } as const;

function readPem(endpoint: string, file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new DockerUnreachableError(
      endpoint,
      `its TLS file ${file} cannot be read: ${(err as Error).message}`,
    );
  }
}

function positiveInteger(endpoint: string, name: string, value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1)
    throw new DockerUnreachableError(
      endpoint,
      `${name} must be a whole number of at least 1, not "${value}"`,
    );
  return n;
}

/**
 * Reads one BUILD_HOSTS entry: an address (see {@link parseEndpoint}; a bare IP still means `tcp://IP:2375`)
 * followed by `;name=value` options: `slots=N` (default `defaultSlots`), and for TLS either `tls=DIR` (a
 * directory holding `ca.pem`, `cert.pem` and `key.pem`, as DOCKER_CERT_PATH) or `ca=`, `cert=` and `key=`
 * files. TLS makes a `tcp://` address speak https, on 2376 unless a port is given. The files are read here,
 * once, so a missing one fails the start instead of a build.
 */
export function parseEngineSpec(entry: string, defaultSlots: number): EngineSpec {
  const [address = '', ...options] = entry.trim().split(';');
  const endpoint = address.trim();
  const parsed = parseEndpoint(endpoint);
  const values = new Map<string, string>();
  for (const option of options) {
    const match = /^\s*(slots|tls|ca|cert|key)=(.+?)\s*$/.exec(option);
    if (!match?.[1] || !match[2])
      throw new DockerUnreachableError(endpoint, `unknown option "${option}" (slots, tls, ca, cert, key)`);
    values.set(match[1], match[2]);
  }
  const slotsValue = values.get('slots');
  const slots = slotsValue === undefined ? defaultSlots : positiveInteger(endpoint, 'slots', slotsValue);
  const dir = values.get('tls');
  const files = (['ca', 'cert', 'key'] as const).map(
    (name) => values.get(name) ?? (dir === undefined ? undefined : path.join(dir, CERT_FILES[name])),
  );
  const [ca, cert, key] = files;
  if (files.every((f) => f === undefined)) return { endpoint, address: parsed, slots };
  if (ca === undefined || cert === undefined || key === undefined)
    throw new DockerUnreachableError(endpoint, 'TLS needs ca, cert and key (or tls=DIR holding all three)');
  if (parsed.kind !== 'tcp') throw new DockerUnreachableError(endpoint, 'TLS applies to tcp:// engines only');
  const explicitPort = /:\d+\/?$/.test(endpoint);
  return {
    endpoint,
    address: { ...parsed, protocol: 'https', port: explicitPort ? parsed.port : 2376 },
    slots,
    tls: { ca: readPem(endpoint, ca), cert: readPem(endpoint, cert), key: readPem(endpoint, key) },
  };
}

/** Every BUILD_HOSTS entry; two entries for one address are one mistake the farm would count twice. */
export function parseEngineSpecs(entries: readonly string[], defaultSlots: number): EngineSpec[] {
  const specs = entries.map((entry) => parseEngineSpec(entry, defaultSlots));
  const seen = new Set<string>();
  for (const spec of specs) {
    if (seen.has(spec.endpoint))
      throw new DockerUnreachableError(spec.endpoint, 'it is listed twice in BUILD_HOSTS');
    seen.add(spec.endpoint);
  }
  if (specs.length === 0) throw new DockerUnreachableError('(none)', 'no build host is configured');
  return specs;
}

/**
 * Why a BUILD_HOSTS entry cannot be used, or undefined when it can: the settings check asks the very parser the
 * farm uses, so an entry accepted here (scheme, slots, TLS files) is one a build can connect with.
 */
export function buildHostProblem(entry: string): string | undefined {
  try {
    parseEngineSpec(entry, 1);
    return undefined;
  } catch (err) {
    if (err instanceof DockerUnreachableError) return `is ${err.detail}`;
    throw err;
  }
}
