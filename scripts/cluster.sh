#!/bin/sh
# Several agents on one machine: three `mdagent serve` behind HAProxy, PostgreSQL with one
# streaming replica, and Redis, all on loopback. README "Several agents on one machine".
#   scripts/cluster.sh up     [--dir DIR] [--agents N] [--bin PATH]
#   scripts/cluster.sh status [--dir DIR]
#   scripts/cluster.sh down   [--dir DIR]
#   scripts/cluster.sh replica stop|start [--dir DIR]   (chaos: the agents read from the
#                                                      primary meanwhile)
#   scripts/cluster.sh redis stop|start [--dir DIR]     (chaos: a restart forgets everything)
# DIR (--dir, else $MDCLUSTER_DIR, else for `up` a new mktemp directory, printed) holds the
# state: pid and port files, logs, haproxy.cfg, api_key and env (MDCLUSTER_FRONT_URL,
# MDCLUSTER_STATS_URL, MDCLUSTER_PG_URL, MDCLUSTER_PG_REPLICA_URL, MDCLUSTER_REDIS_URL,
# MDCLUSTER_NAMESPACE: the agents' redis.namespace, MDAGENT_REDIS_NAMESPACE or "mdcluster").
# `down` stops only what `up` started: every pid in DIR is checked against the program it
# must be before it is signalled, so a recycled pid is never killed.
# The agents inherit the caller's environment (MDAGENT_* settings, e.g. an empty
# MDAGENT_SOURCES_PRIORITY for no providers); MDAGENT_API_KEYS defaults to a fresh key in
# DIR/api_key. As root, PostgreSQL runs as the postgres user in a /tmp directory it owns
# (the same reason as scripts/test-services.sh).
set -eu
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cmd="${1:-}"
[ $# -gt 0 ] && shift
sub=""
if [ "$cmd" = replica ] || [ "$cmd" = redis ]; then sub="${1:-}"; [ $# -gt 0 ] && shift; fi
dir="${MDCLUSTER_DIR:-}"
agents=3
bin="${MDAGENT_BIN:-$ROOT/build/mdagent}"
while [ $# -gt 0 ]; do
    case "$1" in
    --dir) dir="$2"; shift 2 ;;
    --agents) agents="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    *) echo "cluster: unknown option $1" >&2; exit 2 ;;
    esac
done
PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"

usage() {
    echo "usage: $0 up|down|status|replica stop|start|redis stop|start [--dir DIR] [--agents N] [--bin PATH]" >&2
    exit 2
}

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# alive PIDFILE PROGRAM: 0 when the pid in PIDFILE runs PROGRAM (its command name, not its
# executable: redis-server is a link to redis-check-rdb), i.e. it is still the process we
# started.
alive() {
    [ -f "$1" ] || return 1
    pid="$(cat "$1" 2>/dev/null)" # redis-server removes its own pid file as it exits
    [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] || return 1
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]
}

# stop_pid PIDFILE PROGRAM: SIGTERM, then SIGKILL after 15 s.
stop_pid() {
    if alive "$1" "$2"; then
        pid="$(cat "$1")"
        kill -TERM "$pid" 2>/dev/null || true
        i=0
        while alive "$1" "$2" && [ $i -lt 150 ]; do i=$((i + 1)); sleep 0.1; done
        if alive "$1" "$2"; then kill -KILL "$pid" 2>/dev/null || true; fi
    fi
    rm -f "$1"
}

# all_up STATS_CSV_URL N: 0 when HAProxy reports N agents UP
all_up() {
    [ "$(curl -s --max-time 2 "$1" | grep -c '^agents,agent[0-9]*,.*,UP,')" -eq "$2" ]
}

wait_for() { # wait_for SECONDS COMMAND...: retries COMMAND every 0.1 s
    n=$(($1 * 10)); shift
    i=0
    until "$@" >/dev/null 2>&1; do
        i=$((i + 1)); [ $i -gt $n ] && return 1
        sleep 0.1
    done
}

redis_start() { # redis_start PORT: no persistence (a restart forgets everything)
    redis-server --port "$1" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
        --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir"
    wait_for 10 redis-cli -p "$1" ping || { echo "cluster: redis did not start" >&2; return 1; }
}

