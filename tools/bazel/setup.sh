#!/usr/bin/env bash
# Prepares everything `bazel test //...` needs, offline:
#   - Debian packages: Bazel 4.2.3 (bazel-bootstrap) and the repos it is built with;
#   - rules_go v0.34.0 (from the Go module proxy) patched for the Go 1.26 SDK;
#   - gazelle v0.35.0 (go install), used by tools/bazel/gazelle.sh;
#   - stand-in repositories Bazel 4 asks for (rules_cc/java/proto, skylib,
#     platforms, remote_coverage_tools);
#   - third-party Go modules vendored into third_party/go_deps with BUILD files.
# Everything it writes lives in ignored folders (third_party/, .cache/).
# Idempotent: each step compares a stamp (versions + content hashes) and is
# skipped when nothing changed, so a second run takes about a second.
# Usage: tools/bazel/setup.sh [--quiet]   (--quiet: no "ready" line)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

RULES_GO_VERSION=v0.34.0
GAZELLE_VERSION=v0.35.0
PATCH="tools/bazel/rules_go-v0.34.0-go1.26.patch"
TP="third_party"
EXT="$TP/bazel" # external Bazel repositories (in .bazelignore)
STAMPS="$TP/.stamps"

log() { echo "setup.sh: $*" >&2; }
die() { echo "setup.sh: error: $*" >&2; exit 1; }

# stamp_ok NAME VALUE: true when step NAME last completed with VALUE.
stamp_ok() { [[ -f "$STAMPS/$1" && "$(cat "$STAMPS/$1")" == "$2" ]]; }
stamp_set() { mkdir -p "$STAMPS"; printf '%s' "$2" >"$STAMPS/$1"; }
hash_of() { { cat "$@" 2>/dev/null || true; } | sha256sum | cut -c1-64; }

command -v go >/dev/null || die "go is not on PATH"

# --- 1. Debian packages ------------------------------------------------------
APT_PKGS=(bazel-bootstrap bazel-bootstrap-source bazel-skylib bazel-platforms)
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  if [[ $(id -u) != 0 ]]; then SUDO="sudo"; fi
  # Another apt-get (e.g. a background install) holds the lock: wait for it.
  while pgrep -x apt-get >/dev/null || pgrep -x dpkg >/dev/null; do sleep 5; done
  log "installing ${missing[*]}"
  if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >/dev/null; then
    $SUDO apt-get update >/dev/null
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >/dev/null
  fi
fi
command -v bazel >/dev/null || die "bazel not found after installing bazel-bootstrap"

