#!/bin/sh
# Starts (or stops) a private PostgreSQL and Redis on loopback for the test suite.
#   scripts/test-services.sh start STATE_DIR     writes STATE_DIR/env (MDTEST_PG_URL, MDTEST_REDIS_URL)
#   scripts/test-services.sh stop  STATE_DIR
#   scripts/test-services.sh start-pg STATE_DIR  PostgreSQL only (a test's or a benchmark's own)
#   scripts/test-services.sh pg-down STATE_DIR   stops that PostgreSQL, keeping its data
#   scripts/test-services.sh pg-up STATE_DIR     starts it again on the same port
# PostgreSQL refuses to run as root, so as root the cluster belongs to the postgres user.
# Its data and socket directories therefore live in a private directory under /tmp
# (mktemp, owned by postgres), not in STATE_DIR: a checkout under /root (mode 700) is out of
# the postgres user's reach. STATE_DIR/pg.dir names that directory for stop, pg-down and
# pg-up; stop removes it. Ports are picked free at start time, so several runs can coexist.
set -eu
cmd="$1"
state="$(mkdir -p "$2" && cd "$2" && pwd)"
PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# The cluster's directory (data/, sock/, server.log), empty when none was started.
pg_dir() {
    if [ -f "$state/pg.dir" ]; then cat "$state/pg.dir"; fi
}

pg_down() {
    dir="$(pg_dir)"
    if [ -n "$dir" ] && [ -f "$dir/data/postmaster.pid" ]; then
        as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
}

pg_up() {
    dir="$(pg_dir)"
    pgport="$(cat "$state/pg.port")"
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
        -o "-p $pgport -k $dir/sock -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null \
        || { cat "$dir/server.log" >&2; exit 1; }
}

stop() {
    pg_down
    dir="$(pg_dir)"
    case "$dir" in /tmp/mdtest-pg.*) rm -rf "$dir" ;; esac
    rm -f "$state/pg.dir"
    if [ -f "$state/redis.pid" ]; then
        kill "$(cat "$state/redis.pid")" 2>/dev/null || true
        rm -f "$state/redis.pid"
    fi
}

start_pg() {
    rm -rf "$state/pgdata" "$state/pgsock" "$state/env" # left by the layout before pg.dir
    dir="$(mktemp -d /tmp/mdtest-pg.XXXXXX)"
    echo "$dir" >"$state/pg.dir"
    mkdir "$dir/data" "$dir/sock"
    if [ "$(id -u)" = 0 ]; then chown -R postgres:postgres "$dir"; fi
    pgport=$(free_port)
    echo "$pgport" >"$state/pg.port"
    as_pg "$PGBIN/initdb" -D "$dir/data" -U mdagent --auth=trust -E UTF8 >"$state/initdb.log" 2>&1 \
        || { cat "$state/initdb.log"; exit 1; }
    pg_up
    "$PGBIN/createdb" -h 127.0.0.1 -p "$pgport" -U mdagent mdagent
    cat >"$state/env" <<ENV
MDTEST_PG_URL=postgresql://mdagent@127.0.0.1:$pgport/mdagent
MDTEST_PG_PORT=$pgport
MDTEST_PG_DATA=$dir/data
MDTEST_PG_BIN=$PGBIN
ENV
}

case "$cmd" in
start)
    stop
    start_pg
    redisport=$(free_port)
    redis-server --port "$redisport" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
        --pidfile "$state/redis.pid" --logfile "$state/redis.log" --dir "$state"
    i=0; until redis-cli -p "$redisport" ping >/dev/null 2>&1; do i=$((i+1)); [ $i -gt 50 ] && exit 1; sleep 0.1; done
    cat >>"$state/env" <<ENV
MDTEST_REDIS_URL=redis://127.0.0.1:$redisport/0
MDTEST_REDIS_PORT=$redisport
ENV
    echo "test services: postgresql on 127.0.0.1:$(cat "$state/pg.port"), redis on 127.0.0.1:$redisport"
    ;;
start-pg)
    stop
    start_pg
    echo "postgresql on 127.0.0.1:$(cat "$state/pg.port")"
    ;;
pg-down)
    pg_down
    ;;
pg-up)
    pg_up
    ;;
stop)
    stop
    ;;
*)
    echo "usage: $0 start|stop|start-pg|pg-down|pg-up STATE_DIR" >&2; exit 2 ;;
esac
