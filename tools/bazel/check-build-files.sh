#!/usr/bin/env bash
# Fails when the Bazel BUILD files (or tools/bazel/go_sources.bzl) no longer
# match the Go sources, e.g. after a new package, file or import. Changes nothing.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
if ! out="$(tools/bazel/gazelle.sh -check 2>&1)"; then
  echo "$out" >&2
  echo "check-build-files.sh: BUILD files are stale: run tools/bazel/gazelle.sh (or make gazelle)" >&2
  exit 1
fi
echo "check-build-files.sh: BUILD files are up to date"
