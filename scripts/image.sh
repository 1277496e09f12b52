#!/bin/sh
# scripts/image.sh - builds the container image of deploy/Dockerfile and runs it, with Debian's
# own tools and no container registry: the base image is a Debian 12 root file system made by
# debootstrap from the Debian mirror and imported into podman's local storage under the names
# the Dockerfile starts FROM (debian:bookworm, debian:bookworm-slim), so nothing is pulled.
#
#   scripts/image.sh build [--dir DIR]   base image (once), then deploy/Dockerfile -> mdagent:0.1.0
#   scripts/image.sh test  [--dir DIR]   build, then run the image: /health/ready, /dashboard,
#                                        /metrics and /cluster answer from inside it; stop it
#   scripts/image.sh check [--dir DIR]   the run half of test, on the image built before
#   scripts/image.sh clean [--dir DIR]   remove DIR (podman's storage, the root file system)
#
# DIR (default build-image/ in the source tree) holds podman's storage (vfs: no overlay mounts
# needed) and the root file system; nothing outside it is touched. The RUN steps fetch Debian
# packages from $MDIMAGE_MIRROR (default http://deb.debian.org/debian) and the page's npm
# packages from the npm registry, as the Dockerfile says. Steps run with chroot isolation and
# the host's network, so it works inside a container (no nested namespaces or cgroups).
# Needs root and the packages podman, buildah, debootstrap (scripts/install-deps.sh --image).
# Behind a TLS-inspecting proxy set MDIMAGE_CA_FILE (see build() below).
# tests/e2e/test_image.py runs `test` when MDTEST_IMAGE=1 (opt in: minutes of downloads and a
# full build).
set -eu
cd "$(dirname "$0")/.."
SRC=$(pwd)
cmd=${1:-}
[ $# -gt 0 ] && shift
DIR=$SRC/build-image
while [ $# -gt 0 ]; do
    case $1 in
    --dir) DIR=$2; shift 2 ;;
    *) echo "image.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
MIRROR=${MDIMAGE_MIRROR:-http://deb.debian.org/debian}
TAG=localhost/mdagent:0.1.0
NAME=mdagent-image-test

pm() {
    podman --root "$DIR/storage" --runroot "$DIR/run" --storage-driver vfs --cgroup-manager cgroupfs "$@"
}

need() {
    for t in podman debootstrap; do
        command -v $t >/dev/null || { echo "image.sh: $t missing: scripts/install-deps.sh --image" >&2; exit 1; }
    done
    [ "$(id -u)" = 0 ] || { echo "image.sh: debootstrap and podman's storage here need root" >&2; exit 1; }
}

base() {
    if pm image exists docker.io/library/debian:bookworm; then return 0; fi
    mkdir -p "$DIR"
    if [ ! -x "$DIR/rootfs/usr/bin/apt-get" ]; then
        rm -rf "$DIR/rootfs"
        echo "image.sh: debootstrap bookworm from $MIRROR" >&2
        debootstrap --variant=minbase bookworm "$DIR/rootfs" "$MIRROR" >"$DIR/debootstrap.log" 2>&1 ||
            { tail -20 "$DIR/debootstrap.log" >&2; exit 1; }
    fi
    # the mirror the RUN steps' apt-get uses; no package lists or caches in the image
    echo "deb $MIRROR bookworm main" >"$DIR/rootfs/etc/apt/sources.list"
    rm -rf "$DIR/rootfs/var/lib/apt/lists/"* "$DIR/rootfs/var/cache/apt/"*.bin
    tar -C "$DIR/rootfs" --numeric-owner -c . | pm import - docker.io/library/debian:bookworm >/dev/null
    # a minbase system is what -slim is: one base for both stages
    pm tag docker.io/library/debian:bookworm docker.io/library/debian:bookworm-slim
}

build() {
    need
    base
    # MDIMAGE_CA_FILE: a CA bundle npm trusts in the RUN steps, for a machine whose egress
    # goes through a TLS-inspecting proxy (npm ci fails with SELF_SIGNED_CERT_IN_CHAIN
    # otherwise). It and an npmrc naming it are bind-mounted read-only into each step, so
    # neither ends up in a layer of the image.
    set --
    if [ -n "${MDIMAGE_CA_FILE:-}" ]; then
        printf 'cafile=/run/mdimage-ca.crt\n' >"$DIR/npmrc"
        set -- --volume "$MDIMAGE_CA_FILE:/run/mdimage-ca.crt:ro" --volume "$DIR/npmrc:/etc/npmrc:ro"
    fi
    # podman 4.3 here did not exit after a failed RUN step (it waited, holding its storage
    # lock): the caller's timeout (tests/e2e/test_image.py) is the bound
    pm build --pull=never --isolation chroot --network host "$@" \
        --ignorefile deploy/Dockerfile.dockerignore -f deploy/Dockerfile -t "$TAG" .
}

run_test() {
    build
    check
}

check() {
    need
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    pm rm -f "$NAME" >/dev/null 2>&1 || true
    # host network (no network namespace here); the store on the container's own /tmp
    # the host's hard descriptor limit: podman's default (1048576) is above what a container may
    # set here (crun: setrlimit RLIMIT_NOFILE: Operation not permitted)
    n=$(ulimit -Hn)
    pm run -d --name "$NAME" --network host --cgroups disabled --ulimit "nofile=$n:$n" \
        -e MDAGENT_LISTEN=127.0.0.1:"$port" -e MDAGENT_DB=sqlite:/tmp/md.db "$TAG" >/dev/null
    trap 'pm logs "$NAME" 2>&1 | tail -20 >&2; pm rm -f "$NAME" >/dev/null 2>&1 || true' EXIT
    ok=
    for _ in $(seq 1 100); do
        if curl -fsS "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1; then ok=1; break; fi
        sleep 0.2
    done
    [ -n "$ok" ] || { echo "image.sh: the container did not become ready" >&2; exit 1; }
    user=$(pm exec "$NAME" id -u)
    [ "$user" = 10001 ] || { echo "image.sh: runs as uid $user, not 10001" >&2; exit 1; }
    curl -fsS "http://127.0.0.1:$port/dashboard" | grep -q '<title>mdagent dashboard</title>'
    curl -fsS "http://127.0.0.1:$port/dashboard/routes.json" | grep -q '"uplot"'
    curl -fsS "http://127.0.0.1:$port/metrics" | grep -q '^process_resident_memory_bytes '
    curl -fsS "http://127.0.0.1:$port/cluster" | grep -q '"state":"ready"'
    pm stop -t 30 "$NAME" >/dev/null
    code=$(pm inspect "$NAME" --format '{{.State.ExitCode}}')
    [ "$code" = 0 ] || { echo "image.sh: the agent exited $code on SIGTERM" >&2; exit 1; }
    trap - EXIT
    pm rm -f "$NAME" >/dev/null
    echo "image.sh: $TAG built and served /health/ready, /dashboard, /metrics, /cluster as uid 10001; stopped cleanly"
}

case $cmd in
build) build ;;
test) run_test ;;
check) check ;;
clean) rm -rf "$DIR" ;;
*) sed -n '2,22p' "$0" >&2; exit 2 ;;
esac
