#!/usr/bin/env bash
# The services the builder's integration tests talk to, all on loopback: a private dockerd with a locally
# imported busybox base image, an open and an htpasswd registry, a git smart-HTTP server and RabbitMQ.
# See docs/test-environment.md. Usage: test-env.sh install | up | down [--purge] | env | status | engine ...
set -euo pipefail
export LC_ALL=C

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${OA_TEST_ENV_DIR:-/tmp/oa-builder-test}
LOGS=$STATE/logs
PIDS=$STATE/pids
SECRETS=$STATE/secrets
REPOS=$STATE/git/repos
DOCKER_ROOT=$STATE/docker/root
DOCKER_SOCK=$STATE/docker.sock
BASE_IMAGE=busybox:latest

# Defaults stay clear of the RabbitMQ, Postgres, MariaDB, Redis, NATS and Mosquitto ports a machine may run.
REGISTRY_PORT=${OA_TEST_REGISTRY_PORT:-25050}
AUTH_REGISTRY_PORT=${OA_TEST_AUTH_REGISTRY_PORT:-25051}
GIT_PORT=${OA_TEST_GIT_PORT:-25080}
# Off by default: a TCP listener without TLS makes dockerd sleep about 2 s at every start.
DOCKER_TCP_PORT=${OA_TEST_DOCKER_TCP_PORT:-}
RABBITMQ_MODE=${OA_TEST_RABBITMQ:-auto}
EXTERNAL_AMQP_URL=${OA_TEST_EXTERNAL_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/}
RABBITMQ_PORT=${OA_TEST_RABBITMQ_PORT:-25682}
RABBITMQ_DIST_PORT=${OA_TEST_RABBITMQ_DIST_PORT:-25692}
EPMD_PORT=${OA_TEST_EPMD_PORT:-24369}
READY_TIMEOUT=${OA_TEST_READY_TIMEOUT:-60}
STOP_TIMEOUT=${OA_TEST_STOP_TIMEOUT:-20}

REGISTRY_USER=oa-test
GIT_USER=git
RABBITMQ_NODE=oa-builder-test@localhost
PACKAGES=(docker.io containerd runc busybox-static docker-registry apache2-utils rabbitmq-server erlang-base git curl
  util-linux docker-compose debootstrap)

