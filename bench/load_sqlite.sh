#!/bin/sh
# Load benchmark (issue 2): `mdagent load` of a generated CSV of 2,028,000 one-minute bars
# (4 symbols x 1300 trading days, one file with a symbol column) into the embedded store,
# against `sqlite3 .import` of the same rows into the same table, in the same run.
#
# The reference gets the same table (the bars schema read back from the store mdagent made)
# in a database with the store's settings (16 KiB pages, WAL, synchronous=NORMAL, 64 MiB
# cache), and once more with the sqlite3 shell's defaults. The rows it imports are the same
# bars in the table's column order (gen_bars --table). Each figure is the best of RUNS runs
# (default 3) of the whole command, wall clock, from a fresh database.
#   sh bench/load_sqlite.sh            (BUILD=build, BENCH_TMP=$BUILD/bench-tmp, RUNS=3)
set -eu
cd "$(dirname "$0")/.."
BUILD="${BUILD:-build}"
RUNS="${RUNS:-3}"
W="${BENCH_TMP:-$BUILD/bench-tmp}/load_sqlite"
rm -rf "$W"
mkdir -p "$W"
trap 'rm -rf "$W"' EXIT

"$BUILD/bench/gen_bars" --symbols 4 --days 1300 --seed 42 --file "$W/bars.csv" --table "$W/bars.tab" 2>"$W/gen.log"
ROWS=$(wc -l <"$W/bars.tab")

now() { date +%s.%N; }
best() { # best "cmd..." -> seconds (minimum over RUNS); runs prep() before each run
    b=""
    i=0
    while [ "$i" -lt "$RUNS" ]; do
        prep
        t0=$(now)
        "$@"
        t1=$(now)
        t=$(awk "BEGIN { print $t1 - $t0 }")
        if [ -z "$b" ] || [ "$(awk "BEGIN { print ($t < $b) }")" = 1 ]; then b=$t; fi
        i=$((i + 1))
    done
    echo "$b"
}

# mdagent
prep() { rm -f "$W/md.db" "$W/md.db-wal" "$W/md.db-shm"; }
md_load() { "$BUILD/mdagent" load "$W/bars.csv" --db "sqlite:$W/md.db" --quiet 2>"$W/md.log"; }
T_MD=$(best md_load)
N_MD=$(sqlite3 "$W/md.db" "SELECT count(*) FROM bars")
sqlite3 "$W/md.db" ".schema bars" >"$W/schema.sql"

# sqlite3 .import, the store's settings
prep() {
    rm -f "$W/ref.db" "$W/ref.db-wal" "$W/ref.db-shm"
    sqlite3 "$W/ref.db" "PRAGMA page_size=16384; PRAGMA journal_mode=WAL;" >/dev/null
    sqlite3 "$W/ref.db" <"$W/schema.sql"
}
imp_same() {
    sqlite3 "$W/ref.db" -cmd "PRAGMA synchronous=NORMAL" -cmd "PRAGMA cache_size=-65536" \
        ".import --csv $W/bars.tab bars"
}
T_REF=$(best imp_same)
N_REF=$(sqlite3 "$W/ref.db" "SELECT count(*) FROM bars")

# sqlite3 .import, the shell's defaults (4 KiB pages, rollback journal, synchronous=FULL)
prep() { rm -f "$W/def.db" "$W/def.db-journal"; sqlite3 "$W/def.db" <"$W/schema.sql"; }
imp_def() { sqlite3 "$W/def.db" ".import --csv $W/bars.tab bars"; }
T_DEF=$(best imp_def)
N_DEF=$(sqlite3 "$W/def.db" "SELECT count(*) FROM bars")

if [ "$N_MD" != "$ROWS" ] || [ "$N_REF" != "$ROWS" ] || [ "$N_DEF" != "$ROWS" ]; then
    echo "load_sqlite: row counts differ: rows=$ROWS mdagent=$N_MD import=$N_REF import-default=$N_DEF" >&2
    exit 1
fi
rate() { awk "BEGIN { printf \"%.0f\", $ROWS / $1 }"; }
R_MD=$(rate "$T_MD")
R_REF=$(rate "$T_REF")
R_DEF=$(rate "$T_DEF")
echo "rows: $ROWS (2,028,000 one-minute bars, 4 symbols, one CSV file), best of $RUNS, $(nproc) cores"
printf "%-44s %8.2f s %10s rows/s\n" "mdagent load" "$T_MD" "$R_MD"
printf "%-44s %8.2f s %10s rows/s\n" "sqlite3 .import (store settings)" "$T_REF" "$R_REF"
printf "%-44s %8.2f s %10s rows/s\n" "sqlite3 .import (shell defaults)" "$T_DEF" "$R_DEF"
printf "ratio mdagent / .import: %.2fx (store settings), %.2fx (shell defaults)\n" \
    "$(awk "BEGIN { print $T_REF / $T_MD }")" "$(awk "BEGIN { print $T_DEF / $T_MD }")"
