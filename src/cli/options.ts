/** Removes `--name value` from args and returns the value. */
export function takeOption(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const value = args[i + 1];
  if (value === undefined || value.startsWith('--')) throw new UsageError(`${name} needs a value`);
  args.splice(i, 2);
  return value;
}

/** Removes a boolean `--name` flag from args and says whether it was there. */
export function takeFlag(args: string[], name: string): boolean {
  const i = args.indexOf(name);
  if (i >= 0) args.splice(i, 1);
  return i >= 0;
}

/** Wrong command-line use: reported in one line with exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
