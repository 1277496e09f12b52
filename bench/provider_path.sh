#!/bin/sh
# The provider path's figures (issue 15): /price with a hanging primary, /sources beside
# hanging calls, requests sent per budget. See bench/provider_path.py.
set -eu
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/provider_path.py "$@"
