import type { BrokerConnectionRecord } from '../manager';
import { ResolutionError } from './errors';

/** The AMQP port when the Manager's record has none, which is usual: the Manager never stores it (§2.2). */
export const defaultAmqpPort = 5672;

function port(value: BrokerConnectionRecord['port'], host: string): number {
  if (value === null || value === undefined || value === '') return defaultAmqpPort;
  const n = typeof value === 'number' ? value : Number(value.trim());
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    throw new ResolutionError(`broker connection ${host} has an invalid port ${JSON.stringify(value)}`);
  }
  return n;
}

/**
 * `amqp://user:pass@host:port/vhost` for one Manager connection record. Credentials and the vhost are
 * percent-encoded, so "/" (the default vhost, also used when the record has none) becomes `%2F`.
 */
export function amqpUrl(record: BrokerConnectionRecord): string {
  const host = record.host.includes(':') && !record.host.startsWith('[') ? `[${record.host}]` : record.host;
  const user = encodeURIComponent(record.username ?? '');
  const pass = encodeURIComponent(record.password ?? '');
  const auth = user || pass ? `${user}:${pass}@` : '';
  const vhost = encodeURIComponent(record.virtual_host || '/');
  return `amqp://${auth}${host}:${port(record.port, record.host)}/${vhost}`;
}

/** The URL with its password replaced by `***`, for logs and messages. Unparseable text is hidden whole. */
export function maskUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable broker URL)';
  }
}
