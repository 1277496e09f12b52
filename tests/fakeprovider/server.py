#!/usr/bin/python3
"""Fake market data provider for the tests: one HTTP server that answers like Yahoo
Finance, Alpha Vantage, Finnhub, Polygon and Twelve Data, from the response files in
tests/fixtures/providers/<provider>/ (written from each provider's documentation).

    /usr/bin/python3 tests/fakeprovider/server.py [--port 0] [--slow-ms 3000]
    -> prints "PORT <n>" on the first line of stdout, then serves until killed.

Point a provider at it with its base URL, e.g. MDAGENT_YAHOO_URL=http://127.0.0.1:<n>/yahoo
(the /<provider> prefix is optional: without it the provider is recognised by its path).

Routes (the provider's own paths):
    yahoo         /v8/finance/chart/{symbol}?interval=..             chart_{SYM}_{interval}.json
                  (interval=3mo, the splits after a range, and interval=1mo with events, the
                  actions: chart_{SYM}_1d when there is no file of that interval)
    alphavantage  /query?function=F&symbol=S[&interval=I]&apikey=K    {F}_{SYM}[_{I}].json
    finnhub       /quote?symbol=S&token=K, /stock/candle?symbol&resolution  quote_{SYM}, candle_{SYM}_{RES}
                  /stock/split|dividend?symbol&from&to                split_{SYM}, dividend_{SYM} ([] when none)
                  /stock/profile2?symbol=S                            profile2_{SYM} (profile2_empty, {}, when none)
    polygon       /v2/aggs/ticker/{T}/range/{m}/{span}/{from}/{to}    aggs_{T}_{m}_{span}[_{cursor}].json
                  /v2/last/trade/{T}, /v2/aggs/ticker/{T}/prev        last_trade_{T}, prev_{T}
                  /v3/reference/splits|dividends?ticker=T             splits_{T}, dividends_{T}
                  /v3/reference/tickers/{T} (Ticker Details)          tickers_{T} (404 tickers_not_found when none)
    twelvedata    /time_series?symbol&interval, /quote?symbol         time_series_{SYM}_{iv}, quote_{SYM}
                  /splits|dividends?symbol&range=full                 splits_{SYM}, dividends_{SYM}
    (Alpha Vantage's SPLITS and DIVIDENDS are functions like the others: SPLITS_{SYM}.json)
(a '/' in a symbol becomes '_' in file names; "{BASE}" in a file becomes this server's
base URL for that provider; "{APIKEY}" becomes the key the request carried.)

Scenarios chosen by the symbol, for every provider:
    RATELIMIT  429 with Retry-After: 7 and the provider's rate-limit body
    RATEDATE   429 with Retry-After as an HTTP date 120 s ahead
    SLOW       the AAPL/IBM answer after --slow-ms milliseconds (past a short client timeout)
    TRUNC      the AAPL/IBM answer cut in the middle (valid HTTP, broken JSON)
    HTML       200 text/html page instead of JSON
    RESET      headers and a few bytes, then a TCP reset
    E500/E503  500 / 503 with an HTML body
    EMPTY      200 with an empty body
    BIG        a 200 KB JSON body (for the size limit)
    HANG...    any symbol starting with HANG: accept the request and never answer (one symbol
               hanging on every provider)
Symbols that play one provider's documented refusal: Alpha Vantage NOTE, INFO (the daily
limit), PREMIUM, BURST (the per-second burst notice); Twelve Data LIMIT200 (the minute's
credits), DAYCREDITS (the day's credits), NODATA, FORBIDDEN.
A base URL of the form http://127.0.0.1:<n>/<provider>/_mode/<SCENARIO> makes every
request to that provider play SCENARIO whatever the symbol (failover tests: one provider
broken, the others answering normally). Besides the scenarios above, modes only:
    HANG           accept the request and never answer (the client must give up)
    DELAY<ms>      the regular answer after <ms> milliseconds (DELAY2000)
    EMPTYRANGE     bars: the provider's documented empty answer for a valid symbol
                   (Finnhub {"s":"no_data"}, Polygon resultsCount 0, Twelve Data 404
                   "Data not found", Yahoo a chart without timestamps); quotes as usual
    BADINTERVAL    Twelve Data's 400 "**interval** is not valid" answer to a time series
    FORBIDCANDLES  Finnhub: 403 "You don't have access to this resource." on /stock,
                   /forex and /crypto candles (a free key), /quote as usual
    DAYLIMIT       Alpha Vantage's daily-limit notice ("... 25 requests per day ..."),
                   which quotes the key back
    NODIVIDENDS    Finnhub: 403 "You don't have access to this resource." on /stock/dividend
                   (a plan without dividends), the rest as usual
    GROWONLY       Twelve Data: /splits and /dividends answer the free plan's 403 refusal
                   ("... available exclusively with grow or venture plans")
    NOPROFILE      the reference profile (Finnhub /stock/profile2, Polygon Ticker Details)
                   answers the provider's 403 plan refusal, the rest as usual
    PROFILE<MODE>  the reference profile alone plays MODE (any mode or scenario above:
                   PROFILEHANG, PROFILETRUNC, PROFILERATELIMIT...), the rest as usual
    DRIP           200 with the regular answer's headers, then its body one byte a second
    ENDLESS        200, chunked, a body that never ends (64 KiB chunks as fast as read)
    HUGE           200 announcing a 4 GiB Content-Length, and sending it
    CLOSEMID       200 announcing the regular answer's length, half of it, then a clean close
    RATENORETRY    429 with the provider's rate-limit body and no Retry-After
    REDIRECTLOOP   302 to the same URL, for ever
    REDIRECTHOST   302 to the same path on another host name (localhost instead of 127.0.0.1)
    E500AT<f>[+<f>...]  Polygon: the aggregates whose range starts at one of these `from`
                   values (epoch ms, as the request has it) answer 500; the others as usual
                   (a backfill whose chosen chunks fail)
Finnhub's /forex/candle and /crypto/candle answer like /stock/candle. In file names a '/'
or ':' of a symbol becomes '_' (C:EURUSD -> C_EURUSD).
Keys: keyed providers answer their documented 401-style error when the key is missing or
contains "invalid". Every request is recorded; GET /_requests returns them as JSON.
"""
import argparse
import email.utils
import json
import os
import socket
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures", "providers")
PROVIDERS = ("yahoo", "alphavantage", "finnhub", "polygon", "twelvedata")
SCENARIOS = ("RATELIMIT", "RATEDATE", "SLOW", "TRUNC", "HTML", "RESET", "E500", "E503", "EMPTY", "BIG")
MODES = SCENARIOS + ("HANG", "DRIP", "ENDLESS", "HUGE", "CLOSEMID", "RATENORETRY", "REDIRECTLOOP",
                     "REDIRECTHOST", "EMPTYRANGE", "BADINTERVAL", "FORBIDCANDLES", "DAYLIMIT", "NODIVIDENDS",
                     "GROWONLY", "NOPROFILE")
