#!/bin/sh
# make lint: three checks, each from Debian (scripts/install-deps.sh installs them). Fails
# when any of them finds something; prints each stage's time.
#   scripts/lint.sh BUILD_DIR   check: BUILD_DIR holds the compile_commands.json CMake wrote
#   scripts/lint.sh --format    apply clang-format instead (make format)
#
# 1. clang-format (.clang-format) over the tracked .c/.h files under src/, tests/, bench/.
# 2. cppcheck --enable=warning,portability,performance over src/; a false positive goes into
#    .cppcheck-suppressions with the reason.
# 3. clang-tidy with the checks of .clang-tidy over src/ (each file with its compile
#    command), JOBS files at a time; a finding in a header is shown once. The static
#    analyzer's mode is LINT_ANALYZER: shallow (default, ~3x faster) or deep.
# tests/ and bench/ get the format check only: Criterion's macros are opaque to cppcheck, and
# the checkers are for the code that ships.
set -eu
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 2)}"
LINT_ANALYZER="${LINT_ANALYZER:-shallow}"
case "$LINT_ANALYZER" in
shallow | deep) ;;
*) echo "lint: LINT_ANALYZER is shallow or deep, not '$LINT_ANALYZER'" >&2; exit 2 ;;
esac

# The C files of the tree: git's list in a checkout (so stray files are not checked), else
# the files on disk (an unpacked tarball).
c_files() {
    if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        git ls-files -- "$@"
    else
        for d in "$@"; do find "${d%%/*}" -name "${d#*/\*}" -type f; done | sort
    fi
}

if [ "${1:-}" = --format ]; then
    c_files 'src/*.c' 'src/*.h' 'tests/*.c' 'tests/*.h' 'bench/*.c' 'bench/*.h' |
        xargs -P"$JOBS" -n 16 clang-format -i
    exit 0
fi
BUILD="${1:?usage: scripts/lint.sh BUILD_DIR | --format}"
DB="$BUILD/compile_commands.json"
[ -f "$DB" ] || { echo "lint: $DB missing (configure first: cmake --preset debug)" >&2; exit 2; }
for tool in clang-format cppcheck clang-tidy; do
    command -v "$tool" >/dev/null 2>&1 || { echo "lint: $tool missing (scripts/install-deps.sh)" >&2; exit 2; }
done
work="$(mktemp -d /tmp/md-lint.XXXXXX)"
trap 'rm -rf "$work"' EXIT INT TERM
failed=""
t0=$(date +%s)
took() { echo "lint: $1 $(($(date +%s) - t0))s"; t0=$(date +%s); }

# 1. layout
if ! c_files 'src/*.c' 'src/*.h' 'tests/*.c' 'tests/*.h' 'bench/*.c' 'bench/*.h' |
    xargs -n 16 clang-format --dry-run --Werror >"$work/format" 2>&1; then
    grep -E '^[^ ].*: (error|warning):' "$work/format" | sed 's/ \[-Wclang-format-violations\]//' | sort -u
    echo "lint: clang-format: the files above differ from .clang-format (make format fixes them)"
    failed="$failed clang-format"
fi
took "clang-format"

# 2. cppcheck: the compile commands give it the defines and include paths; system headers
# are not read (it knows the C library from its own configuration).
if ! cppcheck --project="$DB" --file-filter='src/*' --enable=warning,portability,performance \
    --library=posix --inline-suppr --suppressions-list=.cppcheck-suppressions --error-exitcode=1 \
    -q -j"$JOBS" --template='{file}:{line}:{column}: {severity}: {message} [{id}]' \
    >"$work/cppcheck" 2>&1; then
    cat "$work/cppcheck"
    failed="$failed cppcheck"
fi
took "cppcheck"

# 3. clang-tidy, one process per file; each file's report kept apart, then shown in file
# order with every finding once (a header's finding comes back from each file including it).
mkdir "$work/tidy"
c_files 'src/*.c' >"$work/files"
if ! xargs <"$work/files" -P"$JOBS" -I{} sh -c \
    'f="$1"; out="$2/$(echo "$f" | tr / _)"
     clang-tidy -p "$3" --quiet --extra-arg=-Xclang --extra-arg=-analyzer-config \
         --extra-arg=-Xclang --extra-arg=mode="$4" "$f" >"$out" 2>"$out.err" || echo fail >"$out.rc"' \
    sh {} "$work/tidy" "$BUILD" "$LINT_ANALYZER"; then
    :
fi
if ls "$work/tidy"/*.rc >/dev/null 2>&1; then
    while read -r f; do
        out="$work/tidy/$(echo "$f" | tr / _)"
        cat "$out"
        if [ -f "$out.rc" ] && ! grep -q ': error:' "$out"; then cat "$out.err"; fi # clang-tidy itself failed
    done <"$work/files" | awk '
        /^[^ ]+:[0-9]+:[0-9]+: (warning|error|note): / {
            if ($0 ~ /: (warning|error): /) { show = !seen[$0]++ }
        }
        show' | sed "s|^$ROOT/||"
    echo "lint: clang-tidy: $(ls "$work/tidy"/*.rc | wc -l) file(s) with findings"
    failed="$failed clang-tidy"
fi
took "clang-tidy ($LINT_ANALYZER analyzer)"

if [ -n "$failed" ]; then
    echo "lint: FAILED:$failed"
    exit 1
fi
echo "lint: clean (clang-format, cppcheck, clang-tidy)"
