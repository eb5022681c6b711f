#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what the tests need, starts the real services, runs the
# static checks and every jest test, stops the services it started, and ends with "N passed, N failed".
# The static checks (typecheck, lint, format, build) count as one test each, so a type error fails the run.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

passed=0
failed=0
results="$(mktemp -d)"

check() { # name, command...
  local name="$1"
  shift
  echo "== $name"
  if "$@"; then
    passed=$((passed + 1))
  else
    echo "FAILED: $name"
    failed=$((failed + 1))
  fi
}

finish() {
  bash scripts/test-env.sh down || echo "warning: test environment did not stop cleanly"
  # The farm tests' and the soak's extra engines, should a run have ended before it stopped them.
  OA_TEST_ENV_DIR="${OA_TEST_FARM_DIR:-${OA_TEST_ENV_DIR:-/tmp/oa-builder-test}-farm}" bash scripts/test-env.sh down ||
    echo "warning: the extra engines did not stop cleanly"
  echo "$passed passed, $failed failed"
  rm -rf "$results"
  [ "$failed" -eq 0 ]
}

bash scripts/setup.sh || {
  echo "setup failed"
  echo "0 passed, 1 failed"
  exit 1
}

check typecheck npx tsc -p tsconfig.json --noEmit
check lint npx eslint . --max-warnings 0
check format npx prettier --check . --log-level warn
check build npm run --silent build
check bench-build npx tsc -p bench/tsconfig.json

if ! bash scripts/test-env.sh up; then
  failed=$((failed + 1))
  finish
  exit 1
fi

# The shipped image, built on the test engine before the end-to-end test runs it in the compose stack
# (test/integration/stack): prints the base image's, the build's and the image's figures. Cached on a machine
# after its first run, which makes the Debian base (docs/deploy.md).
check stack-image bash scripts/stack.sh build

echo "== jest"
npx jest --ci --json --outputFile="$results/jest.json" "$@"
jest_status=$?
if [ -s "$results/jest.json" ]; then
  read -r jp jf < <(node -e '
    const r = require(process.argv[1]);
    // A suite that fails to load has no failed tests of its own, so count it as one failure.
    console.log(r.numPassedTests, r.numFailedTests + r.numRuntimeErrorTestSuites);' "$results/jest.json")
  passed=$((passed + jp))
  failed=$((failed + jf))
  [ "$jest_status" -ne 0 ] && [ "$jf" -eq 0 ] && failed=$((failed + 1))
else
  failed=$((failed + 1))
fi

# The short soak: two replicas under injected faults; it prints its figures and fails when a goal is missed.
check soak node dist-bench/bench/soak/run.js --short
finish
