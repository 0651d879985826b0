#!/usr/bin/env bash
# Reproducibility check: builds //cmd/ofac (or the target given) twice from
# clean and fails if the two binaries differ.
#
# It builds a snapshot of the working tree (git's tracked and untracked,
# non-ignored files plus the prepared third_party folders) in a temporary folder
# with its own output base, so edits made meanwhile cannot change the inputs
# between the two builds. No disk cache, no stamping; `bazel clean` between the
# builds, so every action (the standard library included) really runs twice.
# Takes two full builds (~2.5-5 min each on 2 cores).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
TARGET="${1:-//cmd/ofac}"
[[ -d third_party/bazel/rules_go ]] || tools/bazel/setup.sh

SNAP="$(mktemp -d "${TMPDIR:-/tmp}/ofac-repro.XXXXXX")"
SRC="$SNAP/ofac"
OB="$SNAP/output_base"
cleanup() {
  (cd "$SRC" 2>/dev/null && bazel --output_base="$OB" shutdown >/dev/null 2>&1) || true
  chmod -R u+w "$SNAP" 2>/dev/null || true
  rm -rf "$SNAP"
}
trap cleanup EXIT

mkdir -p "$SRC/third_party"
git ls-files -z --cached --others --exclude-standard |
  tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C "$SRC"
cp -r third_party/bazel third_party/go_deps third_party/go.mod "$SRC/third_party/"

FLAGS=(--nostamp --disk_cache= --noshow_progress)
bzl() { (cd "$SRC" && bazel --output_base="$OB" "$@"); }

build_sum() {
  bzl clean >/dev/null 2>&1 || return 1
  bzl build "${FLAGS[@]}" "$TARGET" >&2 || return 1
  local bin
  # Bazel 4's cquery has no --output=files: print the target's files with Starlark.
  bin="$(bzl cquery "${FLAGS[@]}" --output=starlark \
    --starlark:expr='"\n".join([f.path for f in target.files.to_list()])' "$TARGET" 2>/dev/null | head -1)"
  [[ -n "$bin" && -f "$SRC/$bin" ]] || { echo "repro-check.sh: no output file for $TARGET" >&2; return 1; }
  mkdir -p "$ROOT/.cache/bazel/repro"
  cp -f "$SRC/$bin" "$ROOT/.cache/bazel/repro/$1"
  sha256sum "$SRC/$bin" | cut -d' ' -f1
}

first="$(build_sum build1)" || { echo "repro-check.sh: FAIL: build 1 of $TARGET failed" >&2; exit 1; }
second="$(build_sum build2)" || { echo "repro-check.sh: FAIL: build 2 of $TARGET failed" >&2; exit 1; }
echo "repro-check.sh: $TARGET build 1: $first"
echo "repro-check.sh: $TARGET build 2: $second"
if [[ "$first" != "$second" ]]; then
  echo "repro-check.sh: FAIL: two clean builds of $TARGET differ (copies in .cache/bazel/repro/)" >&2
  exit 1
fi
echo "repro-check.sh: OK: two clean builds of $TARGET are identical"
