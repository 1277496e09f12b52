#!/bin/sh
# Cached answers over HTTP against nginx serving the same bytes as a static file.
#
#   flock /work/bench.lock sh bench/cache_http.sh      (make bench runs it through bench/run.sh)
#
# For /price/MSFT (L1 hit) and /historical/MSFT (one year of daily bars, L1 hit), and for
# /price/MSFT read from the store with the cache off:
#   - throughput with wrk at 100 and 1,000 connections (DUR seconds each),
#   - latency (p50, p99) with h2load --h1 at a fixed rate below saturation (RATE req/s).
# Both servers get 2 threads (mdagent: 2 event loops; nginx: 2 workers); wrk uses WRK_THREADS.
# On 2 cores the load generator competes with the server: the ratios are what count.
# Each figure is the median of ROUNDS runs, mdagent and nginx taking turns (other work on
# the machine then weighs on both alike).
# Environment: BUILD (build dir), DUR (s, default 5), ROUNDS (3), RATE (default 10000),
# WRK_THREADS (2).
set -eu
cd "$(dirname "$0")/.."
BUILD="${BUILD:-build}"
DUR="${DUR:-5}"
ROUNDS="${ROUNDS:-3}"
RATE="${RATE:-10000}"
WRK_THREADS="${WRK_THREADS:-2}"
BIN="$BUILD/mdagent"
for t in wrk h2load nginx curl; do
    command -v "$t" >/dev/null 2>&1 || [ -x "/usr/sbin/$t" ] || { echo "cache_http: $t missing (scripts/install-deps.sh --bench)"; exit 1; }
done
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
ulimit -n 65536 2>/dev/null || ulimit -n 4096 2>/dev/null || true

work="$(mktemp -d /tmp/md-bench-cache.XXXXXX)"
chmod 755 "$work" # nginx workers run as an unprivileged user
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
    sleep 0.3
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

"$BIN" load data/sample --db "sqlite:$work/md.db" --quiet >/dev/null

start_agent() { # $1 = port, $2 = cache (true|false); providers off: answers come from the store
    MDAGENT_SOURCES_PRIORITY="" MDAGENT_CACHE="$2" MDAGENT_LOG_LEVEL=warn "$BIN" serve --db "sqlite:$work/md.db" \
        --listen "127.0.0.1:$1" --threads 2 >"$work/agent-$1.log" 2>&1 &
    pids="$pids $!"
    i=0; until curl -sf "http://127.0.0.1:$1/health/live" >/dev/null; do
        i=$((i+1)); [ $i -gt 100 ] && { cat "$work/agent-$1.log"; exit 1; }; sleep 0.05; done
}

AP=$(free_port); start_agent "$AP" true
SP=$(free_port); start_agent "$SP" false
PRICE=/price/MSFT
HIST=/historical/MSFT
# warm L1 (the first request is the miss), and keep the exact bytes for nginx
mkdir -p "$work/www/price" "$work/www/historical"
curl -s "http://127.0.0.1:$AP$PRICE" >/dev/null
curl -s "http://127.0.0.1:$AP$HIST" >/dev/null
curl -s "http://127.0.0.1:$AP$PRICE" >"$work/www$PRICE"
curl -s "http://127.0.0.1:$AP$HIST" >"$work/www$HIST"
grep -q '"cache":"l1"' "$work/www$PRICE" || { echo "cache_http: /price is not an L1 hit"; exit 1; }
curl -sD - -o /dev/null "http://127.0.0.1:$AP$HIST" | grep -qi '^x-cache: l1' || { echo "cache_http: /historical is not an L1 hit"; exit 1; }

NP=$(free_port)
cat >"$work/nginx.conf" <<EOF
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 60;
    open_file_cache max=100 inactive=60s;
    sendfile on;
    tcp_nopush on;
    default_type application/json;
    server {
        listen 127.0.0.1:$NP reuseport;
        root $work/www;
        location / { add_header Cache-Control no-store; }
    }
}
EOF
"$NGINX" -c "$work/nginx.conf" -p "$work" -e "$work/nginx-error.log"
i=0; until curl -sf "http://127.0.0.1:$NP$PRICE" >/dev/null; do i=$((i+1)); [ $i -gt 100 ] && exit 1; sleep 0.05; done

size_of() { wc -c <"$1" | tr -d ' '; }
echo "bodies: /price $(size_of "$work/www$PRICE") bytes, /historical $(size_of "$work/www$HIST") bytes (one year of daily bars)"
echo "servers: mdagent 2 event loops, nginx 2 workers; wrk -t$WRK_THREADS, ${DUR}s per run, median of $ROUNDS; h2load at $RATE req/s"