HANG_S = 120
SLOW_MS = 3000
REQUESTS = []
REQ_LOCK = threading.Lock()


def fixture(provider, name):
    path = os.path.join(FIXTURES, provider, name + ".json")
    if os.path.exists(path):
        with open(path, "rb") as f:
            return f.read()
    return None


def fname(sym):
    return sym.replace("/", "_").replace(":", "_")


def is_mode(name):
    if name.startswith("PROFILE"):  # PROFILE<MODE>: that mode on the reference profile alone
        return is_mode(name[7:])
    if name.startswith("E500AT"):
        return all(f.isdigit() for f in name[6:].split("+"))
    return name in MODES or (name.startswith("DELAY") and name[5:].isdigit())


class Reply(Exception):
    """Raised by a route with the answer to send."""

    def __init__(self, status, body, ctype="application/json; charset=utf-8", headers=None):
        super().__init__(status)
        self.status = status
        self.body = body if isinstance(body, bytes) else body.encode()
        self.ctype = ctype
        self.headers = headers or {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fakeprovider/1.0"

    def log_message(self, fmt, *args):  # quiet
        pass

    # -- plumbing -------------------------------------------------------------------------
    def send(self, r):
        self.send_response(r.status)
        self.send_header("Content-Type", r.ctype)
        self.send_header("Content-Length", str(len(r.body)))
        for k, v in r.headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(r.body)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        q = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        path = url.path
        if path == "/_requests":
            with REQ_LOCK:
                body = json.dumps(REQUESTS)
            return self.send(Reply(200, body))
        with REQ_LOCK:
            REQUESTS.append(self.path)
        parts = [p for p in path.split("/") if p]
        prefix = ""
        self.mode = None
        if parts and parts[0] in PROVIDERS:
            prefix = "/" + parts[0]
            provider, parts = parts[0], parts[1:]
            if len(parts) >= 2 and parts[0] == "_mode" and is_mode(parts[1]):
                # /<provider>/_mode/<SCENARIO>/...: every request plays that scenario
                self.mode = parts[1]
                prefix += "/_mode/" + parts[1]
                parts = parts[2:]
        else:
            provider = guess_provider(parts, q)
        self.base = "http://127.0.0.1:%d%s" % (self.server.server_address[1], prefix)
        try:
            ROUTES.get(provider, route_unknown)(self, parts, q)
            raise Reply(404, json.dumps({"error": "no route"}))
        except Reply as r:
            try:
                self.send(r)
            except (BrokenPipeError, ConnectionResetError):
                pass
        except (BrokenPipeError, ConnectionResetError):
            pass

    # -- scenarios ------------------------------------------------------------------------
    def profile_mode(self, profile):
        """PROFILE<MODE> plays MODE on the reference profile routes only (profile true)."""
        if self.mode and self.mode.startswith("PROFILE"):
            self.mode = self.mode[7:] if profile else None

    def scenario(self, provider, sym, normal, ratelimit_body):
        """Handles the scenario symbols; normal() returns the regular answer bytes."""
        if self.mode == "HANG" or sym.startswith("HANG"):
            time.sleep(HANG_S)
            self.close_connection = True
            raise ConnectionResetError()
        if self.mode and self.mode.startswith("DELAY"):
            time.sleep(int(self.mode[5:]) / 1000.0)
            return
        if self.mode in ("DRIP", "ENDLESS", "HUGE", "CLOSEMID"):
            self.hostile_body(self.mode, normal())
        if self.mode == "RATENORETRY":
            raise Reply(429, ratelimit_body)
        if self.mode in ("REDIRECTLOOP", "REDIRECTHOST"):
            loc = self.path
            if self.mode == "REDIRECTHOST":
                loc = "http://localhost:%d%s" % (self.server.server_address[1], self.path)
            raise Reply(302, b"", headers={"Location": loc})
        if self.mode in SCENARIOS:
            sym = self.mode
        if sym not in SCENARIOS:
            return
        if sym == "RATELIMIT":
            raise Reply(429, ratelimit_body, headers={"Retry-After": "7"})
        if sym == "RATEDATE":
            when = email.utils.formatdate(time.time() + 120, usegmt=True)
            raise Reply(429, ratelimit_body, headers={"Retry-After": when})
        if sym == "SLOW":
            time.sleep(SLOW_MS / 1000.0)
            raise Reply(200, normal())
        if sym == "TRUNC":
            body = normal()
            raise Reply(200, body[: len(body) // 2])
        if sym == "HTML":
            raise Reply(200, "<!DOCTYPE html><html><head><title>Service Unavailable</title></head>"
                        "<body><h1>Please try again later</h1></body></html>\n", ctype="text/html; charset=utf-8")
        if sym == "RESET":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{\"chart\":{\"res")
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            raise ConnectionResetError()
        if sym == "E500":
            raise Reply(500, "<html><body><h1>500 Internal Server Error</h1></body></html>\n", ctype="text/html")
        if sym == "E503":
            raise Reply(503, "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>\n", ctype="text/html")
        if sym == "EMPTY":
            raise Reply(200, b"")
        if sym == "BIG":
            raise Reply(200, json.dumps({"padding": "x" * 200000}))

    def hostile_body(self, mode, body):
        """Sends a 200 whose body misbehaves (see DRIP, ENDLESS, HUGE, CLOSEMID), then ends
        the connection."""
        self.close_connection = True
        w = self.wfile
        try:
            if mode == "ENDLESS":
                w.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
                chunk = b"%x\r\n%s\r\n" % (65536, b" " * 65536)
                while True:
                    w.write(chunk)
            if mode == "HUGE":
                w.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (4 << 30))
                block = b" " * 65536
                for _ in range((4 << 30) // 65536):
                    w.write(block)
            w.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body))
            if mode == "CLOSEMID":
                w.write(body[: len(body) // 2])
                w.flush()
                raise ConnectionResetError()
            for i in range(len(body)):  # DRIP
                w.write(body[i:i + 1])
                w.flush()
                time.sleep(1)
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        raise ConnectionResetError()

    def file_or(self, provider, name, status=200):
        body = fixture(provider, name)
        if body is None:
            return None
        return body.replace(b"{BASE}", self.base.encode())


def guess_provider(parts, q):
    if parts[:3] == ["v8", "finance", "chart"]:
        return "yahoo"
    if parts == ["query"]:
        return "alphavantage"
    if parts and parts[0] in ("v2", "v3"):
        return "polygon"
    if (len(parts) == 2 and parts[1] == "candle") or (parts == ["quote"] and "token" in q):
        return "finnhub"
    if len(parts) == 2 and parts[0] == "stock" and parts[1] in ("split", "dividend", "profile2"):
        return "finnhub"
    if parts in (["time_series"], ["quote"], ["price"], ["splits"], ["dividends"]):
        return "twelvedata"
    return "unknown"


def route_unknown(h, parts, q):
    raise Reply(404, json.dumps({"error": "unknown route"}))


# -- Yahoo ------------------------------------------------------------------------------------
def recent_chart(iv):
    """RECENT: a New York stock's 60m or 30m chart of the last 5 days (today's clock, inside
    Yahoo's 60-day window for 30m bars), each day from 13:30 UTC: 60m bars start at the
    session's open (13:30, 14:30, ...), 30m bar k of a day is open 100+k, high 101+k, low
    99+k, close 100.5+k, volume 1000*(k+1)."""
    today = int(time.time()) // 86400 * 86400
    step, n = (3600, 7) if iv == "60m" else (1800, 13)
    ts, o, hi, lo, c, v = [], [], [], [], [], []
    for d in range(5, 0, -1):
        for k in range(n):
            ts.append(today - d * 86400 + 13 * 3600 + 1800 + k * step)
            x = 50 if iv == "60m" else 100 + k
            o.append(x), hi.append(x + 1), lo.append(x - 1), c.append(x + 0.5), v.append(1000 * (k + 1))
    meta = {"currency": "USD", "symbol": "RECENT", "exchangeName": "NMS", "gmtoffset": -18000,
            "exchangeTimezoneName": "America/New_York", "priceHint": 2, "dataGranularity": iv}
    return json.dumps({"chart": {"result": [{"meta": meta, "timestamp": ts, "indicators": {"quote": [
        {"open": o, "high": hi, "low": lo, "close": c, "volume": v}]}}], "error": None}})


def route_yahoo(h, parts, q):
    if parts[:3] != ["v8", "finance", "chart"] or len(parts) != 4:
        raise Reply(404, fixture("yahoo", "error_not_found"))
    sym = urllib.parse.unquote(parts[3])
    iv = q.get("interval", "1d")
    h.scenario("yahoo", sym, lambda: fixture("yahoo", "chart_AAPL_1d"), "Too Many Requests\r\n")
    if sym == "CRUMB":
        raise Reply(401, fixture("yahoo", "error_unauthorized"))
    if iv not in ("1m", "2m", "5m", "15m", "30m", "60m", "90m", "1h", "1d", "5d", "1wk", "1mo", "3mo"):
        raise Reply(400, fixture("yahoo", "error_bad_interval"))
    if sym == "RECENT" and iv in ("60m", "30m"):
        raise Reply(200, recent_chart(iv))
    if h.mode == "EMPTYRANGE" and not q.get("range"):
        raise Reply(200, fixture("yahoo", "chart_empty_range").replace(b"ZZZZ", sym.encode()))
    body = h.file_or("yahoo", "chart_%s_%s" % (fname(sym), iv))
    if body is None and (iv == "3mo" or (iv == "1mo" and "events" in q)):
        # the splits after a range, or the actions call: any chart's events (and meta) will do
        body = h.file_or("yahoo", "chart_%s_1d" % fname(sym))
    if body is None and q.get("range"):  # quote requests: any chart of the symbol has the meta
        for alt in ("1d", "5m", "60m"):
            body = h.file_or("yahoo", "chart_%s_%s" % (fname(sym), alt))
            if body:
                break
    if body is None:
        raise Reply(404, fixture("yahoo", "error_not_found"))
    raise Reply(200, body)


# -- Alpha Vantage ----------------------------------------------------------------------------
def route_alphavantage(h, parts, q):
    key = q.get("apikey", "")
    fn = q.get("function", "")
    sym = q.get("symbol", "")
    if not key or "invalid" in key:
        raise Reply(200, fixture("alphavantage", "error_apikey"))
    normal = lambda: fixture("alphavantage", "TIME_SERIES_DAILY_IBM")
    h.scenario("alphavantage", sym, normal, fixture("alphavantage", "note"))
    special = {"NOTE": "note", "INFO": "information_ratelimit", "PREMIUM": "information_premium",
               "BURST": "information_burst"}
    if h.mode == "DAYLIMIT":
        sym = "INFO"
    if sym in special:
        raise Reply(200, fixture("alphavantage", special[sym]).replace(b"{APIKEY}", key.encode()))
    if sym == "COMPACTONLY":  # a free key: outputsize=full of the daily series is premium
        if q.get("outputsize") == "full":
            raise Reply(200, fixture("alphavantage", "information_premium_outputsize"))
        sym = "IBM"
    name = "%s_%s" % (fn, fname(sym))
    if fn == "TIME_SERIES_INTRADAY":
        name += "_" + q.get("interval", "")
    body = h.file_or("alphavantage", name)
    if body is None:
        if fn == "GLOBAL_QUOTE":
            raise Reply(200, fixture("alphavantage", "global_quote_empty"))
        raise Reply(200, fixture("alphavantage", "error_message"))
    raise Reply(200, body)


# -- Finnhub ----------------------------------------------------------------------------------
def route_finnhub(h, parts, q):
    key = q.get("token", "")
    sym = q.get("symbol", "")
    if not key or "invalid" in key:
        raise Reply(401, fixture("finnhub", "error_unauthorized"))
    profile = parts == ["stock", "profile2"]
    h.profile_mode(profile)
    normal = "profile2_AAPL" if profile else "candle_AAPL_D"
    h.scenario("finnhub", sym, lambda: fixture("finnhub", normal), fixture("finnhub", "error_ratelimit"))
    candles = len(parts) == 2 and parts[0] in ("stock", "forex", "crypto") and parts[1] == "candle"
    if sym == "FORBIDDEN" or (h.mode == "FORBIDCANDLES" and candles):
        raise Reply(403, fixture("finnhub", "error_forbidden"))
    if parts == ["quote"]:
        body = h.file_or("finnhub", "quote_" + fname(sym))
        raise Reply(200, body or fixture("finnhub", "quote_unknown"))
    if profile:  # an unknown symbol is an empty object
        if h.mode == "NOPROFILE":
            raise Reply(403, fixture("finnhub", "error_forbidden"))
        raise Reply(200, h.file_or("finnhub", "profile2_" + fname(sym)) or fixture("finnhub", "profile2_empty"))
    if len(parts) == 2 and parts[0] == "stock" and parts[1] in ("split", "dividend"):
        if h.mode == "NODIVIDENDS" and parts[1] == "dividend":
            raise Reply(403, fixture("finnhub", "error_forbidden"))
        raise Reply(200, h.file_or("finnhub", "%s_%s" % (parts[1], fname(sym))) or b"[]")
    if candles:
        body = h.file_or("finnhub", "candle_%s_%s" % (fname(sym), q.get("resolution", "")))
        if h.mode == "EMPTYRANGE":
            body = None
        raise Reply(200, body or fixture("finnhub", "no_data"))


# -- Polygon ----------------------------------------------------------------------------------
def route_polygon(h, parts, q):
    key = q.get("apiKey", "")
    if not key or "invalid" in key:
        raise Reply(401, fixture("polygon", "error_unauthorized"))
    sym = urllib.parse.unquote(parts[3]) if len(parts) > 3 else ""
    details = parts[:3] == ["v3", "reference", "tickers"] and len(parts) == 4  # Ticker Details
    if parts[:2] == ["v3", "reference"] and not details:
        sym = q.get("ticker", "")
    if parts[:2] == ["last", "trade"] or parts[1:3] == ["last", "trade"]:
        sym = urllib.parse.unquote(parts[-1])
    h.profile_mode(details)
    normal = "tickers_AAPL" if details else "aggs_AAPL_1_day"
    h.scenario("polygon", sym, lambda: fixture("polygon", normal), fixture("polygon", "error_ratelimit"))
    if sym == "NOTAUTH":
        raise Reply(403, fixture("polygon", "error_not_authorized"))
    if parts[:3] == ["v2", "last", "trade"] and len(parts) == 4 and sym == "NOLAST":
        raise Reply(404, "404 page not found\n", ctype="text/plain; charset=utf-8")
    if parts[:3] == ["v2", "last", "trade"] and len(parts) == 4 and sym == "NOTAUTH200":
        raise Reply(200, fixture("polygon", "error_not_authorized"))
    if parts[:3] == ["v2", "last", "trade"] and len(parts) == 4:
        body = h.file_or("polygon", "last_trade_" + fname(sym))
        if body:
            raise Reply(200, body)
        if fixture("polygon", "prev_" + fname(sym)):
            raise Reply(403, fixture("polygon", "error_not_authorized"))
        raise Reply(404, fixture("polygon", "error_not_found"))
    if parts[:3] == ["v2", "aggs", "ticker"] and len(parts) == 5 and parts[4] == "prev":
        body = h.file_or("polygon", "prev_" + fname(sym))
        raise Reply(200, body or fixture("polygon", "aggs_empty"))
    if parts[:3] == ["v2", "aggs", "ticker"] and len(parts) == 9 and parts[4] == "range":
        if h.mode and h.mode.startswith("E500AT") and parts[7] in h.mode[6:].split("+"):
            raise Reply(500, "<html><body><h1>500 Internal Server Error</h1></body></html>\n", ctype="text/html")
        name = "aggs_%s_%s_%s" % (fname(sym), parts[5], parts[6])
        if q.get("cursor"):
            name += "_" + q["cursor"]
        body = None if h.mode == "EMPTYRANGE" else h.file_or("polygon", name)
        raise Reply(200, body or fixture("polygon", "aggs_empty").replace(b"ZZZZ", sym.encode()))
    if parts[:2] == ["v3", "reference"] and len(parts) == 3 and parts[2] in ("splits", "dividends"):
        body = h.file_or("polygon", "%s_%s" % (parts[2], fname(sym)))
        raise Reply(200, body or fixture("polygon", "reference_empty"))
    if details:
        if h.mode == "NOPROFILE":
            raise Reply(403, fixture("polygon", "error_not_authorized"))
        body = h.file_or("polygon", "tickers_" + fname(sym))
        if body:
            raise Reply(200, body)
        raise Reply(404, fixture("polygon", "tickers_not_found"))
    raise Reply(404, fixture("polygon", "error_not_found"))


# -- Twelve Data ------------------------------------------------------------------------------
def route_twelvedata(h, parts, q):
    key = q.get("apikey", "")
    sym = q.get("symbol", "")
    if not key or "invalid" in key:
        raise Reply(200, fixture("twelvedata", "error_apikey"))
    h.scenario("twelvedata", sym, lambda: fixture("twelvedata", "time_series_AAPL_1day"),
               fixture("twelvedata", "error_ratelimit"))
    special = {"LIMIT200": "error_ratelimit", "NODATA": "error_no_data", "FORBIDDEN": "error_forbidden",
               "DAYCREDITS": "error_daycredits"}
    if sym in special:
        raise Reply(200, fixture("twelvedata", special[sym]))
    if h.mode == "EMPTYRANGE" and parts == ["time_series"]:
        raise Reply(200, fixture("twelvedata", "error_data_not_found").replace(b"ZZZZ", sym.encode()))
    if h.mode == "BADINTERVAL" and parts == ["time_series"]:
        raise Reply(200, fixture("twelvedata", "error_invalid_interval"))
    if parts == ["time_series"]:
        body = h.file_or("twelvedata", "time_series_%s_%s" % (fname(sym), q.get("interval", "")))
    elif parts == ["quote"]:
        body = h.file_or("twelvedata", "quote_" + fname(sym))
    elif parts in (["splits"], ["dividends"]):
        if h.mode == "GROWONLY":
            raise Reply(200, fixture("twelvedata", "error_forbidden_" + parts[0]))
        body = h.file_or("twelvedata", "%s_%s" % (parts[0], fname(sym)))
    else:
        body = None
    raise Reply(200, body or fixture("twelvedata", "error_not_found").replace(b"ZZZZ", sym.encode()))


ROUTES = {"yahoo": route_yahoo, "alphavantage": route_alphavantage, "finnhub": route_finnhub,
          "polygon": route_polygon, "twelvedata": route_twelvedata}


def watch_parent(ppid):
    """Exits when the process that started us is gone (a crashed test)."""
    while True:
        time.sleep(0.5)
        if os.getppid() != ppid:
            os._exit(0)


def main():
    global SLOW_MS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--slow-ms", type=int, default=SLOW_MS)
    args = ap.parse_args()
    SLOW_MS = args.slow_ms
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.allow_reuse_address = True
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    threading.Thread(target=watch_parent, args=(os.getppid(),), daemon=True).start()
    print("PORT %d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
