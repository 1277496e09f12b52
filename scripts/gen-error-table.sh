#!/bin/sh
# Regenerates the error-code table in docs/API.md from src/core/errors.def, read through the
# C preprocessor (the rows the compiler sees, nothing parsed by hand). With --print, writes
# the table to stdout instead. tests/e2e/test_docs.py checks that docs/API.md is current.
set -eu
cd "$(dirname "$0")/.."
rows="$(printf '%s\n' '#define MD_ERR(name, status, code, msg) MDROW status code msg MD_E##name' \
                      '#include "core/errors.def"' |
        ${CC:-cc} -E -P -I src -x c - | grep '^MDROW')"
table="$(/usr/bin/python3 - "$rows" <<'PY'
import shlex, sys
out = ["| code | HTTP status | default message | in the source |", "|---|---|---|---|"]
for line in sys.argv[1].splitlines():
    _, status, code, msg, name = shlex.split(line)
    out.append(f"| `{code}` | {status} | {msg} | `{name}` |")
print("\n".join(out))
PY
)"
if [ "${1:-}" = "--print" ]; then
    printf '%s\n' "$table"
    exit 0
fi
/usr/bin/python3 - "$table" <<'PY'
import re, sys
table = sys.argv[1]
s = open("docs/API.md").read()
s, n = re.subn(r"(<!-- errors:begin[^>]*-->\n).*?(<!-- errors:end -->)",
               lambda m: m.group(1) + table + "\n" + m.group(2), s, flags=re.S)
if n != 1:
    sys.exit("docs/API.md: no <!-- errors:begin --> ... <!-- errors:end --> markers")
open("docs/API.md", "w").write(s)
PY
