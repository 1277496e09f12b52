#!/bin/sh
# make bench: runs every benchmark in turn (one at a time: the machine has 2 cores).
# Each script prints its figures; bench/README.md records them with the command used.
set -eu
cd "$(dirname "$0")/.."
BUILD="${BUILD:-build}"
echo "== indicators (one core) =="
taskset -c 0 "$BUILD/bench/bench_indicators" 10000000 5
echo "== quality: judging every bar on the way in =="
"$BUILD/bench/bench_quality" 2000000 3
echo "== analytics pipeline: live update, correlation matrix, screen =="
taskset -c 0 "$BUILD/bench/bench_pipeline" 10000000 3
for s in bench/*.sh; do
    [ "$s" = bench/run.sh ] && continue
    echo "== $(basename "$s" .sh) =="
    sh "$s"
done
