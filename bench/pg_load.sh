#!/bin/sh
# PostgreSQL load benchmark (issue 5): `mdagent load` of a generated CSV of 2,028,000
# one-minute bars (4 symbols x 1300 trading days, one file with a symbol column) into
# PostgreSQL, against `psql \copy` of the same rows into the same table, in the same run.
#
# Its own PostgreSQL 15 (scripts/test-services.sh start-pg: a fresh cluster on a free
# loopback port; fsync=off as for the tests, the same for both sides). mdagent creates the
# schema (native partitions, month spans) once, untimed; before every timed run the tables
# are truncated (partitions kept) and a CHECKPOINT taken, so both sides start from the same
# empty table. The reference loads the same bars in the table's column order (gen_bars
# --table, timestamps written as timestamptz text) with \copy ... CSV. mdagent runs twice:
# as configured (postgresql.direct_copy=true: batches whose time ranges are empty are COPYed
# straight into bars) and with every batch through the staging table + INSERT ... ON
# CONFLICT (direct_copy=false). Runs alternate; each figure is the best of RUNS (default 3).
#   flock /work/bench.lock sh bench/pg_load.sh     (BUILD=build, BENCH_TMP=$BUILD/bench-tmp, RUNS=3)
set -eu
cd "$(dirname "$0")/.."
BUILD="${BUILD:-build}"
RUNS="${RUNS:-3}"
W="$(mkdir -p "${BENCH_TMP:-$BUILD/bench-tmp}/pg_load" && cd "${BENCH_TMP:-$BUILD/bench-tmp}/pg_load" && pwd)"
SERVICES=scripts/test-services.sh
cleanup() { "$SERVICES" stop "$W/pg" >/dev/null 2>&1 || true; rm -rf "$W"; }
trap cleanup EXIT INT TERM

"$BUILD/bench/gen_bars" --symbols 4 --days 1300 --seed 42 --file "$W/bars.csv" --table "$W/bars.tab" 2>"$W/gen.log"
ROWS=$(wc -l <"$W/bars.tab")
/usr/bin/python3 - "$W/bars.tab" "$W/bars.pg" <<'PY'
import sys, time
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as g:
    for line in f:
        a = line.split(",", 3)
        g.write(f"{a[0]},{a[1]},{time.strftime('%Y-%m-%d %H:%M:%S+00', time.gmtime(int(a[2])))},{a[3]}")
PY

"$SERVICES" start-pg "$W/pg" >/dev/null
BASE=$(sed -n 's/^MDTEST_PG_URL=//p' "$W/pg/env")
PGBIN=$(sed -n 's/^MDTEST_PG_BIN=//p' "$W/pg/env")
PSQL="$PGBIN/psql -X -q -A -t -v ON_ERROR_STOP=1"
$PSQL -d "$BASE" -c "CREATE DATABASE bench"
URL="${BASE%/*}/bench"

# the schema and its partitions, made by mdagent once (also warms the server up)
"$BUILD/mdagent" load "$W/bars.csv" --db "$URL" --quiet 2>"$W/warm.log"

now() { date +%s.%N; }
prep() {
    $PSQL -d "$URL" -c "SET client_min_messages = warning" \
        -c "TRUNCATE bars, series, quotes, load_marks, symbols RESTART IDENTITY CASCADE" \
        -c "CHECKPOINT"
}
timed() { # timed cmd... -> seconds
    prep
    t0=$(now)
    "$@"
    t1=$(now)
    awk "BEGIN { print $t1 - $t0 }"
}
min() { if [ -z "$1" ] || [ "$(awk "BEGIN { print ($2 < $1) }")" = 1 ]; then echo "$2"; else echo "$1"; fi; }
count() { $PSQL -d "$URL" -c "SELECT count(*) FROM bars"; }

md_load() { "$BUILD/mdagent" load "$W/bars.csv" --db "$URL" --quiet 2>"$W/md.log"; }
md_stage() { "$BUILD/mdagent" load "$W/bars.csv" --db "$URL" --quiet --set postgresql.direct_copy=false 2>"$W/stage.log"; }
ref_copy() {
    $PSQL -d "$URL" -c "\\copy bars(symbol_id, iv, ts, open, high, low, close, volume, vwap, trades, source, quality) FROM '$W/bars.pg' CSV"
}

T_MD="" T_REF="" T_STG=""
i=0
while [ "$i" -lt "$RUNS" ]; do
    T_MD=$(min "$T_MD" "$(timed md_load)");   N_MD=$(count)
    T_REF=$(min "$T_REF" "$(timed ref_copy)"); N_REF=$(count)
    T_STG=$(min "$T_STG" "$(timed md_stage)"); N_STG=$(count)
    i=$((i + 1))
done

if [ "$N_MD" != "$ROWS" ] || [ "$N_REF" != "$ROWS" ] || [ "$N_STG" != "$ROWS" ]; then
    echo "pg_load: row counts differ: rows=$ROWS mdagent=$N_MD copy=$N_REF staging=$N_STG" >&2
    exit 1
fi
rate() { awk "BEGIN { printf \"%.0f\", $ROWS / $1 }"; }
echo "rows: $ROWS (2,028,000 one-minute bars, 4 symbols, one CSV file), best of $RUNS, $(nproc) cores, PostgreSQL $($PSQL -d "$URL" -c 'SHOW server_version' | cut -d' ' -f1)"
printf "%-50s %8.2f s %10s rows/s\n" "mdagent load (direct COPY when ranges are empty)" "$T_MD" "$(rate "$T_MD")"
printf "%-50s %8.2f s %10s rows/s\n" "psql \\copy of the same rows into bars" "$T_REF" "$(rate "$T_REF")"
printf "%-50s %8.2f s %10s rows/s\n" "mdagent load (staging table + ON CONFLICT upsert)" "$T_STG" "$(rate "$T_STG")"
printf "ratio mdagent / \\\\copy: %.2fx (target >= 0.9x); staging path: %.2fx\n" \
    "$(awk "BEGIN { print $T_REF / $T_MD }")" "$(awk "BEGIN { print $T_REF / $T_STG }")"
