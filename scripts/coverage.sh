#!/bin/sh
# make coverage: the unit and end-to-end tests on the gcov build (the "coverage" preset:
# -O0 --coverage), then an lcov report of src/ (tests and system headers left out).
#   scripts/coverage.sh BUILD_DIR     (make coverage builds BUILD_DIR first)
# Writes BUILD_DIR/coverage.info and BUILD_DIR/html/index.html and prints the line and
# function figures. The e2e tests run the instrumented binary, so what the agent executes
# while serving them counts (a process writes its counters when it exits, so an agent killed
# by SIGKILL adds nothing). Exits non-zero when a test failed, after writing the report.
set -eu
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
BUILD="${1:?usage: scripts/coverage.sh BUILD_DIR}"
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 2)}"
for tool in lcov genhtml gcov; do
    command -v "$tool" >/dev/null 2>&1 || { echo "coverage: $tool missing (scripts/install-deps.sh)" >&2; exit 2; }
done

lcov --quiet --zerocounters --directory "$BUILD"
rc=0
(cd "$BUILD" && ctest --output-on-failure -j"$JOBS" -L 'unit|e2e') || rc=$?

lcov --quiet --capture --directory "$BUILD" --output-file "$BUILD/coverage.all.info" >/dev/null 2>&1
lcov --quiet --extract "$BUILD/coverage.all.info" "$ROOT/src/*" --output-file "$BUILD/coverage.info"
rm -f "$BUILD/coverage.all.info"
genhtml --quiet --title "mdagent src/" --prefix "$ROOT" --output-directory "$BUILD/html" \
    "$BUILD/coverage.info" >/dev/null
echo "coverage: src/ under the unit and e2e tests (report: $BUILD/html/index.html)"
lcov --summary "$BUILD/coverage.info" 2>&1 | grep -E '^ +(lines|functions)'
[ "$rc" = 0 ] || echo "coverage: some tests failed (ctest exit $rc); the figures count what ran"
exit "$rc"