rps1() { # url conns -> requests/s
    wrk -t"$WRK_THREADS" -c"$2" -d"${DUR}s" "$1" 2>&1 | awk '/Requests\/sec/ {print $2}'
}

median() { /usr/bin/python3 -c "import sys, statistics; v=[float(x) for x in sys.argv[1:] if x]; print(f'{statistics.median(v):.0f}' if v else '')" "$@"; }

# pair URL_A URL_B conns -> "median_a median_b", the two servers taking turns
pair() {
    a="" b=""
    r=0; while [ $r -lt "$ROUNDS" ]; do
        a="$a $(rps1 "$1" "$3")"; b="$b $(rps1 "$2" "$3")"; r=$((r+1))
    done
    echo "$(median $a) $(median $b)"
}

lat() { # url -> "p50_ms p99_ms" at RATE req/s over 100 connections
    rm -f "$work/h2.log"
    h2load --h1 -c 100 -t 1 --rps $((RATE / 100)) -D "$DUR" --log-file="$work/h2.log" "$1" >"$work/h2.out" 2>&1 || true
    /usr/bin/python3 - "$work/h2.log" <<'PY'
import sys
d = sorted(int(l.split()[2]) for l in open(sys.argv[1]) if len(l.split()) >= 3 and l.split()[1] == "200")
if not d:
    print("n/a n/a"); sys.exit()
p = lambda q: d[min(len(d) - 1, int(q * len(d)))] / 1000.0
print(f"{p(0.50):.3f} {p(0.99):.3f}")
PY
}

ratio() { /usr/bin/python3 -c "import sys; a,b=float(sys.argv[1] or 0),float(sys.argv[2] or 0); print(f'{a/b:.2f}' if b else 'n/a')" "$1" "$2"; }

printf '\n%-34s %12s %12s %7s\n' "throughput (wrk)" "mdagent" "nginx" "ratio"
for path in "$PRICE" "$HIST"; do
    for c in 100 1000; do
        set -- $(pair "http://127.0.0.1:$AP$path" "http://127.0.0.1:$NP$path" $c); m=$1 n=$2
        printf '%-34s %12s %12s %7s\n' "$path L1, $c conns (req/s)" "$m" "$n" "$(ratio "$m" "$n")"
    done
done
set -- $(pair "http://127.0.0.1:$SP$PRICE" "http://127.0.0.1:$NP$PRICE" 100); m=$1 n=$2
printf '%-34s %12s %12s %7s\n' "$PRICE store (cache off), 100" "$m" "$n" "$(ratio "$m" "$n")"
set -- $(pair "http://127.0.0.1:$SP$HIST" "http://127.0.0.1:$NP$HIST" 100); m=$1 n=$2
printf '%-34s %12s %12s %7s\n' "$HIST store (cache off), 100" "$m" "$n" "$(ratio "$m" "$n")"

# latpair URL_A URL_B -> "a50 a99 b50 b99" (medians over ROUNDS, taking turns)
latpair() {
    a50="" a99="" b50="" b99=""
    r=0; while [ $r -lt "$ROUNDS" ]; do
        set -- "$1" "$2" $(lat "$1"); a50="$a50 $3"; a99="$a99 $4"
        set -- "$1" "$2" $(lat "$2"); b50="$b50 $3"; b99="$b99 $4"
        r=$((r+1))
    done
    ms() { /usr/bin/python3 -c "import sys, statistics; v=[float(x) for x in sys.argv[1:] if x not in ('', 'n/a')]; print(f'{statistics.median(v):.3f}' if v else 'n/a')" "$@"; }
    echo "$(ms $a50) $(ms $a99) $(ms $b50) $(ms $b99)"
}

printf '\n%-34s %20s %20s\n' "latency at $RATE req/s (h2load)" "mdagent p50/p99 ms" "nginx p50/p99 ms"
for path in "$PRICE" "$HIST"; do
    set -- $(latpair "http://127.0.0.1:$AP$path" "http://127.0.0.1:$NP$path")
    printf '%-34s %20s %20s\n' "$path L1" "$1 / $2" "$3 / $4"
done
set -- $(latpair "http://127.0.0.1:$SP$PRICE" "http://127.0.0.1:$NP$PRICE")
printf '%-34s %20s %20s\n' "$PRICE store (cache off)" "$1 / $2" "$3 / $4"
