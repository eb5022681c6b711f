// Hostile deployment repositories: templates that try to leave the checkout (symbolic links in, symbolic links
// out) and templates that would loop or run code in real EEx. Each is a change to the hello_docker example; the
// workflow must fail in its config step with a reason naming the file, having read and written nothing outside.
// A template named with `..` cannot be committed to git, and an output made enormous by repetition needs a
// loop, which is exactly what the template language refuses; neither has a case.
import fs from 'node:fs';
import path from 'node:path';
import { append, replaceWithDirectory, replaceWithLink, type RepoChange } from './repo-changes';

/** The deployment repository every template case changes. */
export const TEMPLATE_BASE = path.resolve(__dirname, '../../examples/repos/hello_docker');

export interface TemplateCase {
  readonly name: string;
  readonly change: RepoChange;
  /** What the failure reason must contain: the file, and what is wrong with it. */
  readonly reason: string;
}

/** Where the links of the cases point: files of the test, outside every checkout the builder makes. */
export interface Outside {
  /** An existing file whose text must never reach any output. */
  readonly secret: string;
  /** A path that must still not exist afterwards. */
  readonly planted: string;
}

const LINK_REFUSED = 'is a symbolic link, which could point outside the repository; refused';

/** Line `text` appended to example file `name` starts on. */
function appendedLine(name: string): number {
  return fs.readFileSync(path.join(TEMPLATE_BASE, name), 'utf8').split('\n').length;
}

/** A case that appends one line with `tag` to `file`, failing on that line with `reason`. */
function tagCase(name: string, file: string, tag: string, reason: string): TemplateCase {
  return {
    name,
    change: append(file, `RUN echo ${tag}\n`),
    reason: `${file}:${appendedLine(file)}: ${reason}`,
  };
}

export function templateCases(outside: Outside): TemplateCase[] {
  // The same file through a chain of `..` long enough to climb out of any checkout, however deep.
  const climbing = `${'../'.repeat(40)}${outside.secret.replace(/^\//, '')}`;
  const linked = (name: string, file: string, target: string): TemplateCase => ({
    name,
    change: replaceWithLink(file, target),
    reason: `${file}: ${LINK_REFUSED}`,
  });
  const unsupported = 'unsupported EEx expression';
  return [
    linked('template-linked-beside-the-checkout', 'Dockerfile.eex', '../outside'),
    linked('template-linked-to-an-absolute-path', 'Dockerfile.eex', outside.secret),
    linked('template-linked-through-dotdot-chain', 'install.sh.eex', climbing),
    linked('unit-template-linked-outside', 'hello@.service.eex', outside.secret),
    linked('task-definition-template-linked-outside', 'ecs_task_definition.json.eex', climbing),
    linked('output-linked-beside-the-checkout', 'Dockerfile', '../outside'),
    linked('output-linked-to-an-absolute-path', 'install.sh', outside.planted),
    {
      name: 'template-that-is-a-directory',
      change: replaceWithDirectory('Dockerfile.eex'),
      reason: 'Dockerfile.eex: is not a regular file',
    },
    tagCase(
      'template-for-loop',
      'Dockerfile.eex',
      '<%= for x <- 1..100000 do %>x<% end %>',
      `${unsupported} <%= for x <- 1..100000 do %>`,
    ),
    tagCase(
      'template-enum-loop',
      'install.sh.eex',
      '<%= Enum.map(1..1_000_000, fn _ -> commit_hash end) %>',
      `${unsupported} <%= Enum.map(1..1_000_000, fn _ -> commi...`,
    ),
    tagCase(
      'template-if-block',
      'Dockerfile.eex',
      '<% if true do %>yes<% end %>',
      'unsupported EEx construct <% if true do %>',
    ),
    tagCase(
      'template-rendering-itself',
      'Dockerfile.eex',
      '<%= EEx.eval_file("Dockerfile.eex") %>',
      `${unsupported} <%= EEx.eval_file("Dockerfile.eex") %>`,
    ),
    tagCase(
      'template-running-a-command',
      'hello@.service.eex',
      '<%= System.cmd("id", []) %>',
      `${unsupported} <%= System.cmd("id", []) %>`,
    ),
    tagCase(
      'template-unterminated-tag',
      'Dockerfile.eex',
      '<%= commit_hash',
      "unterminated EEx tag: missing '%>'",
    ),
    tagCase(
      'template-undefined-variable',
      'Dockerfile.eex',
      '<%= dst_port %>',
      'undefined variable dst_port (defined here: commit_hash, timestamp)',
    ),
    tagCase(
      'template-prototype-variable',
      'install.sh.eex',
      '<%= __proto__ %>',
      'undefined variable __proto__ (defined here: commit_hash, timestamp)',
    ),
  ];
}
