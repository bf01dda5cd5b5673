#!/usr/bin/env bash
# The placement benchmark, repeated: ROUNDS runs (default 3) of scripts/bench-placement.sh on
# the same generated file, each on a fresh cluster, then every round's figures and the medians.
# One run on a shared machine can be 20 % off; the median of three says more.
#   scripts/bench-rounds.sh [ROWS]      (default 1000000; needs a release build)
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
rounds=${ROUNDS:-3}
work=$(mktemp -d /tmp/relance-bench-rounds.XXXXXX)
trap 'rm -rf "$work"' EXIT
python3 Benchmarks/generate-placement.py "$rows" "$work/placement.csv"
for i in $(seq 1 "$rounds"); do
  echo "== round $i of $rounds"
  BENCH_FILE=$work/placement.csv scripts/bench-placement.sh "$rows" | tee "$work/round-$i.txt"
done
echo
echo "== $rounds rounds, $rows rows"
printf '%-6s %10s %10s %10s %10s %10s %10s %9s %10s %12s %10s\n' round "file copy" upload completed "API/copy" floor "API/floor" "peak RSS" assigned "assign/place" "queue fed"
for i in $(seq 1 "$rounds"); do
  awk -v round="$i" '
    /^psql \\copy:/ { copy = $3 }
    /^API upload/ { upload = $4 }
    /^API placement total:/ { total = $4; ratio = $6 }
    /^floor, same final rows:/ { floor = $5; match($0, /API\/floor [0-9.]+x/); floorratio = substr($0, RSTART + 10, RLENGTH - 10) }
    /^server RSS:/ { rss = $7 " " $8 }
    /^API assignment:/ { assign = $3; assignratio = $5 }
    /^queue fed:/ { fed = $3 }
    END { printf "%-6s %10s %10s %10s %10s %10s %10s %9s %10s %12s %10s\n", round, copy, upload, total, ratio, floor, floorratio, rss, assign, assignratio, fed }
  ' "$work/round-$i.txt"
done | tee "$work/table.txt"
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "median API/copy:  $(awk '{ sub(/x$/, "", $5); print $5 }' "$work/table.txt" | median)x"
echo "median API/floor: $(awk '{ sub(/x$/, "", $7); print $7 }' "$work/table.txt" | median)x"
echo "median assignment/placement: $(awk '{ sub(/x$/, "", $11); print $11 }' "$work/table.txt" | median)x"
