import { ActorError } from './errors';
import type { FailureInfo } from './types';

// Error chains can be cyclic or absurdly deep; health output has to stay small either way.
const MAX_CAUSE_DEPTH = 4;

/**
 * Turns whatever was thrown into plain data that can cross actors and leave the process. The stack is left
 * out on purpose: the crash is logged with the original error where it happens, and health stays small.
 */
export function toFailure(thrown: unknown, path: string, at = new Date().toISOString()): FailureInfo {
  return describe(thrown, path, at, 0);
}

function describe(thrown: unknown, path: string, at: string, depth: number): FailureInfo {
  if (!(thrown instanceof Error)) {
    return { name: 'NonErrorThrown', message: stringify(thrown), path, at };
  }
  const code = (thrown as { code?: unknown }).code;
  const cause = causeOf(thrown, path, at, depth);
  return {
    name: thrown.name,
    message: thrown.message,
    ...(typeof code === 'string' ? { code } : {}),
    path,
    at,
    ...(cause ? { cause } : {}),
  };
}

function causeOf(error: Error, path: string, at: string, depth: number): FailureInfo | undefined {
  if (error instanceof ActorError && error.reason) return error.reason;
  if (depth >= MAX_CAUSE_DEPTH || error.cause === undefined) return undefined;
  return describe(error.cause, path, at, depth + 1);
}

function stringify(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
