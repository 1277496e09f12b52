#!/bin/sh
# Runs what checks mdagent against a real TimescaleDB, where one is installed:
#   - the storage suite (test_store_pg; its TimescaleDB cases skip on a server that does not
#     preload TimescaleDB, so the fixture is started with MDTEST_PG_PRELOAD=timescaledb),
#   - e2e.test_timescaledb (byte-for-byte /historical and /symbols against SQLite, aggregates
#     after a load, jobs in /health and /metrics),
#   - bench_store_read on a TimescaleDB and on a native-partition database (on-the-fly against
#     rollups, one year of 1d and 1h bars from 1m data).
#   scripts/timescaledb-check.sh [BUILD_DIR]     (default build; bench RUNS from $RUNS, 20)
# TimescaleDB is not packaged in Debian 12: README.md (PostgreSQL, "Checking against a real
# TimescaleDB") says how to build it. Exits 77 when it is not installed.
set -eu
src="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "${1:-$src/build}" && pwd)"
PGBIN="${PGBIN:-/usr/lib/postgresql/15/bin}"
share="$("$PGBIN/pg_config" --sharedir 2>/dev/null || echo /usr/share/postgresql/15)"
if [ ! -f "$share/extension/timescaledb.control" ]; then
    echo "timescaledb-check: TimescaleDB is not installed for $PGBIN ($share/extension has no" \
        "timescaledb.control); build it from source as README.md says. Nothing was checked." >&2
    exit 77
fi
echo "timescaledb-check: TimescaleDB $(sed -n "s/^default_version = '\(.*\)'/\1/p" \
    "$share/extension/timescaledb.control") in $share"

echo "== storage suite and e2e on a server preloading timescaledb"
(cd "$build" && MDTEST_PG_PRELOAD=timescaledb ctest --output-on-failure \
    -R '^(unit\.test_store_pg|e2e\.test_timescaledb)$')

echo "== bench_store_read"
state="$(mktemp -d "${TMPDIR:-/tmp}/md-tsdb-bench.XXXXXX")"
trap '"$src/scripts/test-services.sh" stop "$state" >/dev/null 2>&1 || true; rm -rf "$state"' EXIT
MDTEST_PG_PRELOAD=timescaledb "$src/scripts/test-services.sh" start-pg "$state"
url="$(sed -n 's/^MDTEST_PG_URL=//p' "$state/env")"
base="${url%/*}"
"$PGBIN/psql" -q -d "$url" -c "CREATE DATABASE bench_ts" -c "CREATE DATABASE bench_native"
runs="${RUNS:-20}"
echo "-- TimescaleDB"
MDAGENT_PG_TIMESCALEDB=on "$build/bench/bench_store_read" "$base/bench_ts" "$runs"
echo "-- PostgreSQL, native partitions"
MDAGENT_PG_TIMESCALEDB=off "$build/bench/bench_store_read" "$base/bench_native" "$runs"
