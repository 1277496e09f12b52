#!/bin/sh
# ThreadSanitizer run of the cache under the real server's threads (Criterion cannot start
# under TSAN: its arena mapping fails, so the unit tests are not the vehicle here).
#   scripts/tsan-cache.sh
# Builds the "tsan" preset, starts a private Redis and the TSAN agent (2 event loops, 4
# workers, the cache-redis subscriber), then drives /price and /historical hits from two wrk
# threads while quotes and bars are ingested, the cache is cleared and stats and metrics are
# read. Fails when ThreadSanitizer reports anything.
set -eu
cd "$(dirname "$0")/.."
cmake --preset tsan >/dev/null
cmake --build build-tsan --target mdagent -j"$(nproc)" >/dev/null
work="$(mktemp -d /tmp/md-tsan.XXXXXX)"
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
RP=$(port); P=$(port); KEY=tsan-key-12345
cleanup() {
    [ -n "${AGENT:-}" ] && kill "$AGENT" 2>/dev/null || true
    redis-cli -p "$RP" shutdown nosave >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
redis-server --port "$RP" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
    --logfile "$work/redis.log" --dir "$work"
build-tsan/mdagent load data/sample --db "sqlite:$work/md.db" --quiet 2>/dev/null
TSAN_OPTIONS="log_path=$work/tsan" MDAGENT_API_KEYS=$KEY MDAGENT_LOG_LEVEL=warn \
    build-tsan/mdagent serve --db "sqlite:$work/md.db" --listen "127.0.0.1:$P" --threads 2 \
    --redis "redis://127.0.0.1:$RP/0" >"$work/agent.log" 2>&1 &
AGENT=$!
i=0; until curl -sf "http://127.0.0.1:$P/health/live" >/dev/null; do i=$((i+1)); [ $i -gt 200 ] && exit 1; sleep 0.05; done
wrk -t1 -c20 -d8s "http://127.0.0.1:$P/price/MSFT" >"$work/w1" &
W1=$!
wrk -t1 -c20 -d8s "http://127.0.0.1:$P/historical/MSFT?interval=1w" >"$work/w2" &
W2=$!
for i in $(seq 1 60); do
    curl -s -XPOST -H "X-API-Key: $KEY" -d "{\"quotes\":[{\"symbol\":\"MSFT\",\"price\":$((100 + i)).5,\"timestamp\":$((1760000000 + i * 60))}]}" "http://127.0.0.1:$P/ingest/quotes" >/dev/null
    curl -s -XPOST -H "X-API-Key: $KEY" -d "{\"bars\":[{\"symbol\":\"MSFT\",\"interval\":\"1d\",\"timestamp\":$((1001548800 + i * 86400)),\"open\":1,\"high\":2,\"low\":0.5,\"close\":1.5,\"volume\":3}]}" "http://127.0.0.1:$P/ingest/bars" >/dev/null
    [ $((i % 20)) = 0 ] && curl -s -XPOST -H "X-API-Key: $KEY" "http://127.0.0.1:$P/cache/clear" >/dev/null
    curl -s "http://127.0.0.1:$P/cache/stats" >/dev/null
    curl -s "http://127.0.0.1:$P/metrics" >/dev/null
done
wait "$W1" "$W2"
kill "$AGENT"; wait "$AGENT" 2>/dev/null || true; AGENT=
grep -h "Requests/sec" "$work/w1" "$work/w2" || true
if ls "$work"/tsan* >/dev/null 2>&1; then
    cat "$work"/tsan*
    echo "tsan-cache: ThreadSanitizer reported races"
    exit 1
fi
echo "tsan-cache: no ThreadSanitizer reports"
