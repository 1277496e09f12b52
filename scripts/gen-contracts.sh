#!/bin/sh
# Regenerates docs/openapi.json and docs/asyncapi.json from the binary (server/contract.c:
# routes.def, errors.def and src/server/contract.json). tests/e2e/test_contracts.py checks
# that they are what the binary serves.
set -eu
cd "$(dirname "$0")/.."
bin="${1:-build/mdagent}"
"$bin" contract openapi >docs/openapi.json
"$bin" contract asyncapi >docs/asyncapi.json
