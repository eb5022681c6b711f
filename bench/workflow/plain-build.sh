#!/usr/bin/env bash
# The build milestone done by hand with the git and docker command-line clients: the baseline that
# bench/workflow/run.sh times the builder against. It does what the builder does for a fresh image and nothing
# more: no registry lookup before the build, no verify after it, no local image removal.
# With --if-missing it asks the registry for the image after the push, as the builder does, and stops there
# when the registry has it: the baseline of the path where the image already exists.
# Usage: plain-build.sh DEPLOY_URL SOURCE_URL REF REGISTRY WORK_DIR [--if-missing]
# (REGISTRY is host:port; REF is the branch of both repositories). Tool output goes to standard error; a
# failed step ends the script with status 1 and a line naming the step.
set -euo pipefail
export LC_ALL=C

if (($# != 5)) && { (($# != 6)) || [[ $6 != --if-missing ]]; }; then
  echo "usage: $0 DEPLOY_URL SOURCE_URL REF REGISTRY WORK_DIR [--if-missing]" >&2
  exit 2
fi
deploy_url=$1 source_url=$2 ref=$3 registry=$4 work=$5 if_missing=${6:-}
docker=${BENCH_DOCKER:-docker}
checkout=$work/deployment

fail() {
  echo "plain-build: step '$1' failed" >&2
  exit 1
}

# Same shape of checkout as the builder's: one branch, depth 1, no tags.
git clone -q --depth 1 --single-branch --no-tags --branch "$ref" "$deploy_url" "$checkout" || fail 'git clone'

sha=$(git ls-remote "$source_url" "refs/heads/$ref" | cut -f1) || fail 'git ls-remote'
[[ $sha =~ ^[0-9a-f]{40}$ ]] || fail "git ls-remote (no refs/heads/$ref)"

docker_url=$(sed -n 's/.*"docker_url"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$checkout/docker.json")
[[ -n $docker_url ]] || fail 'read docker.json'
image=$registry/$docker_url

# RFC 1123 in UTC, the builder's `timestamp` binding.
timestamp=$(date -u '+%a, %d %b %Y %H:%M:%S GMT')

# Unit files keep `<%= dst_port %>`: the deployer fills it in per instance. A new output takes its
# template's permission bits, so an executable install.sh.eex gives an executable install.sh. Called in an
# `||` list, where errexit is off: each command checks its own status.
render() {
  local template output
  for template in "$checkout"/{Dockerfile,install.sh,update.sh}.eex "$checkout"/*.service.eex \
    "$checkout"/ecs_task_definition.json.eex; do
    [[ -f $template ]] || continue
    output=${template%.eex}
    sed -e "s/<%= commit_hash %>/$sha/g" -e "s/<%= timestamp %>/$timestamp/g" "$template" >"$output" || return
    chmod --reference="$template" "$output" || return
    git -C "$checkout" add -- "${output##*/}" || return
  done
}
render || fail 'render templates'

if ! git -C "$checkout" diff --cached --quiet; then
  git -C "$checkout" -c user.name='OpenAperture Builder' -c user.email=builder@openaperture.invalid \
    commit -q -m "Deployment for commit $sha" || fail 'git commit'
  git -C "$checkout" push -q origin "HEAD:refs/heads/$ref" || fail 'git push'
fi

if [[ -n $if_missing ]] && curl -sf -o /dev/null -I \
  -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
  -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
  "http://$registry/v2/$docker_url/manifests/$sha"; then
  exit 0
fi

# The classic builder, as the builder's POST /build uses, not BuildKit.
DOCKER_BUILDKIT=0 "$docker" build --force-rm --no-cache -t "$image:$sha" -t "$image:latest" "$checkout" >&2 ||
  fail 'docker build'
"$docker" push "$image:$sha" >&2 || fail "docker push $image:$sha"
"$docker" push "$image:latest" >&2 || fail "docker push $image:latest"
