#!/usr/bin/env bash
# Creates the bare repository TARGET holding one commit on BRANCH (default main) with the files of SOURCE_DIR.
# The commit is written straight from SOURCE_DIR through a throw-away index, so the source is not copied.
# Pushes over HTTP are enabled without credentials (`http.receivepack`), as the test git server expects.
# Usage: seed-bare-repo.sh TARGET SOURCE_DIR [BRANCH]
set -euo pipefail

if [[ $# -lt 2 || $# -gt 3 ]]; then
  echo "usage: $0 TARGET SOURCE_DIR [BRANCH]" >&2
  exit 2
fi
target=$(realpath -m "$1")
source_dir=$(realpath "$2")
branch=${3:-main}

if [[ -e $target ]]; then
  echo "seed-bare-repo: $target already exists" >&2
  exit 1
fi

index=$(mktemp)
trap 'rm -f "$index"' EXIT
rm -f "$index"

git init -q --bare -b "$branch" "$target"
git -C "$target" config http.receivepack true
export GIT_DIR=$target GIT_WORK_TREE=$source_dir GIT_INDEX_FILE=$index
git add -A
git -c user.name='oa-builder test harness' -c user.email=harness@oa-builder.test \
  commit -q --allow-empty -m "Seed ${target##*/}"
