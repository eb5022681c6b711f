import type { Logger } from '../log';
import type { JsonValue } from './deployment-config';

/** The source repository's own settings file; the builder reads only its notification settings. */
export const OPENAPERTURE_FILE = 'openaperture.json';

/**
 * `deployments.notifications` of an openaperture.json text (`null` when there is no file), or `null`.
 * An unparsable file only costs the notifications, as in the original: it is logged, not fatal.
 */
export function notificationsConfig(text: string | null, log: Logger): JsonValue | null {
  if (text === null) return null;
  let info: unknown;
  try {
    info = JSON.parse(text);
  } catch (err) {
    log.warn(`${OPENAPERTURE_FILE} of the source repository is not valid JSON; notifications use defaults`, {
      err,
    });
    return null;
  }
  const pick = (value: unknown, key: string): unknown =>
    typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)[key]
      : undefined;
  return (pick(pick(info, 'deployments'), 'notifications') as JsonValue | undefined) ?? null;
}
