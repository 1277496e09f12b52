#!/bin/sh
# WebSocket fan-out: mdagent's /stream against two reference broadcast servers fed the same
# ticks in the same run - Python `websockets` (Debian) and Node `ws` (npm, bench/node_modules).
#
#   bench/stream_fanout.sh                  1,000 clients (the default run)
#   bench/stream_fanout.sh --big            10,000 clients
#   bench/stream_fanout.sh --clients N --rate TICKS_PER_S --batch B --duration S --only mdagent,node
#   bench/stream_fanout.sh --single         the single-tick grid of issue 20: every tick its own
#                                           POST (batch 1), 10 symbols, every client on all ten;
#                                           1,000 x 50, 1,000 x 200, 10,000 x 5, 10,000 x 10 ticks/s,
#                                           10 s each
#   --load node                             clients are Node `ws` clients (bench/ref/ws_clients.js,
#                                           not mdagent's code), which measure their own latency
#                                           from the feeder's send times (--sent-file);
#                                           stream_client then only feeds and keeps one probe
#                                           client
#   --no-pin                                no taskset, mdagent on its default threads (one per
#                                           core): server and clients share both cores, as an
#                                           outside harness that does not pin would run them
#   MDAGENT=path/to/mdagent                 the binary to measure
#   MDAGENT_OLD=path --only ...,mdagent-old  an older build in the same run (before/after)
#   (servers: mdagent, mdagent-1msg = mdagent writing one message per send, mdagent-writev =
#   mdagent with stream.io_uring=false (one writev per client), python, node, floor = the least
#   a broadcast server can do: one write() per subscriber per tick and nothing else,
#   bench/ref/floor_ws.c, to show the kernel's and the load client's share of a figure)
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
LOAD=stream_client
GRID=""
PIN=1
while [ $# -gt 0 ]; do
    case "$1" in
    --single) GRID="1000x50 1000x200 10000x5 10000x10"; BATCH=1; SYMBOLS=10; DURATION=10; WARMUP=3 ;;
    --grid) GRID="$2"; shift ;;
    --load) LOAD="$2"; shift ;;
    --no-pin) PIN=0 ;;
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
MDAGENT="${MDAGENT:-$BUILD/mdagent}"
[ -x "$MDAGENT" ] || cmake --build "$BUILD" --target mdagent >/dev/null
cmake --build "$BUILD" --target stream_client >/dev/null
case ",$ONLY," in *,floor,*) cmake --build "$BUILD" --target floor_ws >/dev/null ;; esac
if [ ! -d bench/node_modules/ws ]; then
    (cd bench && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
CPUS=$(nproc)
SRV_CPU=0
CLI_CPU=$((CPUS > 1 ? 1 : 0))
THREADS=1
if [ "$PIN" = 0 ]; then
    SRV_CPU="0-$((CPUS - 1))" CLI_CPU="0-$((CPUS - 1))" THREADS=${SERVER_THREADS:-0}
fi

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
    load=$(cut -d' ' -f1 /proc/loadavg)
    if [ "$LOAD" = node ]; then
        # Node `ws` clients (all but one), then the feeder with one probe client for latency
        rm -f "$tmp/node.out" "$tmp/sent"
        taskset -c "$CLI_CPU" node bench/ref/ws_clients.js --port "$port" --clients $((CLIENTS - 1)) \
            --symbols "$SYMBOLS" --warmup "$WARMUP" --duration "$DURATION" --server-pid "$srv_pid" \
            --label "$name" --sent-file "$tmp/sent" >"$tmp/node.out" 2>&1 &
        node_pid=$!
        i=0
        until grep -q READY "$tmp/node.out" 2>/dev/null; do
            i=$((i + 1)); [ $i -gt 1200 ] && { echo "stream_fanout: node clients not ready" >&2; cat "$tmp/node.out" >&2; exit 1; }
            sleep 0.1
        done
        taskset -c "$CLI_CPU" "$BUILD/bench/stream_client" --port "$port" --feed-port "$port" \
            --feed "$feed" --feed-path "$fpath" --api-key benchkey --label "$name" \
            --server-pid "$srv_pid" --clients 1 --symbols "$SYMBOLS" --rate "$RATE" \
            --batch "$BATCH" --warmup "$WARMUP" --duration "$DURATION" --sent-file "$tmp/sent" |
            sed "s/^RESULT /PROBE load=$load /" | tee -a "$tmp/results"
        wait "$node_pid" || true
        sed "s/^NODECLIENT /NODECLIENT load=$load /" "$tmp/node.out" | grep -E '^NODE(CLIENT|LAT) ' | tee -a "$tmp/results"
    else
        taskset -c "$CLI_CPU" "$BUILD/bench/stream_client" --port "$port" --feed-port "$port" \
            --feed "$feed" --feed-path "$fpath" --api-key benchkey --label "$name" \
            --server-pid "$srv_pid" --clients "$CLIENTS" --symbols "$SYMBOLS" --rate "$RATE" \
            --batch "$BATCH" --warmup "$WARMUP" --duration "$DURATION" | sed "s/^RESULT /RESULT load=$load /" | tee -a "$tmp/results"
    fi
    kill "$srv_pid" 2>/dev/null || true
    wait "$srv_pid" 2>/dev/null || true
    srv_pid=""
    sleep 1
}

