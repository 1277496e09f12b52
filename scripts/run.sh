#!/bin/sh
# make run: load the bundled sample data (once; reloading is idempotent) and serve, with
# live data and no network: the simulator ticks a few symbols and the replay source plays
# the stored XTSSIM series one daily bar a second. Set MDAGENT_SOURCES_PRIORITY (e.g.
# "yahoo,simulator") to ask real providers too.
set -eu
DB="${1:-data/mdagent.db}"
LISTEN="${2:-127.0.0.1:8080}"
cd "$(dirname "$0")/.."
build/mdagent load data/sample --db "sqlite:$DB" --quiet
export MDAGENT_SOURCES_PRIORITY="${MDAGENT_SOURCES_PRIORITY-simulator,replay}"
export MDAGENT_SIMULATOR_SYMBOLS="${MDAGENT_SIMULATOR_SYMBOLS-AAPL:190,BTC-USD:60000,EURUSD=X:1.08}"
echo "mdagent: open http://$LISTEN/dashboard (or /health, /sources, /price/AAPL (simulated, moving),"
echo "         /price/XTSSIM (replayed), /historical/MSFT?limit=5)"
exec build/mdagent serve --db "sqlite:$DB" --listen "$LISTEN" --set replay.symbols=XTSSIM
