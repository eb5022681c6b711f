import type { ErrorObject } from 'ajv';

/**
 * A validate function that `npm run validators` generated with ajv's standalone code: ajv's `ValidateFunction`
 * without the compiled schema (`schema`, `schemaEnv`) that only a function compiled at run time carries.
 */
export interface Validator<T> {
  (data: unknown): data is T;
  /** The problems found by the last call, null when it passed. */
  errors?: ErrorObject[] | null;
}