run_all() {
echo "stream_fanout: $CLIENTS clients x $SYMBOLS symbols, $RATE ticks/s in batches of $BATCH," \
     "${DURATION}s window after ${WARMUP}s warm-up ($CPUS CPUs: server on $SRV_CPU, client on $CLI_CPU, load: $LOAD)"
for s in $(echo "$ONLY" | tr ',' ' '); do
    case "$s" in
    mdagent | mdagent-1msg | mdagent-writev | mdagent-old)
        # -1msg: one message per send (what coalescing saves); -writev: one writev per client
        # instead of io_uring batches; -old: the build in $MDAGENT_OLD (before/after)
        batch_bytes=16384 uring=true
        [ "$s" = mdagent-1msg ] && batch_bytes=1
        [ "$s" = mdagent-writev ] && uring=false
        bin="$MDAGENT"
        [ "$s" = mdagent-old ] && bin="${MDAGENT_OLD:?set MDAGENT_OLD to the older build}" uring=""
        rm -f "$tmp"/md.db*
        run "$s" http /ingest/quotes env MDAGENT_API_KEYS=benchkey sh -c \
            'exec "$1" serve --db "$2" --create --threads $3 --log-level warn --set "stream.write_batch_bytes=$4" ${5:+--set "stream.io_uring=$5"} --listen "127.0.0.1:$6"' \
            sh "$bin" "sqlite:$tmp/md.db" "$THREADS" "$batch_bytes" "$uring" ;;
    python) run python ws /feed /usr/bin/python3 bench/ref/broadcast_ws.py ;;
    node) run node ws /feed node bench/ref/broadcast_ws.js ;;
    floor) run floor ws /feed "$BUILD/bench/floor_ws" ;;
    *) echo "stream_fanout: unknown server $s" >&2; exit 2 ;;
    esac
done
}
: >"$tmp/results"
if [ -n "$GRID" ]; then
    for row in $GRID; do
        CLIENTS=${row%x*}
        RATE=${row#*x}
        echo "ROW $row" >>"$tmp/results"
        run_all
    done
else
    run_all
fi

/usr/bin/python3 - "$tmp/results" <<'PY'
import sys
row = "-"
rows = []
for line in open(sys.argv[1]):
    w = line.split()
    if not w:
        continue
    if w[0] == "ROW":
        row = w[1]
        continue
    if w[0] in ("RESULT", "PROBE", "NODECLIENT", "NODELAT"):
        kv = dict(p.split("=", 1) for p in w[1:] if "=" in p)
        kv["kind"] = w[0]
        kv["row"] = row
        rows.append(kv)
print()
# "client floor": how long the load client's one reading thread needs for 99% of the messages
# of one tick (clients subscribed to the tick x 0.99 x the reading thread's own CPU per
# message read, over the whole run):
# no server can give that client a p99 below it. Only where every client is on every symbol
# (per_client == symbols), as in --single.
def client_floor(r):
    try:
        if r["kind"] == "NODECLIENT":  # the Node process's CPU per message (one JS thread)
            return f"{int(r['clients']) * 0.99 * float(r['client_us_per_msg']) / 1e3:.2f}"
        if r.get("per_client") != r.get("symbols"):
            return "-"
        per_msg = float(r["reader_us_per_msg"]) / 1e6
        return f"{int(r['clients']) * 0.99 * per_msg * 1e3:.2f}"
    except (KeyError, ValueError):
        return "-"
print(f"{'row':10} {'server':13} {'client':13} {'load':>5} {'msgs/s':>9} {'missing':>8} {'p50 ms':>8} "
      f"{'p99 ms':>8} {'cpu us/msg':>11} {'ack p99 ms':>10} {'client floor ms':>15} {'probe p99 ms':>12}")
probe, nodelat = {}, {}
for r in rows:
    if r["kind"] in ("PROBE", "NODELAT"):
        (probe if r["kind"] == "PROBE" else nodelat)[(r["row"], r["label"])] = r
for r in rows:
    if r["kind"] in ("PROBE", "NODELAT"):
        continue
    if r["kind"] == "NODECLIENT":
        # latency as the Node clients saw it; the probe's (stream_client, one client) beside it
        p = probe.get((r["row"], r["label"]), {})
        lat = nodelat.get((r["row"], r["label"]), {})
        print(f"{r['row']:10} {r['label']:13} {'node ws':13} {r.get('load', '-'):>5} "
              f"{float(r['msgs_per_s']):9.0f} {lat.get('missing', '-'):>8} "
              f"{float(lat.get('p50_ms', -1)):8.2f} {float(lat.get('p99_ms', -1)):8.2f} "
              f"{float(r['cpu_us_per_msg']):11.3f} {float(p.get('ack_p99_ms', 0)):10.2f} "
              f"{client_floor(r):>15} {float(p.get('p99_ms', -1)):12.2f}")
        continue
    print(f"{r['row']:10} {r['label']:13} {'stream_client':13} {r.get('load', '-'):>5} "
          f"{float(r['msgs_per_s']):9.0f} {r['missing']:>8} {float(r['p50_ms']):8.2f} "
          f"{float(r['p99_ms']):8.2f} {float(r['cpu_us_per_msg']):11.3f} "
          f"{float(r.get('ack_p99_ms', 0)):10.2f} {client_floor(r):>15}")
PY
