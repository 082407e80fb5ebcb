#!/usr/bin/env bash
# Records the git commit for `fervid --version` in .build/fervid-commit.h (read by
# Sources/CBuildInfo/build_info.c). Rewrites the file only when its content changes, so an
# unchanged commit costs no recompilation; when it does change, build_info.c is touched, because
# SwiftPM does not track the header and would otherwise keep the old commit in an incremental build. "-dirty" marks tracked files changed since the commit.
set -euo pipefail
cd "$(dirname "$0")/.."
commit=unknown
if git rev-parse --git-dir >/dev/null 2>&1; then
  commit=$(git rev-parse --short=12 HEAD)
  git diff --quiet HEAD -- 2>/dev/null || commit="$commit-dirty"
fi
mkdir -p .build
line="#define FERVID_COMMIT \"$commit\""
if [ "$(cat .build/fervid-commit.h 2>/dev/null)" != "$line" ]; then
  echo "$line" > .build/fervid-commit.h
  touch Sources/CBuildInfo/build_info.c
fi
