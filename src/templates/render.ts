import fs from 'node:fs/promises';
import type { Logger } from '../log';
import { readRepoFile, writeRepoFile } from '../repo/confined-fs';
import { renderEex, type Bindings } from './eex';

/** One template of a deployment repository and the file it renders to, both in the top directory. */
export interface TemplatePlanEntry {
  readonly template: string;
  readonly output: string;
  /** Unit files keep `<%= dst_port %>` for the deployer, which fills in the port per instance. */
  readonly isUnit: boolean;
}

const TEMPLATE = '.eex';
const UNIT_TEMPLATE = `.service${TEMPLATE}`;
const FIXED_TEMPLATES = ['Dockerfile', 'install.sh', 'update.sh'];
const ECS_TEMPLATE = 'ecs_task_definition.json';

/** The templates the original builder renders, in its order; the unit files are found by listing `dir`. */
export async function templatePlan(dir: string): Promise<TemplatePlanEntry[]> {
  const names = await fs.readdir(dir);
  const units = names.filter((n) => n.endsWith(UNIT_TEMPLATE)).sort();
  return [
    ...FIXED_TEMPLATES.map((output) => ({ template: `${output}${TEMPLATE}`, output, isUnit: false })),
    ...units.map((template) => ({ template, output: template.slice(0, -TEMPLATE.length), isUnit: true })),
    { template: `${ECS_TEMPLATE}${TEMPLATE}`, output: ECS_TEMPLATE, isUnit: false },
  ];
}

export interface RenderInput {
  /** Checkout of the deployment repository. */
  readonly dir: string;
  /** Bound as `commit_hash`: the resolved source commit. */
  readonly commitHash: string;
  /** Bound as `timestamp`, formatted as RFC 1123 in UTC (`Tue, 06 Oct 2015 14:03:12 GMT`). Default: now. */
  readonly now?: Date;
}

export interface RenderResult {
  /** Outputs written because they were missing or differed, in plan order. */
  readonly changed: readonly string[];
  /** Outputs that already held exactly the rendered text. */
  readonly unchanged: readonly string[];
}

export type TemplateOutcome = 'missing-template' | 'changed' | 'unchanged';

/**
 * Applies the original's update rule to one template: no template, no change; an output that is missing or
 * differs is (re)written; an identical one is left alone. New outputs take the template's permission bits,
 * so `install.sh.eex` committed as executable yields an executable `install.sh`.
 * Throws `TemplateError`, `PathEscapeError` (a name leaving the top directory, a template or output that is
 * a symbolic link) or `RepoFileError`.
 */
export async function renderTemplate(
  dir: string,
  entry: TemplatePlanEntry,
  bindings: Bindings,
): Promise<TemplateOutcome> {
  const template = await readRepoFile(dir, entry.template);
  if (template === null) return 'missing-template';
  const text = renderEex(template.text, bindings, entry.template);
  const current = await readRepoFile(dir, entry.output);
  if (current?.text === text) return 'unchanged';
  await writeRepoFile(dir, entry.output, text, template.mode);
  return 'changed';
}

/** Renders every template of the deployment checkout `input.dir`; see `renderTemplate` for the rules. */
export async function renderTemplates(
  input: RenderInput,
  ctx: { readonly signal: AbortSignal; readonly log: Logger },
): Promise<RenderResult> {
  const base = { commit_hash: input.commitHash, timestamp: (input.now ?? new Date()).toUTCString() };
  const unitBindings = { ...base, dst_port: '<%= dst_port %>' };
  const changed: string[] = [];
  const unchanged: string[] = [];
  for (const entry of await templatePlan(input.dir)) {
    ctx.signal.throwIfAborted();
    const outcome = await renderTemplate(input.dir, entry, entry.isUnit ? unitBindings : base);
    if (outcome === 'changed') changed.push(entry.output);
    if (outcome === 'unchanged') unchanged.push(entry.output);
    ctx.log.debug(`template ${entry.template}: ${outcome}`);
  }
  return { changed, unchanged };
}
