import fs from 'node:fs/promises';
import { readRepoFile } from './confined-fs';

/** One `name=value` line of a unit file, with the section it appeared in. */
export interface UnitOption {
  readonly section: string;
  readonly name: string;
  readonly value: string;
}

/** A Fleet unit as the orchestrator receives it in `deployable_units`. */
export interface Unit {
  readonly name: string;
  readonly options: readonly UnitOption[];
}

// The original takes at most 100 characters after "[" and then drops the last one, meant to be "]".
const SECTION_SLICE = 100;

/**
 * Parses a unit file with the rules of the original's `ServiceFileParser`, so the deployer gets the same
 * options: each line is trimmed; `#` lines are skipped; `[Section]` lines set the section; other lines are
 * split at the first `=` (name and value are not trimmed further); an empty name or value is skipped; a
 * trailing `\` continues nothing. One deliberate difference: a line without `=` is skipped, where the
 * original produced a nonsense option (the line minus its last character as the name).
 */
export function parseUnit(name: string, text: string): Unit {
  const options: UnitOption[] = [];
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#')) continue;
    if (line.startsWith('[')) {
      section = line.slice(1, 1 + SECTION_SLICE).slice(0, -1);
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const option = { section, name: line.slice(0, eq), value: line.slice(eq + 1) };
    if (option.name !== '' && option.value !== '') options.push(option);
  }
  return { name, options };
}

/** Every top-level `*.service` file of the checkout, parsed, in name order. */
export async function readUnits(dir: string): Promise<Unit[]> {
  const names = (await fs.readdir(dir)).filter((n) => n.endsWith('.service')).sort();
  const units: Unit[] = [];
  for (const name of names) {
    const file = await readRepoFile(dir, name);
    if (file !== null) units.push(parseUnit(name, file.text));
  }
  return units;
}

/** The raw text of `ecs_task_definition.json` (after rendering), or `null` without one. */
export async function readEcsTaskDefinition(dir: string): Promise<string | null> {
  return (await readRepoFile(dir, 'ecs_task_definition.json'))?.text ?? null;
}
