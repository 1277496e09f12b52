#!/bin/sh
# make run: load the bundled sample data (once; reloading is idempotent) and serve, with
# live data and no network: the simulator ticks a few symbols and the replay source plays
# the stored XTSSIM series one daily bar a second. Set MDAGENT_SOURCES_PRIORITY (e.g.
# "yahoo,simulator") to ask real providers too, MDAGENT_API_KEYS=k to enable the write
# endpoints, MDAGENT_LOG_LEVEL=info to see every log line (default here: warnings only).
set -eu
DB="${1:-data/mdagent.db}"
LISTEN="${2:-127.0.0.1:8080}"
cd "$(dirname "$0")/.."
# the EuStockMarkets indices carry synthetic Monday-Friday dates (data/sample/README.md) and
# XTSSIM simulated rows every day: the calendars their dates follow (as tests/e2e/test_quality.py);
# the simulator's markets never close, so its symbols trade 24/7 here (else a simulated AAPL's
# weekend bars are off its New York sessions and graded down)
export MDAGENT_CALENDAR_SYMBOLS="${MDAGENT_CALENDAR_SYMBOLS-DAX:24/5,CAC:24/5,FTSE:24/5,SMI:24/5,XTSSIM:24/7,AAPL:24/7,BTC-USD:24/7,EURUSD=X:24/7}"
build/mdagent load data/sample --db "sqlite:$DB" --quiet
export MDAGENT_SOURCES_PRIORITY="${MDAGENT_SOURCES_PRIORITY-simulator,replay}"
export MDAGENT_SIMULATOR_SYMBOLS="${MDAGENT_SIMULATOR_SYMBOLS-AAPL:190,BTC-USD:60000,EURUSD=X:1.08}"
export MDAGENT_LOG_LEVEL="${MDAGENT_LOG_LEVEL-warn}"
echo "make run: store $DB (sample data loaded), serving http://$LISTEN - Ctrl-C stops"
echo "  dashboard  http://$LISTEN/dashboard"
echo "  try        curl -s $LISTEN/price/AAPL    (simulated, moving)"
echo "             curl -s '$LISTEN/historical/MSFT?limit=5'"
echo "             curl -s $LISTEN/openapi.json  (the API, for tools)"
if [ -n "${MDAGENT_API_KEYS:-}" ]; then
    echo "  writes     enabled: POST /ingest, /backfill, /cache/clear with -H 'Authorization: Bearer <key>'"
else
    echo "  writes     off: run MDAGENT_API_KEYS=yourkey make run to enable POST /ingest, /backfill"
fi
exec build/mdagent serve --db "sqlite:$DB" --listen "$LISTEN" --set replay.symbols=XTSSIM
