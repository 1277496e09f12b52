#!/bin/sh
# Stands in for node when CMake found none, so the web tests fail with the fix instead of
# vanishing from the suite.
echo "node not found: run scripts/install-deps.sh (installs Node.js and web/node_modules)" >&2
exit 1
