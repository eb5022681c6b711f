/**
 * The subset of EEx that deployment repositories use, and nothing more: `<%= name %>` (a variable, inserted
 * without escaping), `<%# comment %>` (dropped) and `<%%` (a literal `<%`). Real EEx evaluates Elixir; any
 * other tag here, or a variable that is not bound, is an error naming file and line, never silent output,
 * because a half-rendered Dockerfile or unit file would only fail much later, far from its cause.
 */

/** Values of the variables a template may use. */
export type Bindings = Readonly<Record<string, string>>;

export class TemplateError extends Error {
  override name = 'TemplateError';
  constructor(
    /** Template file name, relative to the repository. */
    readonly file: string,
    /** 1-based line where the offending tag starts. */
    readonly line: number,
    readonly reason: string,
  ) {
    super(`${file}:${line}: ${reason}`);
  }
}

const IDENTIFIER = /^[a-z_][A-Za-z0-9_]*$/;
const SHOWN_TAG_LENGTH = 40;

function lineBreaks(text: string): number {
  let count = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) count++;
  return count;
}

function shown(tag: string): string {
  const flat = tag.replace(/\s+/g, ' ');
  return flat.length > SHOWN_TAG_LENGTH ? `${flat.slice(0, SHOWN_TAG_LENGTH)}...` : flat;
}

function expression(body: string, bindings: Bindings, file: string, line: number): string {
  const tag = `<%${body}%>`;
  if (!body.startsWith('=')) {
    throw new TemplateError(
      file,
      line,
      `unsupported EEx construct ${shown(tag)}: only <%= variable %>, <%# comment %> and <%% are supported`,
    );
  }
  const name = body.slice(1).trim();
  if (!IDENTIFIER.test(name)) {
    throw new TemplateError(
      file,
      line,
      `unsupported EEx expression ${shown(tag)}: only a variable name may be output`,
    );
  }
  // Own properties only: `constructor` and friends are not variables.
  const value = Object.hasOwn(bindings, name) ? bindings[name] : undefined;
  if (value === undefined) {
    const known = Object.keys(bindings).sort().join(', ');
    throw new TemplateError(file, line, `undefined variable ${name} (defined here: ${known})`);
  }
  return value;
}

/** Renders `source` with `bindings`; `file` only names the template in errors. Throws `TemplateError`. */
export function renderEex(source: string, bindings: Bindings, file: string): string {
  let out = '';
  let line = 1;
  let at = 0;
  for (let open = source.indexOf('<%'); open >= 0; open = source.indexOf('<%', at)) {
    const text = source.slice(at, open);
    out += text;
    line += lineBreaks(text);
    if (source.startsWith('<%%', open)) {
      // EEx quotation: `<%` is emitted and scanning goes on as plain text, so `<%%= x %>` yields `<%= x %>`.
      out += '<%';
      at = open + 3;
      continue;
    }
    const close = source.indexOf('%>', open + 2);
    if (close < 0) throw new TemplateError(file, line, "unterminated EEx tag: missing '%>'");
    const body = source.slice(open + 2, close);
    if (!body.startsWith('#')) out += expression(body, bindings, file, line);
    line += lineBreaks(body);
    at = close + 2;
  }
  return out + source.slice(at);
}
