#!/usr/bin/env bash
# epoch-snapshots.sh CKPT CSV DIR [BINARY]
#
# Watches a running `ofac train` and keeps the weights after every epoch:
# when CSV (the run's --csv) gains a line, the trainer has already saved CKPT
# for that epoch, and this releases it (weights only, fp32, 8 MB for the fine
# space) as DIR/PHASE-EPOCH.ckpt. The snapshots are what
# bench/average-ckpt averages (weight averaging over a phase's last epochs).
# Stops when the run is finished (a snapshot of a finished run is the run).
set -euo pipefail
ckpt=$1 csv=$2 dir=$3 ofac=${4:-ofac}
mkdir -p "$dir"
seen=$(wc -l < "$csv" 2>/dev/null || echo 0)
while :; do
	n=$(wc -l < "$csv" 2>/dev/null || echo 0)
	if ((n > seen)); then
		last=$(tail -n 1 "$csv")
		name=$(cut -d, -f1,2 <<<"$last" | tr , -)
		# --stopped is ignored for a finished run, whose message then lacks "stopped after".
		out=$(nice -n 19 "$ofac" release --stopped "$ckpt" -o "$dir/$name.ckpt" 2>&1) || true
		echo "$(date -u +%H:%M:%S) $name: $out"
		seen=$n
		if [[ $out == released* && $out != *"stopped after"* ]]; then exit 0; fi
	fi
	sleep 20
done
