#!/usr/bin/env bash
# The builder's main job on one machine: installs what it needs (as root, from Debian's packages and the npm
# registry), starts the local services (a Docker engine, a registry, a git server), and runs the example build
# request of examples/requests/build.json in local mode through the whole actor tree: checkout of the
# deployment repo, source commit, template rendering, commit and push, image build and push. It ends by
# showing the image's tags in the registry. The services stay up for more runs: `scripts/test-env.sh down`
# stops them. Extra arguments go to `oa-builder run` (e.g. --json, --verbose).
set -euo pipefail
cd "$(dirname "$0")/.." || exit 1

bash scripts/setup.sh
npm run --silent build
bash scripts/test-env.sh up
eval "$(bash scripts/test-env.sh env)"

# The example repos are served as <git server>/anon/<name>.git: the request names them `anon/<name>`.
export GIT_BASE_URL="${OA_TEST_GIT_URL%/anon}/"
export BUILD_HOSTS="$DOCKER_HOST"
export DOCKER_REGISTRY_URL="http://$OA_TEST_REGISTRY"
export BUILDER_TMPDIR="${BUILDER_TMPDIR:-/tmp/oa-builder-example}"

status=0
node bin/oa-builder.js run examples/requests/build.json "$@" || status=$?
image=$(node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(process.argv[1])).docker_url)' \
  examples/repos/hello_docker/docker.json)
echo
echo "registry $OA_TEST_REGISTRY, image $image:"
curl -sf "http://$OA_TEST_REGISTRY/v2/$image/tags/list" || echo "(not in the registry)"
echo
exit "$status"