# --- 2. rules_go, patched ------------------------------------------------------
# `go mod download` prints the module's directory in the module cache; run it
# outside this module so the project's go.mod is not consulted.
mod_dir() {
  (cd /tmp && GOFLAGS=-mod=mod GO111MODULE=on go mod download -json "$1" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
}
want="rules_go=$RULES_GO_VERSION patch=$(hash_of "$PATCH")"
if ! stamp_ok rules_go "$want" || [[ ! -f "$EXT/rules_go/WORKSPACE" ]]; then
  src="$(mod_dir "github.com/bazelbuild/rules_go@$RULES_GO_VERSION")"
  [[ -d "$src" ]] || die "could not download rules_go $RULES_GO_VERSION"
  log "copying rules_go $RULES_GO_VERSION and applying $PATCH"
  rm -rf "$EXT/rules_go.tmp" "$EXT/rules_go"
  mkdir -p "$EXT"
  cp -r "$src" "$EXT/rules_go.tmp"
  chmod -R u+w "$EXT/rules_go.tmp"
  (cd "$EXT/rules_go.tmp" && patch -p1 -s --no-backup-if-mismatch <"$ROOT/$PATCH")
  mv "$EXT/rules_go.tmp" "$EXT/rules_go"
  stamp_set rules_go "$want"
fi

# --- 3. gazelle ------------------------------------------------------------------
want="gazelle=$GAZELLE_VERSION go=$(go env GOVERSION)"
if ! stamp_ok gazelle "$want" || [[ ! -x "$TP/bin/gazelle" ]]; then
  log "installing gazelle $GAZELLE_VERSION"
  (cd /tmp && GOBIN="$ROOT/$TP/bin" GOFLAGS=-mod=mod GO111MODULE=on \
    go install "github.com/bazelbuild/bazel-gazelle/cmd/gazelle@$GAZELLE_VERSION")
  stamp_set gazelle "$want"
fi

# --- 4. stand-in repositories ---------------------------------------------------
# sync_dir SRC DST: make DST an exact copy of SRC (skipped when equal).
sync_dir() {
  if [[ -d "$2" ]] && diff -r -q "$1" "$2" >/dev/null 2>&1; then return; fi
  log "preparing $2"
  rm -rf "$2"
  mkdir -p "$(dirname "$2")"
  cp -r "$1" "$2"
  chmod -R u+w "$2"
}
MOCK=/usr/src/bazel-bootstrap/mock_repos
# Debian's bazel-rules-cc 0.0.4 is too new for Bazel 4.2.3; the mock repos that
# Debian builds Bazel itself with are what Bazel 4.2.3 expects.
sync_dir "$MOCK/rules_cc" "$EXT/rules_cc"
sync_dir "$MOCK/rules_java" "$EXT/rules_java"
sync_dir "$MOCK/rules_proto" "$EXT/rules_proto"
sync_dir /usr/share/bazel/tools/skylib "$EXT/bazel_skylib"
sync_dir /usr/share/bazel/platforms "$EXT/platforms"
# Bazel 4's test rules reference @remote_coverage_tools (used only by
# `bazel coverage`); the stand-in's tools say so and fail.
stub="$(mktemp -d)"
trap 'rm -rf "$stub"' EXIT
cp tools/bazel/remote_coverage_tools/BUILD.stub "$stub/BUILD.bazel"
cp tools/bazel/remote_coverage_tools/unsupported.sh "$stub/unsupported.sh"
chmod 755 "$stub/unsupported.sh"
echo 'workspace(name = "remote_coverage_tools")' >"$stub/WORKSPACE"
sync_dir "$stub" "$EXT/remote_coverage_tools"

# --- 5. third-party Go modules ----------------------------------------------------
# third_party/go.mod makes third_party a separate module, so `go test ./...`,
# `go vet ./...` etc. of the project never descend into vendored or rules_go code.
if [[ ! -f "$TP/go.mod" ]]; then
  printf 'module ofac.invalid/third_party\n\ngo 1.26\n' >"$TP/go.mod"
fi
# Vendored into third_party/go_deps, not ./vendor: a ./vendor folder would switch
# every plain `go build` in this checkout to -mod=vendor.
DEPS="$TP/go_deps"
want="go.mod=$(hash_of go.mod go.sum) gazelle=$GAZELLE_VERSION setup=$(hash_of "${BASH_SOURCE[0]}")"
if ! stamp_ok go_deps "$want" || [[ ! -f "$DEPS/BUILD.bazel" ]]; then
  log "vendoring third-party Go modules into $DEPS"
  rm -rf "$DEPS"
  if grep -q '^require' go.mod; then
    go mod vendor -o "$DEPS"
  fi
  mkdir -p "$DEPS"
  # Import paths below go_deps are the plain module paths: reset gazelle's prefix.
  cat >"$DEPS/BUILD.bazel" <<'EOF'
# Generated by tools/bazel/setup.sh: vendored third-party Go code (go mod vendor).
# gazelle:prefix
EOF
  if [[ -n "$(find "$DEPS" -name '*.go' -print -quit)" ]]; then
    "$TP/bin/gazelle" -repo_root "$ROOT" -external static "$DEPS"
  fi
  stamp_set go_deps "$want"
fi

# --- 6. disk cache location ---------------------------------------------------------
rc_line="build --disk_cache=$ROOT/.cache/bazel/disk"
if [[ "$(cat .cache/bazel/disk.bazelrc 2>/dev/null)" != "$rc_line" ]]; then
  mkdir -p .cache/bazel/disk
  echo "$rc_line" >.cache/bazel/disk.bazelrc
fi

[[ "${1:-}" == "--quiet" ]] ||
  log "ready (bazel: $(bazel --version 2>/dev/null | head -1), rules_go $RULES_GO_VERSION patched, gazelle $GAZELLE_VERSION)"
