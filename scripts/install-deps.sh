#!/bin/sh
# Installs the Debian packages mdagent needs to build, run, test, lint and benchmark.
# Idempotent: installs only what is missing. Works as root or through sudo.
#   scripts/install-deps.sh            build + run + test + lint/coverage packages
#   scripts/install-deps.sh --bench    also the benchmark references (nginx, wrk, h2load...)
#   scripts/install-deps.sh --browser  also chromium for the dashboard browser tests
#   scripts/install-deps.sh --image    also podman, buildah and debootstrap (scripts/image.sh)
# Every mode also installs Node.js and the dashboard's npm packages (web/package-lock.json:
# lightweight-charts, uplot, playwright-core) with `npm ci` when web/node_modules is missing
# or older than the lock file. Nothing is downloaded at run time, and no browser build is
# ever downloaded (the tests use Debian's /usr/bin/chromium).
set -eu
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

BUILD="build-essential cmake pkg-config clang libclang-rt-14-dev \
 libhttp-parser-dev nettle-dev libcurl4-openssl-dev libjansson-dev libsqlite3-dev sqlite3 \
 libpq-dev libhiredis-dev libyaml-dev zlib1g-dev liburing-dev libcriterion-dev tzdata"
# r-base-core + r-cran-ttr: R's TTR package, the reference the indicator tests compare with
# python3-numpy + python3-pandas: the reference the cross-symbol analytics tests compare with,
# and the Python client's DataFrames (tests/e2e/test_python_client.py)
# r-cran-fbasics: real NYSE trading dates 1966-2002 the calendar tests compare with
# wrk drives the ThreadSanitizer run of the cache (scripts/tsan-cache.sh, make check)
# python3-prometheus-client: Prometheus' own parser of the text format reads /metrics (e2e.test_ops_metrics)
# haproxy: the load balancer of the one-machine cluster rig (scripts/cluster.sh, e2e.test_cluster)
TEST="postgresql postgresql-client redis-server redis-tools curl python3 python3-websockets haproxy \
 r-base-core r-cran-ttr r-cran-fbasics wrk python3-numpy python3-pandas python3-prometheus-client"
# make lint (part of make check) and make coverage
TOOLS="clang-format clang-tidy cppcheck lcov"
BENCH="nginx-light wrk nghttp2-client hyperfine"
BROWSER="chromium fonts-dejavu-core"
# scripts/image.sh: the container image from a debootstrap root file system, no registry
IMAGE="podman buildah debootstrap"
# Node.js may come from another repository already (nodesource); only add Debian's when absent.
NODE=""
command -v npm >/dev/null 2>&1 || NODE="nodejs npm"

want="$BUILD $TEST $TOOLS $NODE python3-yaml"
npm_dirs="web tests/calendar tests/contracts" # tests/calendar: holiday references (date-holidays...);
# tests/contracts: the OpenAPI and AsyncAPI validators (tests/e2e/test_contracts.py)
for a in "$@"; do
    case "$a" in
    --bench) want="$want $BENCH"; npm_dirs="$npm_dirs bench" ;; # bench/: the Node `ws` reference server
    --browser) want="$want $BROWSER" ;;
    --image) want="$want $IMAGE" ;;
    *) echo "install-deps: unknown option $a" >&2; exit 2 ;;
    esac
done

# The dashboard's npm packages: `npm ci` when node_modules is missing or stale (the lock file
# changed since the last install). npm ci removes node_modules first, so a partial install
# never stays behind.
npm_assets() {
    for d in $npm_dirs; do
        web="$ROOT/$d"
        [ -f "$web/package-lock.json" ] || continue
        stamp="$web/node_modules/.mdagent-installed"
        if [ -f "$stamp" ] && [ ! "$web/package-lock.json" -nt "$stamp" ] && [ ! "$web/package.json" -nt "$stamp" ]; then
            continue
        fi
        echo "install-deps: npm ci in $d/"
        (cd "$web" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >/dev/null)
        touch "$stamp"
    done
}

missing=""
for p in $want; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
if [ -z "$missing" ]; then
    npm_assets
    exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "install-deps: need root or sudo to install:$missing" >&2; exit 1; }
    SUDO="sudo"
fi
echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists once per machine (or when they are older than a day).
stamp=/var/lib/apt/periodic/update-success-stamp
if [ ! -d /var/lib/apt/lists/partial ] || [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1)" ]; then
    $SUDO apt-get update -qq
fi
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
# Debian starts services on install; the tests run their own servers on their own ports.
for svc in postgresql redis-server nginx; do
    if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true; fi
    $SUDO service "$svc" stop >/dev/null 2>&1 || true
done
npm_assets
exit 0
