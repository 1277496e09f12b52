#!/bin/sh
# ThreadSanitizer run of the stream under the real server's threads (Criterion cannot start
# under TSAN, see tsan-cache.sh).
#   scripts/tsan-stream.sh
# Builds the "tsan" preset, starts a private Redis and two TSAN agents on it (2 event loops
# each, live bars with a short delay, the relay threads), then, while quotes and bars are
# ingested into both from two threads, WebSocket clients connect, subscribe (some with
# since_seq), unsubscribe, disconnect, and one stalls; finally both agents get SIGTERM with
# clients still attached. Fails when ThreadSanitizer reports anything.
set -eu
cd "$(dirname "$0")/.."
cmake --preset tsan >/dev/null
cmake --build build-tsan --target mdagent -j"$(nproc)" >/dev/null
work="$(mktemp -d /tmp/md-tsan-stream.XXXXXX)"
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
RP=$(port); PA=$(port); PB=$(port); KEY=tsan-key-12345
cleanup() {
    [ -n "${A:-}" ] && kill "$A" 2>/dev/null || true
    [ -n "${B:-}" ] && kill "$B" 2>/dev/null || true
    redis-cli -p "$RP" shutdown nosave >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
redis-server --port "$RP" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
    --logfile "$work/redis.log" --dir "$work"
start() { # port name
    TSAN_OPTIONS="log_path=$work/tsan-$2" MDAGENT_API_KEYS=$KEY MDAGENT_LOG_LEVEL=warn \
        build-tsan/mdagent serve --db "sqlite:$work/$2.db" --create --listen "127.0.0.1:$1" --threads 2 \
        --redis "redis://127.0.0.1:$RP/0" --set stream.live_bar_delay_ms=100 \
        --set stream.queue_size=16 --set stream.send_buffer_bytes=4096 >"$work/$2.log" 2>&1 &
}
start "$PA" a; A=$!
start "$PB" b; B=$!
for p in "$PA" "$PB"; do
    i=0; until curl -sf "http://127.0.0.1:$p/health/live" >/dev/null; do i=$((i+1)); [ $i -gt 400 ] && exit 1; sleep 0.05; done
done
/usr/bin/python3 - "$PA" "$PB" "$KEY" <<'PY'
import asyncio, json, socket, sys, threading, time, urllib.request
import websockets
pa, pb, key = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
t0 = int(time.time()) - 86400  # a tick a step: a day of steps before they reach now
stop = threading.Event()

def feed(port, base):
    i = 0
    while not stop.is_set():
        i += 1
        quotes = [{"symbol": f"T{k}", "price": base + i + k / 10, "timestamp": t0 + i} for k in range(8)]
        bars = [{"symbol": "TB", "interval": "1m", "timestamp": t0 + 60 * i, "open": 1, "high": 2,
                 "low": 0.5, "close": 1.5, "volume": 3}]
        for kind, doc in (("quotes", {"quotes": quotes}), ("bars", {"bars": bars})):
            req = urllib.request.Request(f"http://127.0.0.1:{port}/ingest/{kind}", json.dumps(doc).encode(),
                                         {"X-API-Key": key, "Content-Type": "application/json"})
            urllib.request.urlopen(req).read()

async def client(port, n, since):
    async with websockets.connect(f"ws://127.0.0.1:{port}/stream") as ws:
        await ws.recv()
        sub = {"op": "subscribe", "symbols": [f"T{k}" for k in range(8)] + ["TB"],
               "channels": ["quote", "bar.1m", "bar.5m"]}
        if since:
            sub["since_seq"] = 1
        await ws.send(json.dumps(sub))
        for _ in range(n):
            await asyncio.wait_for(ws.recv(), 20)
        await ws.send(json.dumps({"op": "unsubscribe", "symbols": ["T1"]}))
        await ws.send(json.dumps({"op": "ping"}))
        await ws.send("garbage")

def stall(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    msg = json.dumps({"op": "subscribe", "symbols": [f"T{k}" for k in range(8)]}).encode()
    s.sendall(bytes([0x81, 0x80 | len(msg), 0, 0, 0, 0]) + msg)
    return s  # never read

async def main():
    stalled = [stall(pa), stall(pb)]
    feeders = [threading.Thread(target=feed, args=(p, b)) for p, b in ((pa, 100), (pb, 500))]
    for f in feeders:
        f.start()
    for round in range(6):
        await asyncio.gather(*(client(p, 40, i % 2) for i in range(6) for p in (pa, pb)))
    stop.set()
    for f in feeders:
        f.join()
    # clients still attached at shutdown
    keep = [await websockets.connect(f"ws://127.0.0.1:{p}/stream") for p in (pa, pb)]
    return stalled, keep

asyncio.run(main())
PY
kill -TERM "$A" "$B"
wait "$A" || true
wait "$B" || true
A=""; B=""
if ls "$work"/tsan-* >/dev/null 2>&1; then
    cat "$work"/tsan-* | head -200
    echo "tsan-stream: ThreadSanitizer reported races" >&2
    exit 1
fi
echo "tsan-stream: no ThreadSanitizer reports"
