// Deployment repositories are written by their users, not by the builder's operators: a repository cloned
// from the git server may carry symbolic links that lead out of the checkout, or templates that real EEx
// would run as code. Each case is committed to a copy of the realistic fixture, cloned through the adapter
// and rendered as the config milestone does; nothing may be read or written outside, nor pushed.
import fs from 'node:fs';
import path from 'node:path';
import { checkoutRepo, renderCommitPush, type Checkout } from '../../../src/git';
import { PathEscapeError } from '../../../src/repo';
import { renderTemplates, TemplateError } from '../../../src/templates';
import { append, replaceWithLink, type RepoChange } from '../../hostile/repo-changes';
import { author, FIXTURE, gitCli, quiet, remote, scratchDir, seedFromDirectory } from './helpers';

const sourceCommit = 'a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1';
/** Beside the checkout (`<scratch>/deployment`), so `../outside` inside the checkout points at it. */
const OUTSIDE = 'outside';
const OUTSIDE_TEXT = 'FROM secret-base\nLABEL token=<%= commit_hash %>\n';

let scratch: string;
const cleanup: string[] = [];

beforeEach(() => {
  scratch = scratchDir();
  cleanup.push(scratch);
  fs.writeFileSync(path.join(scratch, OUTSIDE), OUTSIDE_TEXT);
});

afterEach(() => {
  for (const dir of cleanup.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** The number of the line that text appended to fixture file `name` starts on. */
function nextLine(name: string): number {
  return fs.readFileSync(path.join(FIXTURE, name), 'utf8').split('\n').length;
}

const linkOutside = (name: string): RepoChange => replaceWithLink(name, `../${OUTSIDE}`);

const cases: [string, RepoChange, new (...args: never[]) => Error, string][] = [
  [
    'a template that is a symbolic link to ../ outside the checkout',
    linkOutside('Dockerfile.eex'),
    PathEscapeError,
    'Dockerfile.eex: is a symbolic link, which could point outside the repository; refused',
  ],
  [
    'an output that is a symbolic link to ../ outside the checkout',
    linkOutside('install.sh'),
    PathEscapeError,
    'install.sh: is a symbolic link, which could point outside the repository; refused',
  ],
  [
    'a unit template with an EEx block, which real EEx would run as Elixir',
    append('webshop@.service.eex', 'Environment=MODE=<% if true do %>fast<% end %>\n'),
    TemplateError,
    `webshop@.service.eex:${nextLine('webshop@.service.eex')}: unsupported EEx construct <% if true do %>`,
  ],
  [
    'a task definition that uses dst_port, which only unit files have',
    append('ecs_task_definition.json.eex', '<%= dst_port %>\n'),
    TemplateError,
    `ecs_task_definition.json.eex:${nextLine('ecs_task_definition.json.eex')}: undefined variable dst_port (defined here: commit_hash, timestamp)`,
  ],
];

/** Commits the fixture with `change` applied to a new repository and clones it through the adapter. */
async function cloneChanged(change: RepoChange): Promise<{ repoDir: string; checkout: Checkout }> {
  const source = scratchDir('oa-hostile-source-');
  cleanup.push(source);
  fs.cpSync(FIXTURE, source, { recursive: true });
  change(source);
  const repo = await seedFromDirectory('hostile', source);
  cleanup.push(repo.dir);
  const checkout = await checkoutRepo(
    { remote: remote(repo.url), ref: 'master', dir: path.join(scratch, 'deployment') },
    quiet,
  );
  return { repoDir: repo.dir, checkout };
}

describe('rendering a deployment repository from the git server', () => {
  it.each(cases)('refuses %s, naming the file, and pushes nothing', async (_name, change, type, message) => {
    const { repoDir, checkout } = await cloneChanged(change);
    const head = await gitCli(['rev-parse', 'master'], repoDir);
    const failure = renderCommitPush(
      {
        remote: remote(checkout.url),
        checkout,
        sourceCommit,
        author,
        render: async (dir) => (await renderTemplates({ dir, commitHash: sourceCommit }, quiet)).changed,
      },
      quiet,
    );

    await expect(failure).rejects.toThrow(type);
    await expect(failure).rejects.toThrow(message);
    expect(fs.readFileSync(path.join(scratch, OUTSIDE), 'utf8')).toBe(OUTSIDE_TEXT);
    expect(await gitCli(['rev-parse', 'master'], repoDir)).toBe(head);
  });

  it('checks the links out as links, so the refusal above is not an accident of the clone', async () => {
    const { checkout } = await cloneChanged(linkOutside('install.sh'));
    expect(fs.readlinkSync(path.join(checkout.dir, 'install.sh'))).toBe(`../${OUTSIDE}`);
  });
});
