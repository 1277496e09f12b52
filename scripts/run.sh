#!/bin/sh
# make run: load the bundled sample data (once; reloading is idempotent) and serve.
set -eu
DB="${1:-data/mdagent.db}"
LISTEN="${2:-127.0.0.1:8080}"
cd "$(dirname "$0")/.."
build/mdagent load data/sample --db "sqlite:$DB" --quiet
echo "mdagent: open http://$LISTEN/dashboard (or /health, /symbols, /price/MSFT, /historical/MSFT?limit=5)"
exec build/mdagent serve --db "sqlite:$DB" --listen "$LISTEN"
