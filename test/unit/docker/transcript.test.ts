import { BuildTranscript } from '../../../src/docker/transcript';

// Output of a real classic build on dockerd 20.10, in the fragments the daemon sends.
const classicBuild = [
  'Step 1/4 : FROM busybox:latest',
  '\n',
  ' ---> 86e4f91b3306\n',
  'Step 2/4 : RUN echo one > /one',
  '\n',
  ' ---> [Warning] IPv4 forwarding is disabled. Networking will not work.\n',
  ' ---> Running in c7c5e17ac9f8\n',
  'Removing intermediate container c7c5e17ac9f8\n',
  ' ---> 2820a0983436\n',
  'Step 3/4 : COPY Dockerfile /df',
  '\n',
  ' ---> 727fd96ec38a\n',
  'Step 4/4 : RUN echo start && sleep 30',
  '\n',
  ' ---> Running in 235a084ae352\n',
  'start\n',
];

function transcriptOf(fragments: string[]): { transcript: BuildTranscript; lines: string[] } {
  const lines: string[] = [];
  const transcript = new BuildTranscript((line) => lines.push(line));
  for (const fragment of fragments) transcript.write(fragment);
  return { transcript, lines };
}

describe('BuildTranscript', () => {
  it('emits whole lines from the fragments the daemon sends', () => {
    const { lines } = transcriptOf(classicBuild);
    expect(lines.slice(0, 3)).toEqual([
      'Step 1/4 : FROM busybox:latest',
      ' ---> 86e4f91b3306',
      'Step 2/4 : RUN echo one > /one',
    ]);
    expect(lines.at(-1)).toBe('start');
  });

  it("records the build's newest image and the containers still running, not the FROM image", () => {
    const { transcript } = transcriptOf(classicBuild);
    expect(transcript.createdImage).toBe('727fd96ec38a');
    expect([...transcript.containers]).toEqual(['235a084ae352']);
  });

  it('ignores images that came from the cache', () => {
    const { transcript } = transcriptOf([
      'Step 1/2 : FROM busybox\n',
      ' ---> 86e4f91b3306\n',
      'Step 2/2 : RUN true\n',
      ' ---> Using cache\n',
      ' ---> 3d57c8ad9be8\n',
    ]);
    expect(transcript.createdImage).toBeUndefined();
  });

  it('counts a FROM step whose ONBUILD triggers ran a container', () => {
    const { transcript } = transcriptOf([
      'Step 1/1 : FROM base-with-onbuild\n',
      '# Executing 1 build trigger\n',
      ' ---> Running in 0123456789ab\n',
      'Removing intermediate container 0123456789ab\n',
      ' ---> ba9876543210\n',
    ]);
    expect(transcript.createdImage).toBe('ba9876543210');
    expect(transcript.containers.size).toBe(0);
  });

  it('reads the id of "Successfully built" and flushes an unterminated last line', () => {
    const { transcript, lines } = transcriptOf([
      'Successfully built 0dc8d91103f7\n',
      'Successfully tagged a:b',
    ]);
    transcript.end();
    expect(transcript.builtId).toBe('0dc8d91103f7');
    expect(lines).toEqual(['Successfully built 0dc8d91103f7', 'Successfully tagged a:b']);
  });
});
