#!/usr/bin/env bash
# Times the builder's build milestone (`oa-builder run`) against bench/workflow/plain-build.sh, the same steps
# done with the git and docker clients, on the test services: git server, registry and Docker engine all on
# loopback. Needs `bash scripts/test-env.sh up` and a compiled builder (`npm run bench:workflow` compiles
# first).
#   ROUNDS        timed rounds, default 5; each runs both paths, alternating which goes first
#   WARMUP        untimed rounds before them, default 1 (cold file caches would count against the first path)
#   BENCH_DOCKER  docker client to use, default `docker`
# Goals: builder/script at most 1.10 when the image is new; when the image is already in the registry, the
# builder's whole run at most 300 ms longer than a bare `git clone` of the deployment repository.
# It also prints the workflow's own time (from the builder's progress lines), which leaves out the process
# start-up and exit that a long-running builder pays once.
# Everything it creates is removed at exit: its bare repos, work files, and the local images it built (by
# their exact references). The registry keeps the pushed images, under names no other run uses.
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
ROUNDS=${ROUNDS:-5}
WARMUP=${WARMUP:-1}
DOCKER=${BENCH_DOCKER:-docker}
BRANCH=main
# A proxy from the caller's environment would take the loopback traffic off loopback.
export no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

say() { printf '%s\n' "$*"; }
die() {
  printf 'workflow bench: FAILED: %s\n' "$*" >&2
  exit 1
}

