#!/usr/bin/env bash
# The builder's image and docker-compose.yml, built and run on the private engine of the test environment
# (scripts/test-env.sh), offline apart from Debian's archive and the npm registry. See docs/deploy.md.
# Usage: stack.sh base | build | up | down | status
set -euo pipefail
export LC_ALL=C

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ENV_FILE=${OA_TEST_ENV_DIR:-/tmp/oa-builder-test}/env.json
PROJECT=${OA_STACK_PROJECT:-oa-builder-stack}
# The Debian root file system outlives the engine's state (test-env.sh down --purge), so a machine makes it
# once; delete the directory to make it again, e.g. for Debian's security updates.
CACHE=${OA_STACK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/openaperture-builder}
SUITE=bookworm
# Bump when the recipe of the base changes, so that neither an old tarball nor an old image is reused.
RECIPE=1
ROOTFS=$CACHE/debian-$SUITE-minbase-r$RECIPE.tar.gz
NODE_BIN=$(readlink -f "$(command -v node)")
NODE_VERSION=$("$NODE_BIN" -p process.versions.node)
BASE_IMAGE=openaperture-node-base:$NODE_VERSION-$SUITE-r$RECIPE
# On the images this script builds, so that it removes its own superseded ones and nothing else.
STACK_LABEL=org.openaperture.builder.stack=local
CA_BUNDLE=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
IMAGE=openaperture-builder:local
TOOLS_IMAGE=openaperture-builder-tools:local
COMPOSE_FILES=(-f "$REPO_ROOT/docker-compose.yml" -f "$REPO_ROOT/docker-compose.loopback.yml")

# Loopback ports of the stack's own listeners (the host's test services keep theirs).
export OA_STACK_MANAGER_PORT=${OA_STACK_MANAGER_PORT:-25400}
export OA_STACK_BUILDER_1_HEALTH_PORT=${OA_STACK_BUILDER_1_HEALTH_PORT:-25401}
export OA_STACK_BUILDER_2_HEALTH_PORT=${OA_STACK_BUILDER_2_HEALTH_PORT:-25402}

