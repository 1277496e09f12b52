#!/bin/sh
# Regenerates the configuration table in README.md from src/core/config.def
# (through `mdagent config --markdown`). tests/e2e/test_docs.py checks it is current.
set -eu
cd "$(dirname "$0")/.."
bin="${1:-build/mdagent}"
table="$("$bin" config --markdown)"
/usr/bin/python3 - "$table" <<'PY'
import re, sys
table = sys.argv[1]
s = open("README.md").read()
s = re.sub(r"(<!-- config:begin[^>]*-->\n).*?(<!-- config:end -->)",
           lambda m: m.group(1) + table + "\n" + m.group(2), s, flags=re.S)
open("README.md", "w").write(s)
PY
