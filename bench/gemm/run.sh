#!/usr/bin/env bash
# run.sh compares single-threaded pure-Go SGEMM (supernet/gemm) with
# single-threaded OpenBLAS cblas_sgemm on the same shapes, in one run:
# builds openblas_sgemm.c and the gemm test binary, runs BenchmarkSgemm with
# GOMAXPROCS=1 -cpu 1 and the C program alternately COUNT times, and prints
# the median GFLOP/s of each and the ratio.
#
# Usage: bench/gemm/run.sh            (COUNT=N to change the repetitions)
# Needs: gcc, libopenblas-dev. OPENBLAS_CORETYPE is left as the machine sets it.
set -euo pipefail
cd "$(dirname "$0")/../.."
count=${COUNT:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

gcc -O2 -o "$tmp/openblas_sgemm" bench/gemm/openblas_sgemm.c -lopenblas

echo "# $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; $(go version)"
go test -c -o "$tmp/gemm.test" ./supernet/gemm
echo "# go: GOMAXPROCS=1 gemm.test -test.run '^\$' -test.bench '^BenchmarkSgemm\$' -test.cpu 1, $count times"
echo "# c:  OPENBLAS_NUM_THREADS=1 openblas_sgemm 1, $count times, alternating with go"
# Alternate Go and C runs so that load from other processes on the machine
# hits both sides alike; the table shows the median of the runs.
for _ in $(seq "$count"); do
	GOMAXPROCS=1 "$tmp/gemm.test" -test.run '^$' -test.bench '^BenchmarkSgemm$' -test.cpu 1 >>"$tmp/go.txt"
	OPENBLAS_NUM_THREADS=1 "$tmp/openblas_sgemm" 1 >>"$tmp/c.txt"
done
grep -E '^cpu:' "$tmp/go.txt" | sort -u | sed 's/^/# go /'
grep '^#' "$tmp/c.txt" | sort -u

# median NAME VALUE lines -> NAME MEDIAN, in first-seen order.
median() {
	awk '{ if (!($1 in n)) order[++k] = $1; v[$1, ++n[$1]] = $2 }
	END {
		for (o = 1; o <= k; o++) {
			name = order[o]; c = n[name]
			for (i = 1; i <= c; i++) a[i] = v[name, i]
			for (i = 2; i <= c; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
			print name, (c % 2 ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2)
		}
	}'
}

awk '/^BenchmarkSgemm\// { name = $1; sub(/^BenchmarkSgemm\//, "", name); sub(/-[0-9]+$/, "", name)
	for (i = 2; i < NF; i++) if ($(i + 1) == "GFLOP/s") print name, $i }' "$tmp/go.txt" | median >"$tmp/go.med"
grep -v '^#' "$tmp/c.txt" | median >"$tmp/c.med"

printf '%-20s %12s %16s %10s\n' "shape (m x n x k)" "Go GFLOP/s" "OpenBLAS GFLOP/s" "Go/OpenBLAS"
awk 'NR == FNR { c[$1] = $2; next }
	{ printf "%-20s %12.2f %16.2f %10.2f\n", $1, $2, c[$1], (c[$1] > 0 ? $2 / c[$1] : 0) }' "$tmp/c.med" "$tmp/go.med"