log() { printf 'stack: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

usage() {
  cat >&2 <<EOF
usage: $0 base | build | up | down | status
  base    make the Node base image $BASE_IMAGE on the test engine, if it is not there
  build   base, then build $IMAGE and $TOOLS_IMAGE from the Dockerfile
  up      build, then start compose project $PROJECT with docker-compose.loopback.yml
  down    remove the project's containers, networks and volumes, and its exchange and queues
  status  the project's containers; exit 1 if a builder is not healthy
The test environment must be up (bash scripts/test-env.sh up).
EOF
  exit 2
}

now_us() { echo "${EPOCHREALTIME/./}"; }

seconds_since() { # start from now_us; prints tenths
  local tenths=$((($(now_us) - $1) / 100000))
  echo "$((tenths / 10)).$((tenths % 10))"
}

# The engine and the services of the running test environment, from its env.json.
read_test_env() {
  [[ -f $ENV_FILE ]] || die "no $ENV_FILE: start the test environment first (bash scripts/test-env.sh up)"
  local fields
  fields=$(node -e '
    const e = require(process.argv[1]);
    console.log([e.dockerHost, e.dockerSocket, e.amqpUrl, e.registry.url, e.git.url].join("\n"));
  ' "$ENV_FILE")
  {
    read -r DOCKER_HOST
    read -r OA_STACK_DOCKER_SOCKET
    read -r OA_STACK_AMQP_URL
    read -r OA_STACK_REGISTRY
    read -r OA_STACK_GIT_BASE_URL
  } <<<"$fields"
  export DOCKER_HOST OA_STACK_DOCKER_SOCKET OA_STACK_AMQP_URL OA_STACK_REGISTRY
  # A request's repo `anon/<name>` is then the git server's anonymous area, <url>/anon/<name>.git.
  export OA_STACK_GIT_BASE_URL=$OA_STACK_GIT_BASE_URL/
  OA_STACK_DOCKER_GID=$(stat -c %g "$OA_STACK_DOCKER_SOCKET")
  export OA_STACK_DOCKER_GID
  docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || die "the test engine at $DOCKER_HOST does not answer"
}

# --- the Node base image -----------------------------------------------------------------------------------

# The Debian mirror apt is configured with, so debootstrap reaches the archive the way apt does.
debian_mirror() {
  local site
  site=$(apt-get indextargets --format '$(SITE) $(RELEASE)' 2>/dev/null | awk -v s="$SUITE" '$2 == s { print $1; exit }')
  echo "${OA_STACK_DEBIAN_MIRROR:-${site:-http://deb.debian.org/debian}}"
}

# Debian's minimal variant plus libstdc++ (Node links it), a user node (uid 1000) as in the official image,
# without apt's lists and caches, documentation or translations.
make_rootfs() {
  command -v debootstrap >/dev/null || die "debootstrap is missing (bash scripts/test-env.sh install)"
  ((EUID == 0)) || die "debootstrap needs root"
  local dir mirror start=$(now_us)
  mirror=$(debian_mirror)
  mkdir -p "$CACHE"
  dir=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  log "debootstrap $SUITE (minbase) from $mirror; takes about 2 min"
  if ! debootstrap --variant=minbase --include=libstdc++6 "$SUITE" "$dir" "$mirror" >"$CACHE/debootstrap.log" 2>&1; then
    tail -n 15 "$CACHE/debootstrap.log" >&2
    # debootstrap mounts /proc and /sys in the new root while it configures; never delete through a mount.
    grep -q " $dir/" /proc/mounts || rm -rf "$dir"
    die "debootstrap failed; its log is $CACHE/debootstrap.log"
  fi
  chroot "$dir" groupadd --gid 1000 node
  chroot "$dir" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* "$dir"/usr/share/doc/* \
    "$dir"/usr/share/man/* "$dir"/usr/share/info/* "$dir"/usr/share/locale/* "$dir"/var/log/*.log
  tar -C "$dir" --numeric-owner -czf "$ROOTFS.tmp" .
  rm -rf "$dir"
  mv "$ROOTFS.tmp" "$ROOTFS"
  log "figure: debootstrap and packing took $(seconds_since "$start") s ($(du -h "$ROOTFS" | cut -f1) in $ROOTFS)"
}

# The cached root file system with this machine's Node and npm in /usr/local, as the official image has them.
import_base() {
  local dir npm_dir start=$(now_us)
  npm_dir=$(npm root -g)/npm
  [[ -d $npm_dir ]] || die "npm is not at $npm_dir"
  [[ -f $CA_BUNDLE ]] || die "no certificate bundle at $CA_BUNDLE (Debian's ca-certificates; or set SSL_CERT_FILE)"
  dir=$(mktemp -d "$CACHE/base.XXXXXX")
  tar -C "$dir" -xzf "$ROOTFS"
  install -m 755 "$NODE_BIN" "$dir/usr/local/bin/node"
  mkdir -p "$dir/usr/local/lib/node_modules"
  cp -a "$npm_dir" "$dir/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$dir/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$dir/usr/local/bin/npx"
  # The host's trusted certificates, so that npm in a build stage reaches the registry as the host's npm does,
  # a TLS-inspecting proxy's authority included; Node adds them to its own.
  mkdir -p "$dir/etc/ssl/certs"
  cp "$CA_BUNDLE" "$dir/etc/ssl/certs/ca-certificates.crt"
  tar -C "$dir" --numeric-owner -c . |
    docker import \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change "ENV NODE_VERSION=$NODE_VERSION" \
      --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
      --change 'CMD ["node"]' \
      - "$BASE_IMAGE" >/dev/null
  rm -rf "$dir"
  log "figure: $BASE_IMAGE imported in $(seconds_since "$start") s"
}

ensure_base() {
  if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    log "$BASE_IMAGE is on the engine"
    return
  fi
  [[ -f $ROOTFS ]] || make_rootfs
  import_base
}

# --- the builder's images ------------------------------------------------------------------------------------

# The engine's legacy builder (this dockerd has no BuildKit client here) builds every stage up to the target,
# so the runtime build also makes the tools stage. The build stages reach the npm registry and Debian's
# archive through the host's network: the engine has no bridge network. Every stage is tagged and labelled,
# so that a rebuild leaves the stages it replaced dangling under the label, and the prune below removes them
# with the layers only they used; the engine's cache keeps the rest.
build_images() {
  local start=$(now_us) target image
  for target in build deps tools runtime; do
    case $target in
      runtime) image=$IMAGE ;;
      tools) image=$TOOLS_IMAGE ;;
      *) image=openaperture-builder-stage:$target ;;
    esac
    if ! DOCKER_BUILDKIT=0 docker build --force-rm --network host --label "$STACK_LABEL" \
      --build-arg "NODE_IMAGE=$BASE_IMAGE" \
      --target "$target" -t "$image" "$REPO_ROOT" >"$CACHE/build.log" 2>&1; then
      tail -n 25 "$CACHE/build.log" >&2
      die "docker build --target $target failed; its log is $CACHE/build.log"
    fi
  done
  docker image prune --force --filter "label=$STACK_LABEL" >/dev/null
  log "figure: $IMAGE and $TOOLS_IMAGE built in $(seconds_since "$start") s"
  log "figure: $IMAGE is $(($(docker image inspect --format '{{.Size}}' "$IMAGE") / 1000000)) MB"
}

# --- the compose project ------------------------------------------------------------------------------------

STACK_FILE=$CACHE/$PROJECT.compose.json

# Compose v1 merges an override's lists into the base file's and has no way to remove an entry, so the
# override cannot take away the published ports (which docker-compose refuses beside the host's network), a
# hostname (which the engine refuses there) or a dependency on a service it leaves off. The effective file is
# therefore rendered once from both files, and those are dropped from it: the services of profile `bundled`,
# every dependency on them, and the ports and hostname of every container on the host's network.
render() {
  mkdir -p "$CACHE"
  export OA_STACK_MANAGER_SEED
  OA_STACK_MANAGER_SEED=$(manager_seed)
  docker-compose -p "$PROJECT" --project-directory "$REPO_ROOT" "${COMPOSE_FILES[@]}" config |
    python3 -c '
import json, sys, yaml
config = yaml.safe_load(sys.stdin)
services = config["services"]
for name in [n for n, s in services.items() if "bundled" in s.get("profiles", [])]:
    del services[name]
used = set()
for service in services.values():
    deps = service.get("depends_on", {})
    for dep in [d for d in deps if d not in services]:
        del deps[dep]
    if not deps:
        service.pop("depends_on", None)
    if service.get("network_mode") == "host":
        service.pop("ports", None)
        service.pop("hostname", None)
    used.update(v.split(":")[0] for v in service.get("volumes", []) if isinstance(v, str))
config["volumes"] = {k: v for k, v in config.get("volumes", {}).items() if k in used}
json.dump(config, sys.stdout, indent=1)
' >"$STACK_FILE"
}

compose() { docker-compose -p "$PROJECT" --project-directory "$REPO_ROOT" -f "$STACK_FILE" "$@"; }

# The names the stack's topology has on the shared broker; a test gives its own unique ones.
export OA_STACK_EXCHANGE=${OA_STACK_EXCHANGE:-oa-stack}
export OA_STACK_ROUTING_KEY=${OA_STACK_ROUTING_KEY:-oastack}
export OA_STACK_QUEUE=${OA_STACK_QUEUE:-oastack_builder}
# Workflows the fake Manager knows (it answers others with 404, as the real one does): by default the one of
# examples/etf/build-request.etf.
OA_STACK_WORKFLOW_IDS=${OA_STACK_WORKFLOW_IDS:-aecc9150-6c0c-11e5-8b8a-0242ac110002}
LOGICAL_QUEUES=workflow_orchestration,system_modules,notifications_hipchat,notifications_email,build_logs

# The fake Manager's records: broker 1 is the test environment's RabbitMQ, exchange 1 the stack's exchange.
manager_seed() {
  node -e '
    const { OA_STACK_AMQP_URL: amqp, OA_STACK_EXCHANGE: name, OA_STACK_ROUTING_KEY: fragment } = process.env;
    const url = new URL(amqp);
    const ids = process.argv[1].split(",").filter(Boolean);
    console.log(JSON.stringify({
      clientId: "builder",
      clientSecret: process.env.OAUTH_CLIENT_SECRET || "change-me",
      brokers: [{ id: 1, name: "local", failover_broker_id: null }],
      connections: [{
        id: 1, messaging_broker_id: 1, host: url.hostname, port: Number(url.port || 5672),
        username: decodeURIComponent(url.username), password: decodeURIComponent(url.password),
        virtual_host: decodeURIComponent(url.pathname.slice(1)) || "/",
      }],
      exchanges: [{ id: 1, name, routing_key_fragment: fragment }],
      systemComponents: [{ id: 1, type: "manager", messaging_exchange_id: 1 }],
      workflows: ids.map((id) => ({
        id, workflow_error: false, workflow_completed: false, current_step: "build",
        milestones: ["config", "build", "deploy"], event_log: [],
      })),
    }));' "$OA_STACK_WORKFLOW_IDS"
}

container_of() {
  local id
  id=$(compose ps -q "$1" 2>/dev/null) || true
  [[ -n $id ]] || die "service $1 has no container"
  echo "$id"
}

health_of() { docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$1"; }

# Waits until the container of service $1 reports healthy; fails when it stops or stays unhealthy for 2 min.
wait_healthy() {
  local id status deadline=$((SECONDS + 120))
  id=$(container_of "$1")
  until [[ $(health_of "$id") == healthy ]]; do
    status=$(docker inspect --format '{{.State.Status}}' "$id")
    if [[ $status != running ]] || ((SECONDS > deadline)); then
      docker logs --tail 20 "$id" >&2 || true
      die "$1 is $status, not healthy"
    fi
    sleep 0.2
  done
}

# Seconds from the start of the container of service $1 until its /healthz first answers 200 on port $2: the
# builder then has its configuration, a Manager token, its registration and a consuming channel.
time_to_health() {
  local id started_ns deadline=$((SECONDS + 120))
  id=$(container_of "$1")
  until curl -sf --max-time 1 -o /dev/null "http://127.0.0.1:$2/healthz"; do
    ((SECONDS < deadline)) || die "$1 did not answer /healthz on 127.0.0.1:$2"
    sleep 0.02
  done
  local answered_ns
  answered_ns=$(date +%s%N)
  started_ns=$(date -d "$(docker inspect --format '{{.State.StartedAt}}' "$id")" +%s%N)
  local ms=$(((answered_ns - started_ns) / 1000000))
  # The CPU time the builder used until then does not depend on how busy the machine is, as the wall clock does.
  local stat cpu_ms
  stat=$(</proc/"$(docker inspect --format '{{.State.Pid}}' "$id")"/stat)
  stat=${stat##*) }
  read -r -a stat <<<"$stat"
  cpu_ms=$(((stat[11] + stat[12]) * 1000 / $(getconf CLK_TCK)))
  log "$(printf 'figure: %s answered /healthz %d.%02d s after its container started, using %d.%02d s of CPU (load average %s)' \
    "$1" $((ms / 1000)) $(((ms % 1000) / 10)) $((cpu_ms / 1000)) $(((cpu_ms % 1000) / 10)) "$(cut -d' ' -f1 /proc/loadavg)")"
}

up() {
  render
  # Compose waits for the fake Manager to be healthy and the topology to have exited 0 before the builders.
  compose up -d
  # Both at once, so neither is timed late while the other is waited for.
  local first second started=0
  time_to_health builder-1 "$OA_STACK_BUILDER_1_HEALTH_PORT" &
  first=$!
  time_to_health builder-2 "$OA_STACK_BUILDER_2_HEALTH_PORT" &
  second=$!
  wait "$first" || started=1
  wait "$second" || started=1
  ((started == 0)) || die "the builders did not start"
  wait_healthy builder-1
  wait_healthy builder-2
  log "up: compose project $PROJECT; builders' health on 127.0.0.1:$OA_STACK_BUILDER_1_HEALTH_PORT and :$OA_STACK_BUILDER_2_HEALTH_PORT"
}

# The project's containers, networks and volumes, and the exchange and queues its topology declared on the
# shared broker.
down() {
  render
  compose down --volumes --remove-orphans
  # With the image's own amqplib, so that the host needs no node_modules.
  docker image inspect "$IMAGE" >/dev/null 2>&1 || return 0
  docker run --rm --network host --user node --env OA_STACK_AMQP_URL --env OA_STACK_EXCHANGE \
    --env OA_STACK_ROUTING_KEY --env OA_STACK_QUEUE --entrypoint node "$IMAGE" -e '
    const amqp = require("amqplib");
    const { OA_STACK_AMQP_URL: url, OA_STACK_EXCHANGE: exchange, OA_STACK_ROUTING_KEY: key, OA_STACK_QUEUE: queue } = process.env;
    (async () => {
      const connection = await amqp.connect(url);
      const channel = await connection.createChannel();
      for (const name of [queue, queue + "_error", ...process.argv[1].split(",").map((q) => key + "_" + q)])
        await channel.deleteQueue(name);
      await channel.deleteExchange(exchange);
      await connection.close();
    })().catch((err) => { console.error("stack: " + err.message); process.exit(1); });' "$LOGICAL_QUEUES"
}

status() {
  render
  compose ps
  local service
  for service in builder-1 builder-2; do
    [[ $(health_of "$(container_of "$service")") == healthy ]] || die "$service is not healthy"
  done
}

# One command at a time: two would make the base image or the project's containers at once.
lock() {
  mkdir -p "$CACHE"
  exec 9>"$CACHE/stack.lock"
  flock -w 900 9 || die "another stack.sh holds $CACHE/stack.lock"
}

command=${1:-}
case $command in base | build | up | down | status) ;; *) usage ;; esac
[[ $command == status ]] || lock
read_test_env
# One command a line, not joined by &&: errexit does not apply inside a function called on the left of an &&.
case $command in
  base) ensure_base ;;
  build)
    ensure_base
    build_images
    ;;
  up)
    ensure_base
    build_images
    up
    ;;
  down) down ;;
  status) status ;;
esac
