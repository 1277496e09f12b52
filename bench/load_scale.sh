#!/bin/sh
# Bulk load at scale (issue 7): ten years of one-minute bars for 20 symbols (20,350,200 rows,
# trading hours, one CSV file per symbol) loaded by `mdagent load DIR` into each backend,
# against the reference loader of that backend in the same run:
#   SQLite      `sqlite3 .import` of the same rows into the same table (the bars schema
#               read back from mdagent's store, in a database with the store's settings)
#   PostgreSQL  `psql \copy` of the same rows into the same table (the schema, partitions
#               included, dumped from mdagent's database with pg_dump --schema-only)
# Figures: wall time and rows/s of each, mdagent's peak resident memory (/usr/bin/time -v),
# and the ratios. PostgreSQL is a private server started like the tests start theirs
# (scripts/test-services.sh: loopback, its own port, fsync off for both loaders).
#   sh bench/load_scale.sh     (BUILD=build, BENCH_TMP=$BUILD/bench-tmp, DAYS=2609, SKIP_PG=)
set -eu
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
BUILD="${BUILD:-build}"
DAYS="${DAYS:-2609}"
W="${BENCH_TMP:-$BUILD/bench-tmp}/load_scale"
rm -rf "$W"
mkdir -p "$W/csv"
W="$(cd "$W" && pwd)"
cleanup() {
    if [ -f "$W/svc/env" ]; then "$ROOT/scripts/test-services.sh" stop "$W/svc" >/dev/null 2>&1 || true; fi
    # a server that just stopped may still be writing its last files: try again briefly
    for _ in 1 2 3 4 5; do rm -rf "$W" 2>/dev/null && break; sleep 1; done
}
trap cleanup EXIT

"$BUILD/bench/gen_bars" --symbols 20 --days "$DAYS" --seed 7 --dir "$W/csv" --table "$W/bars.tab" \
    --pgtable "$W/bars.pgtab" 2>"$W/gen.log"
ROWS=$(wc -l <"$W/bars.tab")
BYTES=$(du -sb "$W/csv" | cut -f1)

now() { date +%s.%N; }
secs() { awk "BEGIN { print $2 - $1 }"; }
rate() { awk "BEGIN { printf \"%.0f\", $ROWS / $1 }"; }
rss_mb() { awk '/Maximum resident set size/ { printf "%.0f", $NF / 1024 }' "$1"; }
check() { # check NAME COUNT
    if [ "$2" != "$ROWS" ]; then echo "load_scale: $1 stored $2 rows, want $ROWS" >&2; exit 1; fi
}

echo "rows: $ROWS (20 symbols x $DAYS trading days x 390 one-minute bars), $((BYTES / 1048576)) MiB of CSV in 20 files, $(nproc) cores"

# -- SQLite -----------------------------------------------------------------------------------
t0=$(now)
/usr/bin/time -v -o "$W/md.time" "$BUILD/mdagent" load "$W/csv" --db "sqlite:$W/md.db" --quiet 2>"$W/md.log"
T_MD=$(secs "$t0" "$(now)")
check "mdagent (sqlite)" "$(sqlite3 "$W/md.db" "SELECT count(*) FROM bars")"
sqlite3 "$W/md.db" ".schema bars" >"$W/schema.sql"
RSS_MD=$(rss_mb "$W/md.time")
rm -f "$W/md.db" "$W/md.db-wal" "$W/md.db-shm"

sqlite3 "$W/ref.db" "PRAGMA page_size=16384; PRAGMA journal_mode=WAL;" >/dev/null
sqlite3 "$W/ref.db" <"$W/schema.sql"
t0=$(now)
sqlite3 "$W/ref.db" -cmd "PRAGMA synchronous=NORMAL" -cmd "PRAGMA cache_size=-65536" \
    ".import --csv $W/bars.tab bars"
T_IMP=$(secs "$t0" "$(now)")
check "sqlite3 .import" "$(sqlite3 "$W/ref.db" "SELECT count(*) FROM bars")"
rm -f "$W/ref.db" "$W/ref.db-wal" "$W/ref.db-shm" "$W/bars.tab"

printf "%-34s %8.1f s %10s rows/s  peak RSS %s MiB\n" "mdagent load -> sqlite" "$T_MD" "$(rate "$T_MD")" "$RSS_MD"
printf "%-34s %8.1f s %10s rows/s\n" "sqlite3 .import" "$T_IMP" "$(rate "$T_IMP")"
printf "ratio mdagent / .import: %.2fx\n" "$(awk "BEGIN { print $T_IMP / $T_MD }")"

# -- PostgreSQL -------------------------------------------------------------------------------
if [ -n "${SKIP_PG:-}" ]; then exit 0; fi
"$ROOT/scripts/test-services.sh" start "$W/svc" >/dev/null
. "$W/svc/env"
PGBIN="$MDTEST_PG_BIN"
BASE="postgresql://mdagent@127.0.0.1:$MDTEST_PG_PORT"
"$PGBIN/createdb" -h 127.0.0.1 -p "$MDTEST_PG_PORT" -U mdagent md_load
"$PGBIN/createdb" -h 127.0.0.1 -p "$MDTEST_PG_PORT" -U mdagent md_copy

t0=$(now)
/usr/bin/time -v -o "$W/pg.time" "$BUILD/mdagent" load "$W/csv" --db "$BASE/md_load" --quiet 2>"$W/pg.log"
T_PG=$(secs "$t0" "$(now)")
check "mdagent (postgresql)" "$(psql -Atq "$BASE/md_load" -c "SELECT count(*) FROM bars")"
RSS_PG=$(rss_mb "$W/pg.time")

"$PGBIN/pg_dump" --schema-only "$BASE/md_load" | psql -q "$BASE/md_copy" >/dev/null
t0=$(now)
psql -q "$BASE/md_copy" -c "\\copy bars(symbol_id, iv, ts, open, high, low, close, volume, vwap, trades, source, quality) FROM '$W/bars.pgtab' (FORMAT csv)"
T_COPY=$(secs "$t0" "$(now)")
check "psql \\copy" "$(psql -Atq "$BASE/md_copy" -c "SELECT count(*) FROM bars")"

printf "%-34s %8.1f s %10s rows/s  peak RSS %s MiB\n" "mdagent load -> postgresql" "$T_PG" "$(rate "$T_PG")" "$RSS_PG"
printf "%-34s %8.1f s %10s rows/s\n" "psql \\copy" "$T_COPY" "$(rate "$T_COPY")"
printf "ratio mdagent / \\copy: %.2fx\n" "$(awk "BEGIN { print $T_COPY / $T_PG }")"
