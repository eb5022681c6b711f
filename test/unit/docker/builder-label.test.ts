import { BUILDER_LABEL, labelEveryStage, userLines } from '../../../src/docker';
import { BUILDER_VERSION } from '../../../src/version';

const LABEL = `LABEL ${BUILDER_LABEL}="${BUILDER_VERSION}"`;

describe('labelEveryStage', () => {
  it('sets the label right after the FROM of every stage and says which lines it added', () => {
    const { text, added } = labelEveryStage(
      'FROM busybox AS build\nRUN make\n\nfrom busybox\nCOPY --from=build /out /out\n',
    );
    expect(text).toBe(
      `FROM busybox AS build\n${LABEL}\nRUN make\n\nfrom busybox\n${LABEL}\nCOPY --from=build /out /out\n`,
    );
    expect(added).toEqual([2, 6]);
  });

  it('puts the label after a FROM that continues over lines, comments and blank lines inside it included', () => {
    const { text } = labelEveryStage('FROM \\\n# the base\n\n  busybox\nRUN true');
    expect(text).toBe(`FROM \\\n# the base\n\n  busybox\n${LABEL}\nRUN true`);
  });

  it('follows the escape parser directive, and leaves comments and other instructions alone', () => {
    const { text } = labelEveryStage(
      '# escape=`\n# FROM is not here\nFROM busybox `\n  AS base\nRUN echo \\\n',
    );
    expect(text).toBe(`# escape=\`\n# FROM is not here\nFROM busybox \`\n  AS base\n${LABEL}\nRUN echo \\\n`);
  });

  it('keeps Windows line ends on the lines it keeps', () => {
    expect(labelEveryStage('FROM busybox\r\nRUN true\r\n').text).toBe(
      `FROM busybox\r\n${LABEL}\nRUN true\r\n`,
    );
  });
});

describe('userLines', () => {
  it("turns the sent Dockerfile's line numbers in a parse error back into the user's", () => {
    expect(userLines('dockerfile parse error line 3: unknown instruction: FOO', [2])).toBe(
      'dockerfile parse error line 2: unknown instruction: FOO',
    );
    expect(userLines('dockerfile parse error on line 9: x', [2, 6])).toBe(
      'dockerfile parse error on line 7: x',
    );
    expect(userLines('a RUN step failed', [2])).toBe('a RUN step failed');
  });
});