pg_start() { # pg_start DATA PORT LOG
    as_pg "$PGBIN/pg_ctl" -D "$1" -l "$3" -w -o "-p $2 -k $pgdir/sock -c listen_addresses=127.0.0.1 \
-c fsync=off -c max_connections=200" start >/dev/null || { cat "$3" >&2; return 1; }
}

# pg_start_free DATA LOG, redis_start_free: start on a free port, up to 3 ports (another
# process may take one between free_port and the server's bind); print the port.
pg_start_free() {
    for _ in 1 2 3; do
        p=$(free_port)
        if pg_start "$1" "$p" "$2" >&2; then echo "$p"; return 0; fi
        echo "cluster: postgres did not start on port $p; another port" >&2
    done
    return 1
}

redis_start_free() {
    for _ in 1 2 3; do
        p=$(free_port)
        if redis_start "$p" >&2; then echo "$p"; return 0; fi
        echo "cluster: redis did not start on port $p; another port" >&2
    done
    return 1
}

pg_stop() { # pg_stop DATA
    if [ -f "$1/postmaster.pid" ]; then
        as_pg "$PGBIN/pg_ctl" -D "$1" -m fast -w stop >/dev/null 2>&1 || true
    fi
}

up() {
    if [ -z "$dir" ]; then dir="$(mktemp -d /tmp/mdcluster.XXXXXX)"; fi
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    if [ -f "$dir/env" ]; then echo "cluster: $dir already holds a cluster (down first)" >&2; exit 1; fi
    [ -x "$bin" ] || { echo "cluster: no agent binary at $bin (make build, or --bin)" >&2; exit 1; }
    command -v haproxy >/dev/null || { echo "cluster: haproxy missing (scripts/install-deps.sh)" >&2; exit 1; }

    # PostgreSQL primary, then a streaming replica cloned from it (pg_basebackup -R writes
    # primary_conninfo and standby.signal). initdb's default pg_hba trusts replication
    # connections from 127.0.0.1, and wal_level=replica is the default.
    pgdir="$(mktemp -d /tmp/mdcluster-pg.XXXXXX)"
    echo "$pgdir" >"$dir/pg.dir"
    mkdir "$pgdir/sock"
    if [ "$(id -u)" = 0 ]; then chown -R postgres:postgres "$pgdir"; fi
    as_pg "$PGBIN/initdb" -D "$pgdir/primary" -U mdagent --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    pgport=$(pg_start_free "$pgdir/primary" "$pgdir/primary.log") || exit 1
    echo "$pgport" >"$dir/pg.port"
    "$PGBIN/createdb" -h 127.0.0.1 -p "$pgport" -U mdagent mdagent
    as_pg "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$pgport" -U mdagent -D "$pgdir/replica" -R -X stream \
        -c fast >"$dir/basebackup.log" 2>&1 || { cat "$dir/basebackup.log" >&2; exit 1; }
    replport=$(pg_start_free "$pgdir/replica" "$pgdir/replica.log") || exit 1
    echo "$replport" >"$dir/pg-replica.port"

    redisport=$(redis_start_free) || exit 1
    echo "$redisport" >"$dir/redis.port"

    pg_url="postgresql://mdagent@127.0.0.1:$pgport/mdagent"
    if [ -z "${MDAGENT_API_KEYS:-}" ]; then
        (umask 077 && od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$dir/api_key")
        MDAGENT_API_KEYS="$(cat "$dir/api_key")"
    fi
    export MDAGENT_API_KEYS

    # Agents listen on port 0 and report the port the kernel gave them; all write to the
    # primary and read history, symbols and quality from the replica while it keeps up
    # (postgresql.read_url; a caller's MDAGENT_DB_READ wins); all share the store,
    # Redis (cache, fan-out, leases) and the stream channel. They are one deployment: one
    # redis.namespace (stream channel, shared provider budgets), named here rather than
    # derived from cache.prefix, so a caller whose environment varies the prefix still gets
    # one deployment; a caller's own MDAGENT_REDIS_NAMESPACE wins.
    MDAGENT_REDIS_NAMESPACE="${MDAGENT_REDIS_NAMESPACE:-mdcluster}"
    export MDAGENT_REDIS_NAMESPACE
    i=1
    while [ "$i" -le "$agents" ]; do
        a="$dir/agent$i"
        mkdir -p "$a"
        rm -f "$a/port"
        setsid "$bin" serve --db "$pg_url" --redis "redis://127.0.0.1:$redisport/0" \
            --db-read "${MDAGENT_DB_READ:-postgresql://mdagent@127.0.0.1:$replport/mdagent}" --listen 127.0.0.1:0 --port-file "$a/port" >"$a/log" 2>&1 </dev/null &
        echo $! >"$a/pid"
        i=$((i + 1))
    done
    i=1
    while [ "$i" -le "$agents" ]; do
        a="$dir/agent$i"
        wait_for 60 test -s "$a/port" || { echo "cluster: agent$i did not start:" >&2; cat "$a/log" >&2; exit 1; }
        i=$((i + 1))
    done

    # HAProxy. Timeouts: `timeout tunnel` keeps WebSockets (upgraded connections) open for
    # an hour of silence; client/server timeouts bound plain HTTP. Health checks probe
    # /health/ready every 500 ms: an agent that is starting, lost its store or drains after
    # SIGTERM (its /health/ready answers 503; it still serves what reaches it during the
    # grace) leaves the rotation after 2 failures and rejoins after 2 successes. L7 retries
    # resend a request that found a dead connection, no answer or a 503 (an overloaded
    # agent) to another agent (redispatch on every retry): safe only for
    # requests that can run twice, so they are limited to GET/HEAD/OPTIONS and the ingest
    # endpoints, which are upserts on (symbol, interval, timestamp) (docs/API.md).
    # http-buffer-request: HAProxy keeps a request for a retry only when its body was whole
    # when first sent, so it waits for the body before picking an agent (an ingest POST whose
    # body came a moment after its headers could otherwise not be retried).
    front=$(free_port)
    stats=$(free_port)
    {
        cat <<CFG
global
    maxconn 4096
    log stdout format raw local0 notice

defaults
    mode http
    log global
    option dontlognull
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout client-fin 5s
    timeout tunnel 1h
    retries 3
    option redispatch 1
    retry-on all-retryable-errors
    option http-buffer-request

frontend front
    bind 127.0.0.1:$front
    acl idempotent method GET HEAD OPTIONS
    acl ingest path_beg /ingest/
    http-request disable-l7-retry unless idempotent || ingest
    default_backend agents

backend agents
    balance roundrobin
    option httpchk GET /health/ready
    http-check expect status 200
    default-server inter 500ms fastinter 250ms downinter 500ms fall 2 rise 2
CFG
        i=1
        while [ "$i" -le "$agents" ]; do
            echo "    server agent$i 127.0.0.1:$(cat "$dir/agent$i/port") check"
            i=$((i + 1))
        done
        cat <<CFG

listen stats
    bind 127.0.0.1:$stats
    stats enable
    stats uri /stats
    stats refresh 5s
CFG
    } >"$dir/haproxy.cfg"
    haproxy -q -c -f "$dir/haproxy.cfg" >/dev/null || { haproxy -c -f "$dir/haproxy.cfg" >&2; exit 1; }
    haproxy -f "$dir/haproxy.cfg" -D -p "$dir/haproxy.pid" >"$dir/haproxy.log" 2>&1 </dev/null
    echo "$front" >"$dir/front.port"
    echo "$stats" >"$dir/stats.port"

    cat >"$dir/env" <<ENV
MDCLUSTER_FRONT_URL=http://127.0.0.1:$front
MDCLUSTER_STATS_URL=http://127.0.0.1:$stats/stats
MDCLUSTER_PG_URL=$pg_url
MDCLUSTER_PG_REPLICA_URL=postgresql://mdagent@127.0.0.1:$replport/mdagent
MDCLUSTER_REDIS_URL=redis://127.0.0.1:$redisport/0
MDCLUSTER_AGENTS=$agents
MDCLUSTER_NAMESPACE=$MDAGENT_REDIS_NAMESPACE
ENV
    # ready when every agent passed HAProxy's health check
    wait_for 60 all_up "http://127.0.0.1:$stats/stats;csv" "$agents" \
        || { echo "cluster: agents not all up behind haproxy" >&2; status; exit 1; }
    echo "cluster: $dir"
    echo "front: http://127.0.0.1:$front"
}

status() {
    [ -n "$dir" ] && [ -f "$dir/env" ] || { echo "cluster: no cluster in '${dir}'" >&2; exit 1; }
    . "$dir/env"
    echo "front: $MDCLUSTER_FRONT_URL (stats $MDCLUSTER_STATS_URL)"
    csv="$(curl -s --max-time 2 "$MDCLUSTER_STATS_URL;csv" || true)"
    if alive "$dir/haproxy.pid" haproxy; then echo "haproxy: running pid $(cat "$dir/haproxy.pid")"; else echo "haproxy: stopped"; fi
    i=1
    while [ "$i" -le "$MDCLUSTER_AGENTS" ]; do
        a="$dir/agent$i"
        port="$(cat "$a/port" 2>/dev/null || echo '?')"
        lb="$(echo "$csv" | awk -F, -v s="agent$i" '$1=="agents" && $2==s {print $18}')"
        if alive "$a/pid" mdagent; then
            ready="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/health/ready" || true)"
            echo "agent$i: running pid $(cat "$a/pid") 127.0.0.1:$port ready=$ready haproxy=${lb:-?}"
        else
            echo "agent$i: stopped (127.0.0.1:$port) haproxy=${lb:-?}"
        fi
        i=$((i + 1))
    done
    pgdir="$(cat "$dir/pg.dir" 2>/dev/null || true)"
    for part in primary replica; do
        if [ "$part" = primary ]; then port="$(cat "$dir/pg.port")"; else port="$(cat "$dir/pg-replica.port")"; fi
        if "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$port" 2>/dev/null; then
            rec="$("$PGBIN/psql" -X -A -t -h 127.0.0.1 -p "$port" -U mdagent -d mdagent -c 'select pg_is_in_recovery()' 2>/dev/null || true)"
            extra=""
            if [ "$part" = primary ]; then
                extra=" replicas_streaming=$("$PGBIN/psql" -X -A -t -h 127.0.0.1 -p "$port" -U mdagent -d mdagent \
                    -c "select count(*) from pg_stat_replication where state='streaming'" 2>/dev/null || echo '?')"
            fi
            echo "postgresql $part: running 127.0.0.1:$port in_recovery=$rec$extra"
        else
            echo "postgresql $part: stopped (127.0.0.1:$port)"
        fi
    done
    rport="$(cat "$dir/redis.port")"
    if alive "$dir/redis.pid" redis-server; then echo "redis: running 127.0.0.1:$rport"; else echo "redis: stopped (127.0.0.1:$rport)"; fi
}

