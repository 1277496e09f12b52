#!/bin/sh
# WebSocket fan-out: mdagent's /stream against two reference broadcast servers fed the same
# ticks in the same run - Python `websockets` (Debian) and Node `ws` (npm, bench/node_modules).
#
#   bench/stream_fanout.sh                  1,000 clients (the default run)
#   bench/stream_fanout.sh --big            10,000 clients
#   bench/stream_fanout.sh --clients N --rate TICKS_PER_S --batch B --duration S --only mdagent,node
#   (servers: mdagent, mdagent-1msg = mdagent writing one message per send, python, node)
#
# Every client subscribes to every one of --symbols symbols (a watchlist); ticks arrive at
# --rate ticks/s in batches of --batch (one tick per symbol per batch, like a provider poll or
# a burst on the wire). mdagent is fed through POST /ingest/quotes (validated and stored in
# SQLite: its CPU includes that), the references through one WebSocket message per batch.
# Each server runs alone on CPU 0 (taskset; mdagent with --threads 1), the load client and
# feeder (build/bench/stream_client) on CPU 1, so the servers get the same single core.
# Figures: delivered messages/s, tick-to-client latency p50/p99/max (from the feeder's send to
# the client's read), and server CPU time per delivered message from /proc/<pid>/stat.
# Run it alone: flock /work/bench.lock bench/stream_fanout.sh
set -eu
cd "$(dirname "$0")/.."
BUILD="${BUILD:-build}"
CLIENTS=1000
RATE=20
BATCH=20
SYMBOLS=20
DURATION=20
WARMUP=3
ONLY="mdagent,python,node"
while [ $# -gt 0 ]; do
    case "$1" in
    --big) CLIENTS=10000; RATE=1; DURATION=60; WARMUP=10 ;;
    --clients) CLIENTS="$2"; shift ;;
    --rate) RATE="$2"; shift ;;
    --batch) BATCH="$2"; shift ;;
    --symbols) SYMBOLS="$2"; shift ;;
    --duration) DURATION="$2"; shift ;;
    --warmup) WARMUP="$2"; shift ;;
    --only) ONLY="$2"; shift ;;
    *) echo "usage: $0 [--big] [--clients N] [--rate R] [--batch B] [--symbols S] [--duration S] [--warmup S] [--only LIST]" >&2; exit 2 ;;
    esac
    shift
done

ulimit -n "$(ulimit -Hn)"
need=$((CLIENTS + 200))
if [ "$(ulimit -n)" -lt "$need" ]; then
    echo "stream_fanout: need $need open files, the limit is $(ulimit -n)" >&2
    exit 1
fi
[ -x "$BUILD/mdagent" ] || cmake --build "$BUILD" --target mdagent >/dev/null
cmake --build "$BUILD" --target stream_client >/dev/null
if [ ! -d bench/node_modules/ws ]; then
    (cd bench && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
CPUS=$(nproc)
SRV_CPU=0
CLI_CPU=$((CPUS > 1 ? 1 : 0))

tmp=$(mktemp -d /tmp/md-fanout.XXXXXX)
srv_pid=""
cleanup() {
    [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_port() {
    /usr/bin/python3 - "$1" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
for _ in range(300):
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
PY
}

run() { # name, feed kind, feed path, command...
    name=$1 feed=$2 fpath=$3
    shift 3
    port=$(free_port)
    taskset -c "$SRV_CPU" "$@" "$port" >"$tmp/$name.log" 2>&1 &
    srv_pid=$!
    if ! wait_port "$port"; then
        echo "stream_fanout: $name did not start:" >&2
        cat "$tmp/$name.log" >&2
        exit 1
    fi
    taskset -c "$CLI_CPU" "$BUILD/bench/stream_client" --port "$port" --feed-port "$port" \
        --feed "$feed" --feed-path "$fpath" --api-key benchkey --label "$name" \
        --server-pid "$srv_pid" --clients "$CLIENTS" --symbols "$SYMBOLS" --rate "$RATE" \
        --batch "$BATCH" --warmup "$WARMUP" --duration "$DURATION" | tee -a "$tmp/results"
    kill "$srv_pid" 2>/dev/null || true
    wait "$srv_pid" 2>/dev/null || true
    srv_pid=""
    sleep 1
}

echo "stream_fanout: $CLIENTS clients x $SYMBOLS symbols, $RATE ticks/s in batches of $BATCH," \
     "${DURATION}s window after ${WARMUP}s warm-up ($CPUS CPUs: server on $SRV_CPU, client on $CLI_CPU)"
: >"$tmp/results"
for s in $(echo "$ONLY" | tr ',' ' '); do
    case "$s" in
    mdagent | mdagent-1msg) # mdagent-1msg: one message per send (what coalescing saves)
        batch_bytes=16384
        [ "$s" = mdagent-1msg ] && batch_bytes=1
        rm -f "$tmp"/md.db*
        run "$s" http /ingest/quotes env MDAGENT_API_KEYS=benchkey sh -c \
            'exec "$1" serve --db "$2" --create --threads 1 --log-level warn --set "stream.write_batch_bytes=$3" --listen "127.0.0.1:$4"' \
            sh "$BUILD/mdagent" "sqlite:$tmp/md.db" "$batch_bytes" ;;
    python) run python ws /feed /usr/bin/python3 bench/ref/broadcast_ws.py ;;
    node) run node ws /feed node bench/ref/broadcast_ws.js ;;
    *) echo "stream_fanout: unknown server $s" >&2; exit 2 ;;
    esac
done

/usr/bin/python3 - "$tmp/results" <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]):
    if line.startswith("RESULT "):
        kv = dict(p.split("=", 1) for p in line.split()[1:])
        rows[kv["label"]] = kv
print()
print(f"{'server':8} {'msgs/s':>9} {'missing':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'cpu us/msg':>11}")
for name, r in rows.items():
    print(f"{name:8} {float(r['msgs_per_s']):9.0f} {r['missing']:>8} {float(r['p50_ms']):8.2f} "
          f"{float(r['p99_ms']):8.2f} {float(r['max_ms']):8.2f} {float(r['cpu_us_per_msg']):11.3f}")
m = rows.get("mdagent")
if m:
    for ref, target in (("python", 1 / 3), ("node", 1 / 2)):
        r = rows.get(ref)
        if not r:
            continue
        ratio = float(m["cpu_us_per_msg"]) / float(r["cpu_us_per_msg"])
        p99 = float(m["p99_ms"]) / float(r["p99_ms"])
        print(f"mdagent/{ref}: cpu per msg {ratio:.3f} (target <= {target:.2f}: "
              f"{'met' if ratio <= target else 'NOT met'}), p99 {p99:.3f} "
              f"({'lower' if p99 < 1 else 'NOT lower'})")
PY