log() { printf 'test-env: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

usage() {
  cat >&2 <<EOF
usage: $0 install | up | down [--purge] | env | status | engine up|down NAME [--tcp PORT] [--tls DIR]
  install install the missing Debian packages only (as root; no apt call when none is missing)
  up      install, then start every service that is not running yet, and write $STATE/env.json
  down    stop what up started, by saved PID; --purge also deletes the state directory
  env     print export lines for a shell: eval "\$($0 env)"
  status  show each service; exit 1 if one is not answering
  engine  start or stop one more dockerd NAME (build-farm tests); --tcp/--tls add a (TLS) loopback listener
state directory: \$OA_TEST_ENV_DIR (default /tmp/oa-builder-test)
EOF
  exit 2
}

check_state_dir() {
  [[ $STATE =~ ^/[A-Za-z0-9._/-]+$ ]] || die "OA_TEST_ENV_DIR must be an absolute path of [A-Za-z0-9._/-]: $STATE"
  # containerd puts sockets 45 characters deep under it, and unix socket paths must stay under 108 bytes.
  ((${#STATE} <= 60)) || die "OA_TEST_ENV_DIR is longer than 60 characters; unix socket paths would not fit"
}

now_ms() {
  local t=${EPOCHREALTIME//[!0-9]/}
  echo $((t / 1000))
}

random_secret() { head -c 18 /dev/urandom | base64 | tr '+/' '-_'; }

# --- processes -------------------------------------------------------------------------------------------

# Zombies count as gone: an orphan reaped late by PID 1 still answers kill -0.
is_alive() {
  local stat
  # read, not $(<file): a failed redirection in a command substitution ends the script under set -e.
  { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

# Prints the saved PID of service $1 if that process lives and its command line still contains $2,
# so a PID reused by an unrelated process is never mistaken for ours.
owned_pid() {
  local file=$PIDS/$1.pid pid
  [[ -f $file ]] || return 1
  pid=$(<"$file")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  is_alive "$pid" || return 1
  grep -qaF -- "$2" "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

start_bg() {
  local name=$1
  shift
  printf '\n=== %s test-env: starting %s\n' "$(date -u +%FT%TZ)" "$name" >>"$LOGS/$name.log"
  # Children must not inherit the lock on fd 9, or it would stay held for as long as they run.
  nohup "$@" >>"$LOGS/$name.log" 2>&1 </dev/null 9>&- &
  echo $! >"$PIDS/$name.pid"
}

fail_start() {
  log "$1 $2; its log is $LOGS/$1.log, which ends with:"
  tail -n 15 "$LOGS/$1.log" >&2 || true
  exit 1
}

# wait_until NAME PROBE...: polls PROBE until it succeeds, for at most READY_TIMEOUT seconds, as long as the
# process saved for service NAME lives.
wait_until() {
  local name=$1 pid deadline
  shift
  pid=$(<"$PIDS/$name.pid")
  deadline=$(($(now_ms) + READY_TIMEOUT * 1000))
  until "$@" >/dev/null 2>&1; do
    if ! is_alive "$pid"; then fail_start "$name" "exited while starting"; fi
    if (($(now_ms) > deadline)); then fail_start "$name" "did not answer within ${READY_TIMEOUT}s"; fi
    sleep 0.05
  done
}

# already_running NAME MARKER PROBE...: true, once it answers, when our service NAME is still running.
already_running() {
  local name=$1 pid
  pid=$(owned_pid "$name" "$2") || return 1
  shift 2
  wait_until "$name" "$@"
  log "$name already running (pid $pid)"
}

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

need_free_port() {
  if port_taken "$2"; then die "$1 cannot start: 127.0.0.1:$2 is taken by another process (set $3)"; fi
}

# Ends service processes by saved PID: TERM to all at once, then KILL whatever outlives STOP_TIMEOUT.
# Arguments are NAME=COMMAND-LINE-MARKER pairs.
stop_services() {
  local spec name pid deadline stopping=()
  for spec in "$@"; do
    name=${spec%%=*}
    if pid=$(owned_pid "$name" "${spec#*=}"); then
      log "stopping $name (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      stopping+=("$name=$pid")
    fi
  done
  deadline=$(($(now_ms) + STOP_TIMEOUT * 1000))
  for spec in "${stopping[@]}"; do
    name=${spec%%=*}
    pid=${spec#*=}
    while is_alive "$pid" && (($(now_ms) < deadline)); do sleep 0.1; done
    if is_alive "$pid"; then
      log "$name (pid $pid) outlived ${STOP_TIMEOUT}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      for _ in {1..50}; do is_alive "$pid" && sleep 0.1; done
      if is_alive "$pid"; then log "$name (pid $pid) is still there after SIGKILL"; fi
    fi
  done
  for spec in "$@"; do rm -f "$PIDS/${spec%%=*}.pid"; done
}

# stop_orphan NAME PID-FILE MARKER: stops a child whose parent had to be killed, by the PID file it wrote.
stop_orphan() {
  [[ -f $2 ]] || return 0
  cp "$2" "$PIDS/$1.pid"
  stop_services "$1=$3"
}

# A dockerd that had to be killed leaves its bind mount of the data root (and any layer mounts) behind;
# deepest first, so that nested mounts come off before their parents.
# unmount_leftovers [DIR/]: those under DIR only (default: the whole state directory).
unmount_leftovers() {
  local target
  while read -r target; do
    log "unmounting $target, left by a killed dockerd"
    umount "$target" || umount -l "$target" || log "cannot unmount $target"
  done < <(awk -v under="${1:-$STATE/}" 'index($5, under) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
}

# --- probes ----------------------------------------------------------------------------------------------

docker_api_at() { curl -sf --max-time 10 --unix-socket "$1" "${@:3}" "http://docker$2"; }
http_code() { curl -s -o /dev/null --max-time 2 -w '%{http_code}' "$@"; }

# probe_docker_at SOCKET [TCP-URL]: the engine answers on its socket (and on TCP-URL when given).
probe_docker_at() {
  [[ $(docker_api_at "$1" /_ping) == OK ]] || return 1
  [[ -z ${2:-} || $(curl -sf --max-time 2 "$2/_ping") == OK ]]
}
probe_docker() { probe_docker_at "$DOCKER_SOCK" "${DOCKER_TCP_PORT:+http://127.0.0.1:$DOCKER_TCP_PORT}"; }
probe_registry() { [[ $(http_code "http://127.0.0.1:$REGISTRY_PORT/v2/") == 200 ]]; }
# The curl config on stdin keeps the password out of the process list.
probe_auth_registry() {
  [[ $(http_code "http://127.0.0.1:$AUTH_REGISTRY_PORT/v2/") == 401 ]] || return 1
  [[ $(http_code -K - "http://127.0.0.1:$AUTH_REGISTRY_PORT/v2/" \
    <<<"user = \"$REGISTRY_USER:$(<"$SECRETS/registry-password")\"") == 200 ]]
}
probe_git() { [[ $(curl -sf --max-time 2 "http://127.0.0.1:$GIT_PORT/_health") == ok ]]; }
probe_amqp() { node "$REPO_ROOT/scripts/amqp-probe.js" "$1" 3000; }
probe_epmd() { port_taken "$EPMD_PORT"; }

# --- packages --------------------------------------------------------------------------------------------

ensure_packages() {
  local missing=() pkg installed
  installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${PACKAGES[@]}" 2>/dev/null || true)
  for pkg in "${PACKAGES[@]}"; do
    grep -qx "$pkg installed" <<<"$installed" || missing+=("$pkg")
  done
  ((${#missing[@]} == 0)) && return
  ((EUID == 0)) || die "missing Debian packages (${missing[*]}); run as root to install them"
  log "installing ${missing[*]}"
  # Without a policy-rc.d refusing it, installing docker.io would start a system dockerd with a docker0
  # bridge on a private range; every daemon here is started by this script instead.
  local policy=/usr/sbin/policy-rc.d made_policy=
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    made_policy=1
  fi
  local status=0
  {
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  } >>"$LOGS/apt.log" 2>&1 || status=$?
  [[ -n $made_policy ]] && rm -f "$policy"
  ((status == 0)) || fail_start apt "failed to install ${missing[*]}"
}

# --- dockerd and the base image --------------------------------------------------------------------------

remove_stale_pid_file() {
  local pid
  [[ -f $1 ]] || return 0
  pid=$(<"$1")
  if ! is_alive "$pid"; then rm -f "$1"; fi
}

# start_dockerd NAME DIR SOCKET [DOCKERD-ARGS...]: a dockerd of our own with its state under DIR (wiped first),
# its API on SOCKET, no network of its own, and the base image imported. PID saved as NAME; DIR marks it.
start_dockerd() {
  local name=$1 dir=$2 sock=$3
  shift 3
  # A fresh engine state every start: a dockerd that was killed leaves its containers' network sandboxes, and
  # the next one removes them one by one at start-up (about 0.1 s each, minutes after a long session). The only
  # image kept there is the base image, which is imported again in a fraction of a second.
  unmount_leftovers "$dir/"
  rm -rf "$dir/root" "$dir/exec"
  mkdir -p "$dir"
  # A killed dockerd leaves its own and its containerd's PID files behind, and a new dockerd refuses to start
  # (or waits for that containerd) while those PIDs still show in /proc, as they do until PID 1 reaps them.
  remove_stale_pid_file "$dir/dockerd.pid"
  remove_stale_pid_file "$dir/exec/containerd/containerd.pid"
  # An explicit empty config keeps a host's /etc/docker/daemon.json out of the test daemon.
  echo '{}' >"$dir/daemon.json"
  start_bg "$name" dockerd --config-file "$dir/daemon.json" --data-root "$dir/root" --exec-root "$dir/exec" \
    --pidfile "$dir/dockerd.pid" -H "unix://$sock" --storage-driver overlay2 \
    --bridge=none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false --ip=127.0.0.1 "$@"
  wait_until "$name" probe_docker_at "$sock" "${DOCKER_PROBE_TCP:-}"
  ensure_base_image "$sock"
  log "$name ready on $sock"
}

ensure_dockerd() {
  if already_running dockerd "$DOCKER_ROOT" probe_docker; then
    ensure_base_image "$DOCKER_SOCK"
    return
  fi
  [[ -z $DOCKER_TCP_PORT ]] || need_free_port dockerd "$DOCKER_TCP_PORT" OA_TEST_DOCKER_TCP_PORT
  local tcp=()
  [[ -z $DOCKER_TCP_PORT ]] || tcp=(-H "tcp://127.0.0.1:$DOCKER_TCP_PORT")
  DOCKER_PROBE_TCP=${DOCKER_TCP_PORT:+http://127.0.0.1:$DOCKER_TCP_PORT} \
    start_dockerd dockerd "$STATE/docker" "$DOCKER_SOCK" "${tcp[@]}"
}

# busybox:latest imported from the busybox-static binary, so FROM busybox never reaches for Docker Hub. The
# root file system is made once (some 800 processes) and kept, for every engine started after the first.
ensure_base_image() {
  local sock=$1 tarball=$STATE/tmp/base-image.tar
  if docker_api_at "$sock" "/images/$BASE_IMAGE/json" >/dev/null; then return; fi
  [[ -f $tarball ]] || make_base_rootfs "$tarball"
  local reply
  reply=$(docker_api_at "$sock" /images/create -X POST -H 'Content-Type: application/x-tar' \
    --data-binary "@$tarball" --url-query fromSrc=- --url-query repo=busybox --url-query tag=latest \
    --url-query 'changes=CMD ["/bin/sh"]')
  if [[ $reply == *'"error'* ]]; then die "importing $BASE_IMAGE failed: $reply"; fi
  docker_api_at "$sock" "/images/$BASE_IMAGE/json" >/dev/null || die "$BASE_IMAGE is missing after its import: $reply"
  log "imported $BASE_IMAGE into $sock"
}

make_base_rootfs() {
  local busybox rootfs applet
  busybox=$(command -v busybox) || die "busybox not found (package busybox-static)"
  rootfs=$(mktemp -d "$STATE/tmp/rootfs.XXXXXX")
  mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/root" "$rootfs/tmp"
  chmod 1777 "$rootfs/tmp"
  cp "$busybox" "$rootfs/bin/busybox"
  while read -r applet; do
    [[ $applet == bin/busybox ]] && continue
    mkdir -p "$rootfs/${applet%/*}"
    ln -sf /bin/busybox "$rootfs/$applet"
  done < <("$busybox" --list-full)
  echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
  echo 'root:x:0:' >"$rootfs/etc/group"
  # Written aside and renamed, so an engine started meanwhile never imports half a file.
  tar -C "$rootfs" --owner=0 --group=0 -cf "$1.$$" .
  mv "$1.$$" "$1"
  rm -rf "$rootfs"
}

# --- extra engines (a build farm) ------------------------------------------------------------------------

# engine up NAME [--tcp PORT] [--tls DIR] | engine down NAME: one more dockerd, for the build-farm tests,
# under $STATE/engines/NAME with its API on $STATE/engines/NAME.sock. --tcp adds a loopback TCP listener;
# --tls DIR makes it require TLS there (--tlsverify) with DIR's ca.pem, server-cert.pem and server-key.pem.
cmd_engine() {
  local action=${1:-} name=${2:-} port= tls=
  [[ $name =~ ^[a-z0-9-]{1,12}$ ]] || die "engine names are 1 to 12 of [a-z0-9-], not '$name'"
  shift 2
  while (($# > 0)); do
    case $1 in
      --tcp) port=${2:-} && shift 2 ;;
      --tls) tls=${2:-} && shift 2 ;;
      *) die "engine: unknown option $1" ;;
    esac
  done
  local dir=$STATE/engines/$name sock=$STATE/engines/$name.sock
  case $action in
    up)
      ((EUID == 0)) || die "engine up must run as root (dockerd needs it)"
      mkdir -p "$LOGS" "$PIDS" "$STATE/tmp" "$STATE/engines"
      # One lock per engine: engines start side by side, and never in the way of up or down.
      exec 9>>"$dir.lock"
      flock -w 300 9 || die "another test-env.sh holds $dir.lock"
      if already_running "engine-$name" "$dir/root" probe_docker_at "$sock"; then return; fi
      local args=()
      if [[ -n $port ]]; then
        need_free_port "engine-$name" "$port" --tcp
        args+=(-H "tcp://127.0.0.1:$port")
      fi
      [[ -z $tls ]] || args+=(--tlsverify --tlscacert "$tls/ca.pem" --tlscert "$tls/server-cert.pem"
        --tlskey "$tls/server-key.pem")
      start_dockerd "engine-$name" "$dir" "$sock" "${args[@]}"
      ;;
    down)
      [[ -d $STATE/engines ]] || return 0
      exec 9>>"$dir.lock"
      flock -w 300 9 || die "another test-env.sh holds $dir.lock"
      stop_services "engine-$name=$dir/root"
      unmount_leftovers "$dir/"
      ;;
    *) die "usage: $0 engine up|down NAME [--tcp PORT] [--tls DIR]" ;;
  esac
}

# --- registries ------------------------------------------------------------------------------------------

# ensure_registry NAME PORT PORT-VARIABLE PROBE [auth]
ensure_registry() {
  local name=$1 port=$2 port_var=$3 probe=$4 auth=${5:-} dir=$STATE/$1
  if already_running "$name" "$dir/config.yml" "$probe"; then return; fi
  need_free_port "$name" "$port" "$port_var"
  mkdir -p "$dir/data"
  cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
  secret: $(random_secret)
EOF
  if [[ -n $auth ]]; then
    random_secret >"$SECRETS/registry-password"
    # distribution accepts only bcrypt entries; -i reads the password from stdin, away from the process list.
    htpasswd -iBc "$dir/htpasswd" "$REGISTRY_USER" <"$SECRETS/registry-password" 2>>"$LOGS/$name.log"
    printf 'auth:\n  htpasswd:\n    realm: oa-builder-test\n    path: %s\n' "$dir/htpasswd" >>"$dir/config.yml"
  fi
  start_bg "$name" docker-registry serve "$dir/config.yml"
  wait_until "$name" "$probe"
  log "$name ready on 127.0.0.1:$port"
}

# --- git -------------------------------------------------------------------------------------------------

ensure_git_server() {
  if already_running git-http "$REPOS" probe_git; then return; fi
  need_free_port git-http "$GIT_PORT" OA_TEST_GIT_PORT
  printf '%s:%s\n' "$GIT_USER" "$(random_secret)" >"$SECRETS/git-auth"
  start_bg git-http node "$REPO_ROOT/scripts/git-http-server.js" --root "$REPOS" --host 127.0.0.1 \
    --port "$GIT_PORT" --auth-file "$SECRETS/git-auth"
  wait_until git-http probe_git
  log "git-http ready on http://127.0.0.1:$GIT_PORT"
}

# Each examples/repos/<name>/ folder is served as <name>.git; an existing one keeps what tests pushed to it.
seed_example_repos() {
  local dir name
  for dir in "$REPO_ROOT"/examples/repos/*/; do
    [[ -d $dir ]] || continue
    name=$(basename "$dir")
    [[ -e $REPOS/$name.git ]] && continue
    bash "$REPO_ROOT/scripts/seed-bare-repo.sh" "$REPOS/$name.git" "$dir"
    log "published examples/repos/$name as $name.git"
  done
}

# --- RabbitMQ --------------------------------------------------------------------------------------------

rabbit_env() {
  local dir=$STATE/rabbitmq
  export HOME=$dir RABBITMQ_NODENAME=$RABBITMQ_NODE RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT=$RABBITMQ_PORT RABBITMQ_DIST_PORT=$RABBITMQ_DIST_PORT
  export RABBITMQ_CONFIG_FILE=$dir/rabbitmq.conf RABBITMQ_ENABLED_PLUGINS_FILE=$dir/enabled_plugins
  export RABBITMQ_CONF_ENV_FILE=$dir/rabbitmq-env.conf RABBITMQ_ADVANCED_CONFIG_FILE=$dir/advanced.config
  export RABBITMQ_MNESIA_BASE=$dir/mnesia RABBITMQ_LOG_BASE=$LOGS/rabbitmq RABBITMQ_PID_FILE=$dir/beam.pid
  export ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT=$EPMD_PORT
  # Erlang distribution would otherwise listen on every interface.
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS='-kernel inet_dist_use_interface {127,0,0,1}'
  export RABBITMQ_CTL_ERL_ARGS=$RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS
}

rabbitmqctl_await() { (rabbit_env && /usr/lib/rabbitmq/bin/rabbitmqctl -q await_startup --timeout 10); }

# An epmd of our own on its own port, so the node never registers with (or starts) a system-wide one.
ensure_epmd() {
  if owned_pid epmd "$EPMD_PORT" >/dev/null; then return; fi
  need_free_port epmd "$EPMD_PORT" OA_TEST_EPMD_PORT
  start_bg epmd epmd -address 127.0.0.1 -port "$EPMD_PORT"
  wait_until epmd probe_epmd
}

# Uses a broker that already accepts guest/guest (OA_TEST_RABBITMQ=auto|external) or starts one of ours
# (auto when none answers, or own); a broker of ours that is still running is kept whatever the mode.
ensure_rabbitmq() {
  local dir=$STATE/rabbitmq own_url=amqp://guest:guest@127.0.0.1:$RABBITMQ_PORT/
  if already_running rabbitmq "$dir" probe_amqp "$own_url"; then
    AMQP_URL=$own_url RABBITMQ_OWNED=true
    return
  fi
  case $RABBITMQ_MODE in
    auto | external)
      if probe_amqp "$EXTERNAL_AMQP_URL" 2>>"$LOGS/amqp-probe.log"; then
        log "using the RabbitMQ that answers at ${EXTERNAL_AMQP_URL##*@}"
        AMQP_URL=$EXTERNAL_AMQP_URL RABBITMQ_OWNED=false
        return
      fi
      [[ $RABBITMQ_MODE == auto ]] || die "no RabbitMQ accepts $EXTERNAL_AMQP_URL (see $LOGS/amqp-probe.log)"
      ;;
    own) ;;
    *) die "OA_TEST_RABBITMQ must be auto, own or external, not $RABBITMQ_MODE" ;;
  esac
  ensure_epmd
  need_free_port rabbitmq "$RABBITMQ_PORT" OA_TEST_RABBITMQ_PORT
  need_free_port rabbitmq "$RABBITMQ_DIST_PORT" OA_TEST_RABBITMQ_DIST_PORT
  mkdir -p "$dir" "$LOGS/rabbitmq"
  echo "listeners.tcp.default = 127.0.0.1:$RABBITMQ_PORT" >"$dir/rabbitmq.conf"
  echo '[].' >"$dir/enabled_plugins"
  : >"$dir/rabbitmq-env.conf"
  # The wrapper's own command line names nothing of ours; an Erlang user flag (ignored by the broker)
  # marks both it and the VM, so owned_pid can tell them from another broker.
  (rabbit_env && start_bg rabbitmq /usr/lib/rabbitmq/bin/rabbitmq-server -oa_builder_test_state "$dir")
  wait_until rabbitmq rabbitmqctl_await
  wait_until rabbitmq probe_amqp "$own_url"
  log "rabbitmq ready on 127.0.0.1:$RABBITMQ_PORT"
  AMQP_URL=$own_url RABBITMQ_OWNED=true
}

# --- env.json --------------------------------------------------------------------------------------------

write_env() {
  local registry_password git_password docker_tcp=null
  registry_password=$(<"$SECRETS/registry-password")
  git_password=$(cut -d: -f2- "$SECRETS/git-auth")
  [[ -z $DOCKER_TCP_PORT ]] || docker_tcp="\"tcp://127.0.0.1:$DOCKER_TCP_PORT\""
  cat >"$STATE/env.json.tmp" <<EOF
{
  "version": 1,
  "stateDir": "$STATE",
  "logsDir": "$LOGS",
  "dockerSocket": "$DOCKER_SOCK",
  "dockerHost": "unix://$DOCKER_SOCK",
  "dockerTcpHost": $docker_tcp,
  "baseImage": "$BASE_IMAGE",
  "registry": { "url": "http://127.0.0.1:$REGISTRY_PORT", "host": "127.0.0.1:$REGISTRY_PORT" },
  "authRegistry": {
    "url": "http://127.0.0.1:$AUTH_REGISTRY_PORT",
    "host": "127.0.0.1:$AUTH_REGISTRY_PORT",
    "username": "$REGISTRY_USER",
    "password": "$registry_password"
  },
  "git": {
    "url": "http://127.0.0.1:$GIT_PORT",
    "baseUrl": "http://127.0.0.1:$GIT_PORT/anon",
    "authBaseUrl": "http://127.0.0.1:$GIT_PORT/auth",
    "username": "$GIT_USER",
    "password": "$git_password",
    "reposDir": "$REPOS"
  },
  "amqpUrl": "$AMQP_URL",
  "rabbitmqOwned": $RABBITMQ_OWNED
}
EOF
  mv "$STATE/env.json.tmp" "$STATE/env.json"
  cat >"$STATE/env.sh" <<EOF
export OA_TEST_ENV_DIR=$STATE
export DOCKER_HOST=unix://$DOCKER_SOCK
export OA_TEST_REGISTRY=127.0.0.1:$REGISTRY_PORT
export OA_TEST_AUTH_REGISTRY=127.0.0.1:$AUTH_REGISTRY_PORT
export OA_TEST_AUTH_REGISTRY_USER=$REGISTRY_USER
export OA_TEST_AUTH_REGISTRY_PASSWORD=$registry_password
export OA_TEST_GIT_URL=http://127.0.0.1:$GIT_PORT/anon
export OA_TEST_GIT_AUTH_URL=http://127.0.0.1:$GIT_PORT/auth
export OA_TEST_GIT_USER=$GIT_USER
export OA_TEST_GIT_PASSWORD=$git_password
export OA_TEST_GIT_REPOS=$REPOS
# What the builder needs for this engine: it has no bridge network, BuildKit's default for RUN steps.
export BUILD_NETWORK=none
export OA_TEST_AMQP_URL=$AMQP_URL
EOF
  chmod 600 "$STATE/env.json" "$STATE/env.sh"
}

# --- commands --------------------------------------------------------------------------------------------

take_lock() {
  exec 9>>"$STATE/.lock"
  flock -w 300 9 || die "another test-env.sh holds $STATE/.lock"
}

make_state_dir() {
  mkdir -p "$LOGS" "$PIDS" "$SECRETS" "$REPOS" "$STATE/tmp"
  chmod 700 "$SECRETS"
  touch "$STATE/.oa-builder-test-env"
  take_lock
}

cmd_up() {
  ((EUID == 0)) || die "up must run as root (dockerd needs it)"
  make_state_dir
  [[ -d $REPO_ROOT/node_modules/amqplib ]] || die "node_modules is missing; run npm ci first"
  ensure_packages
  ensure_dockerd
  ensure_registry registry "$REGISTRY_PORT" OA_TEST_REGISTRY_PORT probe_registry
  ensure_registry auth-registry "$AUTH_REGISTRY_PORT" OA_TEST_AUTH_REGISTRY_PORT probe_auth_registry auth
  ensure_git_server
  seed_example_repos
  ensure_rabbitmq
  write_env
  log "up: $STATE/env.json written"
}

cmd_down() {
  [[ -d $STATE ]] || return 0
  take_lock
  stop_services git-http="$REPOS" registry="$STATE/registry/config.yml" \
    auth-registry="$STATE/auth-registry/config.yml" dockerd="$DOCKER_ROOT" rabbitmq="$STATE/rabbitmq"
  # The RabbitMQ wrapper stops its Erlang VM, except when the wrapper had to be killed. (dockerd's containerd
  # needs no such care: it is started to die with its parent.)
  stop_orphan beam "$STATE/rabbitmq/beam.pid" "$STATE/rabbitmq"
  stop_services epmd="$EPMD_PORT"
  local engine
  for engine in "$PIDS"/engine-*.pid; do
    [[ -f $engine ]] || continue
    engine=${engine##*/engine-}
    stop_services "engine-${engine%.pid}=$STATE/engines/${engine%.pid}/root"
  done
  unmount_leftovers
  rm -f "$STATE/env.json" "$STATE/env.sh"
  if [[ ${1:-} == --purge ]]; then
    [[ -f $STATE/.oa-builder-test-env ]] || die "$STATE was not made by this script; not deleting it"
    rm -rf "$STATE"
    log "down: deleted $STATE"
  else
    log "down: stopped; data kept in $STATE"
  fi
}

cmd_env() {
  [[ -f $STATE/env.sh ]] || die "no environment at $STATE; run $0 up"
  cat "$STATE/env.sh"
}

# status_line NAME PID-MARKER PROBE...
status_line() {
  local name=$1 marker=$2 pid state
  shift 2
  if pid=$(owned_pid "$name" "$marker"); then state="running (pid $pid)"; else state="not started by us"; fi
  if "$@" >/dev/null 2>&1; then
    printf '%-14s %-28s answering\n' "$name" "$state"
  else
    printf '%-14s %-28s NOT ANSWERING (log: %s)\n' "$name" "$state" "$LOGS/$name.log"
    return 1
  fi
}

cmd_status() {
  local ok=0 amqp_url
  [[ -f $STATE/env.json ]] || {
    echo "no environment at $STATE (run $0 up)"
    return 1
  }
  amqp_url=$(sed -n 's/^export OA_TEST_AMQP_URL=//p' "$STATE/env.sh")
  status_line dockerd "$DOCKER_ROOT" probe_docker || ok=1
  status_line registry "$STATE/registry/config.yml" probe_registry || ok=1
  status_line auth-registry "$STATE/auth-registry/config.yml" probe_auth_registry || ok=1
  status_line git-http "$REPOS" probe_git || ok=1
  status_line rabbitmq "$STATE/rabbitmq" probe_amqp "$amqp_url" || ok=1
  return "$ok"
}

check_state_dir
case ${1:-} in
  install) make_state_dir && ensure_packages ;;
  up) cmd_up ;;
  down) cmd_down "${2:-}" ;;
  env) cmd_env ;;
  status) cmd_status ;;
  engine) cmd_engine "${@:2}" ;;
  *) usage ;;
esac