[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, not '$ROUNDS'"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "WARMUP must be a non-negative integer, not '$WARMUP'"

WORK=
CREATED_REPOS=()
BUILT_IMAGES=()

# Removes exactly what this run made, even after a failure; a removal that fails fails the run.
cleanup() {
  local status=$? ref repo problems=0
  trap - EXIT
  for ref in "${BUILT_IMAGES[@]}"; do
    # The builder removes its own images after pushing; only the script's, or a failed run's, remain.
    "$DOCKER" image inspect "$ref" >/dev/null 2>&1 || continue
    if ! "$DOCKER" image rm "$ref" >/dev/null; then
      printf 'workflow bench: FAILED: cleanup could not remove image %s\n' "$ref" >&2
      problems=1
    fi
  done
  for repo in "${CREATED_REPOS[@]}"; do
    if ! rm -rf -- "$repo"; then
      printf 'workflow bench: FAILED: cleanup could not remove bare repo %s\n' "$repo" >&2
      problems=1
    fi
  done
  [[ -z $WORK ]] || rm -rf -- "$WORK"
  if ((problems && status == 0)); then status=1; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

show_log() {
  printf 'end of its output (%s):\n' "${1##*/}" >&2
  tail -n 25 "$1" | sed 's/^/  | /' >&2
}

# run_step NAME LOG COMMAND...: runs an external COMMAND with its output in LOG; on failure names the step,
# shows the end of LOG and exits.
run_step() {
  local name=$1 log=$2 status=0
  shift 2
  "$@" >"$log" 2>&1 || status=$?
  if ((status != 0)); then
    printf "workflow bench: FAILED at step '%s' (exit status %d)\n" "$name" "$status" >&2
    show_log "$log"
    exit 1
  fi
}

# timed_step NAME LOG COMMAND...: run_step, with the wall time in nanoseconds left in LAST_NS.
LAST_NS=0
timed_step() {
  local t0 t1
  t0=$(date +%s%N)
  run_step "$@"
  t1=$(date +%s%N)
  LAST_NS=$((t1 - t0))
}

# --- setup -------------------------------------------------------------------------------------------------

[[ -f dist/src/cli/main.js ]] || die "setup: the builder is not compiled; run npm run build"
env_lines=$(bash scripts/test-env.sh env) ||
  die "setup: no test environment; run bash scripts/test-env.sh up"
eval "$env_lines"
for var in DOCKER_HOST OA_TEST_REGISTRY OA_TEST_GIT_URL OA_TEST_GIT_REPOS; do
  [[ -n ${!var:-} ]] || die "setup: scripts/test-env.sh env did not set $var"
done
[[ $DOCKER_HOST == unix://* ]] || die "setup: DOCKER_HOST is not a unix socket: $DOCKER_HOST"
[[ $OA_TEST_REGISTRY == 127.0.0.1:* ]] || die "setup: the registry is not on loopback: $OA_TEST_REGISTRY"
[[ $OA_TEST_GIT_URL == http://127.0.0.1:*/anon ]] ||
  die "setup: the git server is not on loopback: $OA_TEST_GIT_URL"
REGISTRY=$OA_TEST_REGISTRY
GIT_URL=$OA_TEST_GIT_URL
GIT_BASE=${GIT_URL%/anon}/
REPOS=$OA_TEST_GIT_REPOS

WORK=$(mktemp -d)
mkdir -p "$WORK/logs" "$WORK/seed" "$WORK/requests" "$WORK/builder"
LOGS=$WORK/logs
run_step 'setup: registry answers' "$LOGS/probe-registry.log" curl -sSf --max-time 5 "http://$REGISTRY/v2/"
run_step 'setup: git server answers' "$LOGS/probe-git.log" curl -sSf --max-time 5 "${GIT_BASE}_health"
run_step 'setup: docker engine answers' "$LOGS/probe-docker.log" "$DOCKER" version

# Seconds and PID keep names apart across runs; the docker_url built from it must stay a valid image path.
PREFIX=bench-wf-$(date +%s)-$$

# seed_pair TAG: fresh deployment and source repos for one run, the deployment's docker.json naming an image
# path no other run uses, so the registry never has it yet and the run really builds. Sets DEPLOY_NAME,
# SOURCE_NAME, IMAGE (registry/path) and COMMIT (the source commit, the image's tag).
seed_pair() {
  local tag=$1 dir=$WORK/seed/$1 name
  DEPLOY_NAME=$PREFIX-$tag-deploy
  SOURCE_NAME=$PREFIX-$tag-source
  IMAGE=$REGISTRY/oa-bench/$PREFIX-$tag
  for name in "$DEPLOY_NAME" "$SOURCE_NAME"; do
    [[ ! -e $REPOS/$name.git ]] || die "seed $tag: $REPOS/$name.git already exists"
  done
  cp -R examples/repos/hello_docker "$dir" || die "seed $tag: cannot copy examples/repos/hello_docker"
  printf '{ "name": "hello", "repository": "examples/hello", "docker_url": "oa-bench/%s" }\n' "$PREFIX-$tag" \
    >"$dir/docker.json" || die "seed $tag: cannot write docker.json"
  CREATED_REPOS+=("$REPOS/$DEPLOY_NAME.git")
  run_step "seed $tag: deployment repo" "$LOGS/seed-$tag-deploy.log" \
    bash scripts/seed-bare-repo.sh "$REPOS/$DEPLOY_NAME.git" "$dir" "$BRANCH"
  CREATED_REPOS+=("$REPOS/$SOURCE_NAME.git")
  run_step "seed $tag: source repo" "$LOGS/seed-$tag-source.log" \
    bash scripts/seed-bare-repo.sh "$REPOS/$SOURCE_NAME.git" examples/repos/hello "$BRANCH"
  COMMIT=$(git --git-dir="$REPOS/$SOURCE_NAME.git" rev-parse "refs/heads/$BRANCH") ||
    die "seed $tag: cannot read the source commit"
  BUILT_IMAGES+=("$IMAGE:$COMMIT" "$IMAGE:latest")
}

# write_request FILE: examples/requests/build.json with a new workflow id and this round's repos.
write_request() {
  run_step "write request ${1##*/}" "$LOGS/request-${1##*/}.log" node -e '
    const fs = require("node:fs");
    const [template, out, deploy, source] = process.argv.slice(1);
    const request = JSON.parse(fs.readFileSync(template, "utf8"));
    request.id = request.workflow_id = require("node:crypto").randomUUID();
    Object.assign(request, { deployment_repo: deploy, source_repo: source });
    fs.writeFileSync(out, JSON.stringify(request, null, 2));
  ' examples/requests/build.json "$1" "anon/$DEPLOY_NAME" "anon/$SOURCE_NAME"
}

# One command only: run_step calls it with errexit off, so its status must be that of the builder itself.
builder_run() {
  env BUILDER_TMPDIR="$WORK/builder" node bin/oa-builder.js run "$1" \
    --git-base-url "$GIT_BASE" --docker-host "$DOCKER_HOST" --registry "$REGISTRY"
}

# --- rounds ------------------------------------------------------------------------------------------------

FRESH_A=() FRESH_B=() EXISTS_A=() EXISTS_B=() CLONE=() STARTUP=()
STEPS=$WORK/steps.txt
: >"$STEPS"

# record_steps MODE LOG: the builder's own step durations and in-workflow time, from its progress lines.
record_steps() {
  sed -nE \
    -e "s/^\[ *[0-9.]+s\] (checkout|config|build|verify) ok in ([0-9.]+)s$/$1 \1 \2/p" \
    -e "s/^\[ *[0-9.]+s\] workflow .* succeeded in ([0-9.]+)s.*/$1 workflow \1/p" "$2" >>"$STEPS"
}

path_a() { # round tag
  local log=$LOGS/$2-a.log
  timed_step "round $1: builder run (new image)" "$log" builder_run "$WORK/requests/$2-a.json"
  if grep -q '(already in the registry)' "$log"; then
    show_log "$log"
    die "round $1: the builder found the image it was to build in the registry"
  fi
  ((RECORD)) && FRESH_A+=("$LAST_NS") && record_steps fresh "$log"
  return 0
}

path_b() { # round tag
  timed_step "round $1: plain script" "$LOGS/$2-b.log" \
    bash bench/workflow/plain-build.sh "$GIT_URL/$B_DEPLOY.git" "$GIT_URL/$B_SOURCE.git" "$BRANCH" \
    "$REGISTRY" "$WORK/plain-$2"
  # Checked after the clock stops: the script's push must have reached the registry.
  run_step "round $1: registry has the plain script's image" "$LOGS/$2-b-check.log" \
    curl -sSf -o /dev/null -I \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "http://$REGISTRY/v2/${B_IMAGE#"$REGISTRY"/}/manifests/$B_COMMIT"
  ((RECORD)) && FRESH_B+=("$LAST_NS")
  return 0
}

one_round() { # index, label, tag, record?
  local index=$1 round=$2 tag=$3
  RECORD=$4
  seed_pair "$tag-b"
  B_DEPLOY=$DEPLOY_NAME B_SOURCE=$SOURCE_NAME B_IMAGE=$IMAGE B_COMMIT=$COMMIT
  seed_pair "$tag-a"
  write_request "$WORK/requests/$tag-a.json"
  write_request "$WORK/requests/$tag-e.json"

  # Alternating which path goes first spreads any drift (caches, registry growth) over both.
  if ((index % 2)); then
    path_a "$round" "$tag"
    path_b "$round" "$tag"
  else
    path_b "$round" "$tag"
    path_a "$round" "$tag"
  fi

  # The same repos again: the image is in the registry now, so the builder must stop before building.
  local log=$LOGS/$tag-e.log
  timed_step "round $round: builder run (image in registry)" "$log" builder_run "$WORK/requests/$tag-e.json"
  if ! grep -q '(already in the registry)' "$log"; then
    show_log "$log"
    die "round $round: the second builder run did not find the image in the registry"
  fi
  ((RECORD)) && EXISTS_A+=("$LAST_NS") && record_steps exists "$log"

  # The script's steps for the same path, on its own repos: its image went to the registry above.
  timed_step "round $round: plain script (image in registry)" "$LOGS/$tag-b-exists.log" \
    bash bench/workflow/plain-build.sh "$GIT_URL/$B_DEPLOY.git" "$GIT_URL/$B_SOURCE.git" "$BRANCH" \
    "$REGISTRY" "$WORK/plain-$tag-exists" --if-missing
  if grep -q 'Successfully built' "$LOGS/$tag-b-exists.log"; then
    show_log "$LOGS/$tag-b-exists.log"
    die "round $round: the plain script built although its image is in the registry"
  fi
  ((RECORD)) && EXISTS_B+=("$LAST_NS")

  timed_step "round $round: git clone of the deployment repo" "$LOGS/$tag-clone.log" \
    git clone -q --depth 1 --single-branch --no-tags --branch "$BRANCH" "$GIT_URL/$DEPLOY_NAME.git" \
    "$WORK/clone-$tag"
  ((RECORD)) && CLONE+=("$LAST_NS")

  timed_step "round $round: builder start-up (oa-builder help)" "$LOGS/$tag-help.log" \
    node bin/oa-builder.js help
  ((RECORD)) && STARTUP+=("$LAST_NS")
  return 0
}

say "workflow bench: $ROUNDS rounds after $WARMUP warm-up round(s); git ${GIT_BASE%/}, registry $REGISTRY,"
client=$("$DOCKER" version --format '{{.Client.Version}}' 2>/dev/null) || client=unknown
say "  docker $DOCKER_HOST (all loopback); docker client $client"
for ((w = 1; w <= WARMUP; w++)); do one_round "$w" "warm-up $w" "w$w" 0; done
for ((r = 1; r <= ROUNDS; r++)); do one_round "$r" "$r" "r$r" 1; done

# --- figures -----------------------------------------------------------------------------------------------

# median FORMAT: the median of the numbers on standard input, printed with FORMAT; `-` when there are none.
median() {
  sort -n | awk -v fmt="$1" '{ v[NR] = $1 }
    END {
      if (NR == 0) print "-"
      else printf fmt, (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    }'
}
median_ns() { printf '%s\n' "$@" | median '%.0f'; }
step_median() { # MODE STEP
  awk -v mode="$1" -v step="$2" '$1 == mode && $2 == step { print $3 }' "$STEPS" | median '%.2f'
}
# beyond_checkout_ms MODE: per run, the workflow's own time less its checkout step, in ms; their median.
beyond_checkout_ms() {
  awk -v mode="$1" '$1 == mode && $2 == "checkout" { c = $3 }
    $1 == mode && $2 == "workflow" { printf "%.0f\n", ($3 - c) * 1000 }' "$STEPS" | median '%.0f'
}
ms() { awk -v ns="$1" 'BEGIN { printf "%.0f", ns / 1e6 }'; }
seconds() { awk -v ns="$1" 'BEGIN { printf "%.1f", ns / 1e9 }'; }
runs_ms() {
  local ns out=
  for ns in "$@"; do out+=" $(ms "$ns")"; done
  printf '%s' "${out# }"
}
goal() { # VALUE MAX
  if awk -v v="$1" -v max="$2" 'BEGIN { exit !(v <= max) }'; then printf 'met'; else printf 'NOT met'; fi
}
row() { printf '  %-34s median %6s   runs: %s\n' "$1" "$(ms "$2")" "$(runs_ms "${@:3}")"; }

fresh_a=$(median_ns "${FRESH_A[@]}")
fresh_b=$(median_ns "${FRESH_B[@]}")
exists_a=$(median_ns "${EXISTS_A[@]}")
exists_b=$(median_ns "${EXISTS_B[@]}")
clone=$(median_ns "${CLONE[@]}")
startup=$(median_ns "${STARTUP[@]}")
ratio=$(awk -v a="$fresh_a" -v b="$fresh_b" 'BEGIN { printf "%.2f", a / b }')
beyond=$(awk -v e="$exists_a" -v c="$clone" 'BEGIN { printf "%.0f", (e - c) / 1e6 }')

say ""
say "new image: build milestone, wall time (ms)"
row "A builder (oa-builder run)" "$fresh_a" "${FRESH_A[@]}"
row "B script (git + docker clients)" "$fresh_b" "${FRESH_B[@]}"
printf '  %-34s %s   (goal <= 1.10: %s)\n' "ratio builder/script" "$ratio" "$(goal "$ratio" 1.10)"
say "image already in the registry, wall time (ms)"
row "builder (oa-builder run)" "$exists_a" "${EXISTS_A[@]}"
row "script (same steps, no build)" "$exists_b" "${EXISTS_B[@]}"
row "git clone of the deployment repo" "$clone" "${CLONE[@]}"
printf '  %-34s %s ms   (goal <= 300 ms: %s)\n' "builder beyond the clone" "$beyond" "$(goal "$beyond" 300)"
printf '  %-34s %s ms\n' "script beyond the clone" \
  "$(awk -v e="$exists_b" -v c="$clone" 'BEGIN { printf "%.0f", (e - c) / 1e6 }')"
say "where the builder's time goes (medians; steps in s as the builder reports them, to 0.01 s)"
row "start-up, ms (oa-builder help)" "$startup" "${STARTUP[@]}"
# The wall time beyond the workflow is the process: start-up, then the actor tree's start and stop.
for mode in fresh exists; do
  label='new image:' wall=$fresh_a
  [[ $mode == fresh ]] || label='image in registry:' wall=$exists_a
  printf '  %-34s checkout %s, config %s, build %s, verify %s = workflow %s s of %s s wall\n' "$label" \
    "$(step_median "$mode" checkout)" "$(step_median "$mode" config)" "$(step_median "$mode" build)" \
    "$(step_median "$mode" verify)" "$(step_median "$mode" workflow)" "$(seconds "$wall")"
done
# The same comparison on the builder's own clock: what a long-running builder (service mode) spends per
# request, without the process start-up and exit that every `oa-builder run` pays.
workflow_ms=$(awk -v s="$(step_median fresh workflow)" 'BEGIN { printf "%.0f", s * 1000 }')
say "the workflow alone, on the builder's own clock (no process start-up or exit)"
printf '  %-34s %s ms vs the script %s ms: ratio %s\n' "new image: workflow" "$workflow_ms" "$(ms "$fresh_b")" \
  "$(awk -v a="$workflow_ms" -v b="$fresh_b" 'BEGIN { printf "%.2f", a / (b / 1e6) }')"
printf '  %-34s %s ms\n' "image in registry: beyond checkout" "$(beyond_checkout_ms exists)"
