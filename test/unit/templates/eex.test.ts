import { renderEex, TemplateError } from '../../../src/templates';

const bindings = { commit_hash: 'abc123', timestamp: 'Tue, 06 Oct 2015 14:03:12 GMT' };

function failure(source: string, vars: Record<string, string> = bindings): TemplateError {
  try {
    renderEex(source, vars, 'Dockerfile.eex');
  } catch (err) {
    if (err instanceof TemplateError) return err;
    throw err;
  }
  throw new Error('expected a TemplateError');
}

describe('renderEex', () => {
  it('replaces output tags with the bound values, with or without inner spaces', () => {
    expect(
      renderEex('tag <%= commit_hash %> and <%=commit_hash%> at <%=  timestamp  %>', bindings, 'f'),
    ).toBe('tag abc123 and abc123 at Tue, 06 Oct 2015 14:03:12 GMT');
  });

  it('inserts values verbatim, without any HTML or shell escaping', () => {
    expect(renderEex('<%= v %>', { v: `a & b < "c" 'd' $(e)` }, 'f')).toBe(`a & b < "c" 'd' $(e)`);
  });

  it('does not render a value again, so a bound "<%= dst_port %>" comes out literally', () => {
    expect(renderEex('-p <%= dst_port %>:8080', { dst_port: '<%= dst_port %>' }, 'f')).toBe(
      '-p <%= dst_port %>:8080',
    );
  });

  it('drops comments, including ones spanning lines, and keeps the text around them', () => {
    expect(renderEex('a<%# a comment %>b\n<%# two\nlines %>c', bindings, 'f')).toBe('ab\nc');
  });

  it('turns <%% into a literal <% and reads the rest as plain text, as EEx does', () => {
    expect(renderEex('<%%= dst_port %> and <%% if %>', bindings, 'f')).toBe('<%= dst_port %> and <% if %>');
  });

  it('leaves text without tags, including a stray %>, untouched', () => {
    expect(renderEex('100%> done\n', bindings, 'f')).toBe('100%> done\n');
  });

  it('reports an undefined variable with file, line and the variables that exist', () => {
    const err = failure('FROM x\nRUN echo\nLABEL v=<%= version %>\n');
    expect(err.file).toBe('Dockerfile.eex');
    expect(err.line).toBe(3);
    expect(err.message).toBe(
      'Dockerfile.eex:3: undefined variable version (defined here: commit_hash, timestamp)',
    );
  });

  it('does not treat inherited object properties as variables', () => {
    expect(failure('<%= constructor %>').message).toContain('undefined variable constructor');
  });

  it('refuses code tags, which real EEx would execute as Elixir', () => {
    const err = failure('line one\n<% if true do %>yes<% end %>');
    expect(err.line).toBe(2);
    expect(err.message).toContain('unsupported EEx construct <% if true do %>');
  });

  it('refuses output tags holding an expression instead of a variable name', () => {
    expect(failure('<%= @commit_hash %>').message).toContain('unsupported EEx expression');
    expect(failure('<%= String.upcase(commit_hash) %>').message).toContain('unsupported EEx expression');
  });

  it('refuses the middle and end markers of EEx blocks', () => {
    expect(failure('<%| x %>').message).toContain('unsupported EEx construct');
    expect(failure('<%/ x %>').message).toContain('unsupported EEx construct');
  });

  it('reports an unterminated tag at the line where it opens', () => {
    const err = failure('ok <%= commit_hash %>\n\nRUN <%= commit_hash\n');
    expect(err.line).toBe(3);
    expect(err.message).toBe("Dockerfile.eex:3: unterminated EEx tag: missing '%>'");
  });

  it('reports an unterminated comment too', () => {
    expect(failure('<%# never closed').message).toContain('unterminated EEx tag');
  });

  it('counts lines inside earlier multi-line tags when naming the line of a later error', () => {
    expect(failure('<%# one\ntwo\nthree %>\n<%= nope %>').line).toBe(4);
  });

  it('shortens a long offending tag in the message to keep event logs readable', () => {
    const err = failure(`<% ${'x'.repeat(200)} %>`);
    expect(err.message.length).toBeLessThan(200);
    expect(err.message).toContain('...');
  });
});
