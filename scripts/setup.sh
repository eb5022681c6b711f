#!/usr/bin/env bash
# Installs what the builder and its tests need on a fresh Debian machine, as root: a supported Node.js and the
# project's npm packages, then the Debian packages of the test services (scripts/test-env.sh install).
set -euo pipefail
cd "$(dirname "$0")/.." || exit 1

node_ok() {
  command -v node >/dev/null && node -e '
    const [maj, min] = process.versions.node.split(".").map(Number);
    process.exit(maj > 20 || (maj === 20 && min >= 19) ? 0 : 1);'
}

if ! node_ok; then
  # Debian 12 ships Node 18; the npm registry's "node" package brings a current LTS binary.
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq nodejs npm >/dev/null
  npm install -g node@22 >/dev/null
  hash -r
  node_ok || { echo "setup: need Node.js >= 20.19, found $(node --version 2>/dev/null || echo none)" >&2; exit 1; }
fi

# The lock file pins every package; a clean install keeps CI and developers on the same tree.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

bash scripts/test-env.sh install
