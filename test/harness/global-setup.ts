// Jest globalSetup of the integration project: makes `npx jest` alone enough for a developer by running
// `scripts/test-env.sh up` when the environment (found through $OA_TEST_ENV_DIR, default
// /tmp/oa-builder-test) is missing or a service does not answer, then refuses to run the tests unless
// every service answers.
import { spawnSync } from 'node:child_process';
import { loadTestEnv, stateDir, TEST_ENV_SCRIPT } from './env';
import { probeServices } from './probes';

async function problems(): Promise<string[]> {
  try {
    return await probeServices(loadTestEnv());
  } catch (err) {
    return [(err as Error).message];
  }
}

export default async function globalSetup(): Promise<void> {
  const before = await problems();
  if (before.length === 0) return;

  process.stderr.write(
    `\ntest environment not ready (${before.join('; ')});\nrunning ${TEST_ENV_SCRIPT} up\n`,
  );
  // stdout too goes to stderr, so that a `jest --json` on stdout stays parseable.
  const up = spawnSync('bash', [TEST_ENV_SCRIPT, 'up'], { stdio: ['ignore', process.stderr, 'inherit'] });
  if (up.status !== 0) {
    const how = up.error ? up.error.message : `exit status ${up.status ?? up.signal}`;
    throw new Error(`${TEST_ENV_SCRIPT} up failed (${how}); see its output above and ${stateDir()}/logs`);
  }

  const after = await problems();
  if (after.length > 0) {
    throw new Error(
      `integration test environment is down:\n  - ${after.join('\n  - ')}\n` +
        `restart it with: bash ${TEST_ENV_SCRIPT} down && bash ${TEST_ENV_SCRIPT} up`,
    );
  }
}
