#!/usr/bin/env bash
# What a search under a budget gets from a supernet: for each budget, the
# subnet `ofac search` picks with the supernet's accuracy predictor, and that
# subnet's top-1 (batch norm recalibrated) on the validation split. Two
# supernets of different search spaces price one architecture differently,
# so comparing them subnet by subnet misses what a user of `ofac build` sees;
# this table compares them at equal budgets.
#
#   bench/budget-table.sh [SUPERNET [PREDICTOR]]   (default models/supernet.ckpt, models/predictor.json)
#
# BUDGETS="target:latency ..." sets the rows; SPLIT=test measures the test set.
set -euo pipefail
cd "$(dirname "$0")/.."
supernet=${1:-models/supernet.ckpt}
predictor=${2:-models/predictor.json}
budgets=${BUDGETS:-"mcu-m7:80ms mcu-m7:150ms mcu-m7:300ms fpga-zu9:1.5ms fpga-zu9:5ms fpga-zu9:20ms"}
split=${SPLIT:-val}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin=$work/ofac
go build -o "$bin" ./cmd/ofac
echo "| target | budget | arch | MACs | latency | predicted | top-1 ($split) |"
echo "|---|---:|---|---:|---:|---:|---:|"
for b in $budgets; do
  target=${b%%:*}
  latency=${b#*:}
  if ! "$bin" search --predictor "$predictor" --target "$target" --latency "$latency" --json -q > "$work/search.json" 2> "$work/search.err"; then
    echo "| $target | $latency | none fits: $(tr '\n|' '  ' < "$work/search.err") | | | | |"
    continue
  fi
  python3 -c 'import json, sys; json.dump(json.load(open(sys.argv[1]))["best"]["arch"], open(sys.argv[2], "w"))' "$work/search.json" "$work/arch.json"
  "$bin" eval --supernet "$supernet" --arch "$work/arch.json" --split "$split" --json > "$work/eval.json"
  python3 - "$target" "$latency" "$work/search.json" "$work/eval.json" <<'PY'
import json, sys
sys.path.insert(0, "bench")
from arch_text import arch_text
target, latency = sys.argv[1], sys.argv[2]
best = json.load(open(sys.argv[3]))["best"]
r = json.load(open(sys.argv[4]))
a = best["arch"]
arch = arch_text(a)
row = [target, latency, arch, "%.2fM" % (r["macs"] / 1e6), "%.2f ms" % best["cost"]["latency_ms"],
       "%.2f%%" % (100 * best["predicted_top1"]), "%.2f%%" % (100 * r["top1"])]
print("| " + " | ".join(row) + " |")
PY
done
