// The same smart-HTTP server that `scripts/test-env.sh` runs, for tests that want a private one in-process:
// `const server = await startGitServer({ root, auth })`, repos at `${server.url}/anon/<name>.git`.
export { startGitServer } from '../../scripts/git-http-server.js';
export type { GitServer, GitServerAuth, GitServerOptions } from '../../scripts/git-http-server.js';