down() {
    [ -n "$dir" ] && [ -d "$dir" ] || { echo "cluster: no cluster in '${dir}'" >&2; exit 1; }
    stop_pid "$dir/haproxy.pid" haproxy
    for a in "$dir"/agent*; do
        [ -d "$a" ] && stop_pid "$a/pid" mdagent
    done
    stop_pid "$dir/redis.pid" redis-server
    pgdir="$(cat "$dir/pg.dir" 2>/dev/null || true)"
    case "$pgdir" in
    /tmp/mdcluster-pg.*)
        pg_stop "$pgdir/replica"
        pg_stop "$pgdir/primary"
        cp "$pgdir"/*.log "$dir"/ 2>/dev/null || true
        rm -rf "$pgdir"
        ;;
    esac
    rm -f "$dir/pg.dir" "$dir/env"
    echo "cluster: stopped (logs kept in $dir)"
}

replica() {
    [ -n "$dir" ] && [ -f "$dir/env" ] || { echo "cluster: no cluster in '${dir}'" >&2; exit 1; }
    pgdir="$(cat "$dir/pg.dir")"
    case "$sub" in
    stop) pg_stop "$pgdir/replica" ;;
    start) pg_start "$pgdir/replica" "$(cat "$dir/pg-replica.port")" "$pgdir/replica.log" || exit 1 ;;
    *) usage ;;
    esac
    echo "cluster: replica ${sub}ped" | sed 's/startped/started/'
}

redis() {
    [ -n "$dir" ] && [ -f "$dir/env" ] || { echo "cluster: no cluster in '${dir}'" >&2; exit 1; }
    case "$sub" in
    stop) stop_pid "$dir/redis.pid" redis-server ;;
    start) redis_start "$(cat "$dir/redis.port")" || exit 1 ;;
    *) usage ;;
    esac
    echo "cluster: redis ${sub}ped" | sed 's/startped/started/'
}

case "$cmd" in
up) up ;;
replica) replica ;;
redis) redis ;;
status) status ;;
down) down ;;
*) usage ;;
esac
