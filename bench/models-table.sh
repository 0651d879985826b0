#!/usr/bin/env bash
# Prints MODELS.md's table of the shipped supernet: the largest, the smallest
# and 10 random subnets (random:1 .. random:10), each extracted with batch
# norm recalibrated, measured on the 10k Fashion-MNIST test set. With
# INT8=1 it also measures the int8 graph with the integer interpreter;
# ARCHS="largest smallest" limits the rows.
#
#   bench/models-table.sh [SUPERNET]        (default models/supernet.ckpt)
set -euo pipefail
cd "$(dirname "$0")/.."
supernet=${1:-models/supernet.ckpt}
bin=$(mktemp -d)/ofac
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" ./cmd/ofac
archs=${ARCHS:-"largest smallest $(printf 'random:%d ' $(seq 1 10))"}
flags=()
if [[ "${INT8:-0}" == 1 ]]; then flags+=(--int8); fi
if [[ "${INT8:-0}" == 1 ]]; then
  echo "| subnet | arch | MACs | params | top-1 fp32 | top-1 int8 | drop |"
  echo "|---|---|---:|---:|---:|---:|---:|"
else
  echo "| subnet | arch | MACs | params | top-1 |"
  echo "|---|---|---:|---:|---:|"
fi
for a in $archs; do
  "$bin" eval --supernet "$supernet" --arch "$a" --json "${flags[@]}" | python3 -c '
import json, sys
sys.path.insert(0, "bench")
from arch_text import arch_text
r = json.load(sys.stdin)
a = r["arch"]
arch = arch_text(a)
row = ["`%s`" % sys.argv[1], arch, "%.2fM" % (r["macs"] / 1e6), "{:,}".format(r["params"]), "%.2f%%" % (100 * r["top1"])]
if "top1_int8" in r:
    row += ["%.2f%%" % (100 * r["top1_int8"]), "%+.2f" % (100 * (r["top1_int8"] - r["top1"]))]
print("| " + " | ".join(row) + " |")
' "$a"
done
