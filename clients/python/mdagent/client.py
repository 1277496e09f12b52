"""The mdagent REST and WebSocket client.

    from mdagent import Client
    md = Client("http://127.0.0.1:8080", api_key=None)
    df = md.history(["DAX", "SMI"], start="1996-01-01", end="1997-01-01", interval="1w")

The REST calls need the standard library only; with pandas installed the tabular answers are
DataFrames (timestamps as UTC datetimes), without it lists of dicts. stream() needs the
`websockets` package (Debian: python3-websockets). Every error answer raises a subclass of
MdagentError carrying the agent's error code (mdagent.errors). An answer with a "next" URL
(or a Link: rel="next" header) is followed to its end."""
import asyncio
import datetime as _dt
import json
import math
import re
import urllib.error
import urllib.parse
import urllib.request

from .errors import MdagentError, StreamError, raise_for

try:  # optional
    import pandas as _pd
except ImportError:  # pragma: no cover - exercised where pandas is absent
    _pd = None

_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
BAR_COLUMNS = ["open", "high", "low", "close", "volume"]


def _time(v):
    """A time parameter as the agent takes it: str as given, int/float epoch seconds,
    date, datetime (naive = UTC) or pandas Timestamp."""
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bool):
        raise TypeError("a time, not a bool")
    if isinstance(v, (int, float)):
        return str(int(v))
    if _pd is not None and isinstance(v, _pd.Timestamp):
        v = v.to_pydatetime()
    if isinstance(v, _dt.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=_dt.timezone.utc)
        return v.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(v, _dt.date):
        return v.isoformat()
    raise TypeError(f"cannot use {type(v).__name__} as a time")


def _flag(v):
    """A boolean parameter as the agent takes it (None: not sent)."""
    return None if v is None else ("true" if v else "false")


def _symbol_path(symbol):
    # the {symbol} capture takes the rest of the path: "/" (EUR/USD) and "^" stay as they are
    return urllib.parse.quote(str(symbol), safe="/^=.-_")


class Client:
    """A client of one agent. api_key enables the write endpoints (ingest_*); timeout is per
    HTTP request, in seconds."""

    def __init__(self, url, api_key=None, timeout=60.0):
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout

    # -- HTTP --------------------------------------------------------------------------------

    def _url(self, path, params=None):
        url = path if re.match(r"^https?://", path) else self.url + path
        if params:
            q = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
            if q:
                url += ("&" if "?" in url else "?") + q
        return url

    def _request(self, method, url, body=None, content_type=None):
        headers = {"Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        if body is not None:
            headers["Content-Type"] = content_type or "application/json"
        req = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            raise_for(e.code, e.read())
        except urllib.error.URLError as e:
            raise MdagentError("unreachable", f"{url}: {e.reason}") from e

    def get(self, path, **params):
        """GET a route and decode its JSON answer (any route of /openapi.json)."""
        return json.loads(self._request("GET", self._url(path, params))[2])

    def _post(self, path, obj, params=None):
        return json.loads(self._request("POST", self._url(path, params), json.dumps(obj).encode())[2])

    def _pages(self, url):
        """Yields every JSON page of a paged answer, following next links."""
        while url:
            _, headers, body = self._request("GET", url)
            page = json.loads(body)
            yield page
            nxt = page.get("next")
            if not nxt:
                m = _LINK_NEXT.search(headers.get("Link") or "")
                nxt = m.group(1) if m else None
            url = urllib.parse.urljoin(self.url + "/", nxt) if nxt else None

    # -- data ----------------------------------------------------------------------------------

    def _paged(self, path, params, limit, page_size, take):
        """Follows the pages of a paged route (its `next` links) and gives each page to take(page,
        room), which keeps at most room rows (None: all) and returns how many it kept. limit:
        at most this many rows in all, the newest of the range (asked newest first: order=desc,
        and the caller puts them back in time order); page_size: rows per request (None: the
        agent's server.default_limit)."""
        params = dict(params)  # a limit below 1 goes to the agent, which refuses it
        if limit is not None:
            params["order"] = "desc"
            size = int(limit) if page_size is None else min(int(limit), int(page_size))
        else:
            size = page_size
        params["limit"] = size
        got = 0
        for page in self._pages(self._url(path, params)):
            got += take(page, None if limit is None else int(limit) - got)
            if limit is not None and got >= int(limit):
                break
        return limit is not None

    def history(self, symbols, start=None, end=None, interval="1d", adjust=None, limit=None,
                source=None, cached_only=None, partial=None, page_size=None, raise_errors=True,
                session=None):
        """Bars of one symbol (a str: indexed by timestamp) or several (a list: long format,
        one row per symbol and timestamp, columns symbol, timestamp, open, high, low, close,
        volume, ...), oldest first (several: by timestamp, then symbol in the order given). The
        agent answers a range in pages; every page is read (its `next` link followed),
        page_size rows per request (default: the agent's server.default_limit). limit: at most
        this many bars of each symbol, the newest of the range. adjust: "none" (as traded),
        "splits" (the agent's default) or "all" (splits and dividends). partial="exclude"
        leaves out the bars cut by the range or still forming. session (intraday intervals):
        "all" (the agent's default), "extended" or "regular" hours.
        Several symbols are asked with GET /historical?symbols= (pages of page_size rows of all
        symbols together; with limit, each symbol's newest bars are asked on its own). A symbol
        that fails (unknown, invalid) raises its typed exception, or with raise_errors=False
        is left out and listed with its code in the frame's attrs["errors"]. An agent without
        the multi-symbol route is asked one symbol at a time (the same rows)."""
        params = {"interval": interval, "start": _time(start), "end": _time(end),
                  "source": source, "adjust": adjust, "partial": partial, "session": session,
                  "cached_only": _flag(cached_only)}

        def one(sym, tag):
            rows = []

            def take(page, room):
                bars = page.get("bars", [])[:room] if room is not None else page.get("bars", [])
                rows.extend(dict(b, symbol=page.get("symbol", sym)) if tag else b for b in bars)
                return len(bars)

            if self._paged(f"/historical/{_symbol_path(sym)}", params, limit, page_size, take):
                rows.reverse()  # asked newest first
            return rows

        if isinstance(symbols, str):
            return self._bars_frame(one(symbols, False), index=True)
        symbols = list(symbols)
        if not symbols:
            raise ValueError("give at least one symbol")

        def one_by_one():
            rows, errors = [], []
            for s in symbols:
                try:
                    rows.extend(one(s, True))
                except MdagentError as e:
                    if raise_errors or e.status not in (400, 404):
                        raise
                    errors.append({"symbol": s, "code": e.code, "message": e.message})
            return rows, errors

        rows, errors = [], []
        if limit is not None:  # the newest `limit` of each symbol: one symbol at a time
            rows, errors = one_by_one()
        else:
            try:
                url = self._url("/historical", dict(params, symbols=",".join(symbols), limit=page_size))
                for page in self._pages(url):  # rows by symbol, then time; each error once
                    rows.extend(page.get("bars", []))
                    errors.extend(page.get("errors", []))
            except MdagentError as e:
                # an agent without the multi-symbol route: 404 "no route" (or 405)
                if e.code != "method_not_allowed" and (e.code != "not_found" or "no route" not in (e.message or "")):
                    raise
                rows, errors = one_by_one()
        if errors and raise_errors:
            from .errors import error_class

            e = errors[0]
            raise error_class(e["code"])(e["code"], f"{e['symbol']}: {e['message']}")
        order = {s: i for i, s in enumerate(symbols)}
        order.update({str(s).upper(): i for i, s in enumerate(symbols)})
        rows.sort(key=lambda b: (b["timestamp"], order.get(b["symbol"], len(order))))
        df = self._bars_frame(rows, index=False)
        if _pd is not None:
            df.attrs["errors"] = errors
        return df

    @staticmethod
    def _bars_frame(rows, index):
        if _pd is None:
            return rows
        cols = (["symbol"] if not index else []) + ["timestamp"] + BAR_COLUMNS
        df = _pd.DataFrame(rows)
        if df.empty:
            df = _pd.DataFrame(columns=cols + ["source", "quality"])
        df["timestamp"] = _pd.to_datetime(df["timestamp"], utc=True)
        rest = [c for c in df.columns if c not in cols]
        df = df[[c for c in cols if c in df.columns] + rest]
        if index:
            df = df.set_index("timestamp")
        return df

    def price(self, symbol, max_age=None, source=None):
        """The latest price of one symbol (a dict: symbol, price, timestamp, source, quality...)."""
        return self.get(f"/price/{_symbol_path(symbol)}", max_age=max_age, source=source)

    def prices(self, symbols, max_age=None, raise_errors=False):
        """Latest prices of several symbols in one call. A DataFrame indexed by symbol (dicts by
        symbol without pandas); a symbol that failed has no price and its error code in the
        "error" column, or raises its typed exception with raise_errors=True."""
        if isinstance(symbols, str):
            symbols = [symbols]
        ans = self.get("/prices", symbols=",".join(symbols), max_age=max_age)
        errors = ans.get("errors", [])
        if errors and raise_errors:
            from .errors import error_class

            e = errors[0]
            raise error_class(e["code"])(e["code"], f"{e['symbol']}: {e['message']}")
        out = {p["symbol"]: dict(p, error=None) for p in ans.get("prices", [])}
        for e in errors:
            out[e["symbol"]] = {"symbol": e["symbol"], "price": None, "error": e["code"], "message": e["message"]}
        if _pd is None:
            return out
        df = _pd.DataFrame(list(out.values())).set_index("symbol")
        if "timestamp" in df:
            df["timestamp"] = _pd.to_datetime(df["timestamp"], utc=True)
        return df

    def indicators(self, symbol, names, start=None, end=None, interval="1d", limit=None,
                   adjust=None, page_size=None, partial=None, session=None, source=None,
                   cached_only=None):
        """Indicator series of one symbol aligned with its bars: a DataFrame indexed by
        timestamp with "close" and one column per indicator output ("sma:20",
        "macd:12:26:9.signal"); null (NaN) during warm-up. names: "sma:20,rsi" or a list.
        Paged as history(): every page read; limit: the newest this many rows. adjust,
        partial, session, source and cached_only as in history()."""
        if not isinstance(names, str):
            names = ",".join(names)
        params = {"names": names, "interval": interval, "start": _time(start), "end": _time(end),
                  "adjust": adjust, "partial": partial, "session": session, "source": source,
                  "cached_only": _flag(cached_only)}
        stamps, columns = [], {}

        def take(page, room):
            ts = page.get("timestamps", [])
            n = len(ts) if room is None else min(room, len(ts))
            stamps.extend(ts[:n])
            cols = {"close": page.get("close", [])}
            for name, series in page.get("indicators", {}).items():
                if isinstance(series, dict):
                    for out, values in series.items():
                        cols[f"{name}.{out}"] = values
                else:
                    cols[name] = series
            for k, v in cols.items():
                columns.setdefault(k, []).extend(v[:n])
            return n

        if self._paged(f"/analytics/{_symbol_path(symbol)}/indicators", params, limit, page_size,
                       take):
            stamps.reverse()  # asked newest first
            for v in columns.values():
                v.reverse()
        if _pd is None:
            return {"timestamp": stamps, **columns}
        df = _pd.DataFrame({k: _pd.to_numeric(_pd.Series(v, dtype="object"), errors="coerce") for k, v in columns.items()})
        df.index = _pd.to_datetime(_pd.Series(stamps, dtype="object"), utc=True)
        df.index.name = "timestamp"
        return df

    def summary(self, symbol, start=None, end=None, interval="1d", adjust=None, partial=None,
                session=None, source=None, cached_only=None):
        """Returns, volatility, drawdown of a range (a dict). adjust, partial, session, source
        and cached_only as in history()."""
        return self.get(f"/analytics/{_symbol_path(symbol)}/summary", interval=interval,
                        start=_time(start), end=_time(end), adjust=adjust, partial=partial,
                        session=session, source=source, cached_only=_flag(cached_only))

    def quality(self, symbol=None, start=None, end=None, interval=None, issues=None):
        """The A-F assessment of a symbol's stored data (a dict with grade, score, dimensions,
        issues), or with no symbol the report of every stored series."""
        params = {"interval": interval, "start": _time(start), "end": _time(end)}
        if symbol is None:
            return self.get("/quality/report", **params)
        return self.get(f"/quality/{_symbol_path(symbol)}", issues=issues, **params)

    def symbols(self):
        return self.get("/symbols")["symbols"]

    # -- writes ----------------------------------------------------------------------------------

    def ingest_bars(self, bars, symbol=None, interval="1d", batch=5000):
        """Stores bars: a DataFrame (a DatetimeIndex or a timestamp column; open, high, low,
        close, optional volume, vwap, trades and symbol) or a list of dicts. symbol and
        interval apply to rows without their own. Sent in batches; returns the agent's answers
        added up: {"accepted", "rejected", "errors": [{"index", "code", "message"}]} (index
        into the rows given). Needs an API key."""
        rows = self._records(bars)
        total = {"accepted": 0, "rejected": 0, "errors": []}
        for at in range(0, len(rows), batch):
            chunk = []
            for r in rows[at:at + batch]:
                b = {"symbol": r.get("symbol", symbol), "interval": r.get("interval", interval),
                     "timestamp": _time(r.get("timestamp"))}
                if b["symbol"] is None:
                    raise ValueError("a row has no symbol: give symbol= or a symbol column")
                for k in BAR_COLUMNS + ["vwap", "trades"]:
                    v = r.get(k)
                    if v is None or (isinstance(v, float) and math.isnan(v)):
                        continue
                    b[k] = int(v) if k == "trades" else float(v)
                chunk.append(b)
            ans = self._post("/ingest/bars", {"bars": chunk})
            total["accepted"] += ans.get("accepted", 0)
            total["rejected"] += ans.get("rejected", 0)
            total["errors"].extend(dict(e, index=e["index"] + at) for e in ans.get("errors", []))
        return total

    def ingest_quotes(self, quotes):
        """Stores quotes: dicts (or a DataFrame) of symbol, price, timestamp, optional volume,
        bid, ask. Needs an API key."""
        rows = [{k: (_time(v) if k == "timestamp" else v) for k, v in r.items()
                 if v is not None and not (isinstance(v, float) and math.isnan(v))}
                for r in self._records(quotes)]
        return self._post("/ingest/quotes", {"quotes": rows})

    @staticmethod
    def _records(data):
        if _pd is not None and isinstance(data, _pd.DataFrame):
            df = data
            if "timestamp" not in df.columns:
                df = df.rename_axis("timestamp").reset_index()
            return df.to_dict("records")
        return [dict(r) for r in data]

    # -- the stream ------------------------------------------------------------------------------

    def ws_url(self):
        u = urllib.parse.urlsplit(self.url)
        scheme = "wss" if u.scheme == "https" else "ws"
        return urllib.parse.urlunsplit((scheme, u.netloc, u.path.rstrip("/") + "/stream", "", ""))

    async def stream(self, symbols, channels=("quote",), since_seq=None, reconnect=True,
                     max_backoff=5.0, open_timeout=10.0):
        """Live messages of the subscribed symbols and channels ("quote", "bar.1m", ...), as
        dicts, in order, each once: an async iterator that reconnects when the connection
        drops and resumes where it stopped (since_seq = the last seq it yielded), also on
        another agent of the same deployment (agents on one Redis share the numbers). When a
        standalone agent itself restarted (another instance), its numbers start again: the new
        instance replays all it holds. A resume older than what the agent still holds yields
        {"type": "gap", "since_seq": N} first: fill it with history(). Also yields "lagged"
        messages (a slow reader's queue was conflated). An error message about the
        subscription raises StreamError; with reconnect=False a dropped connection does too.
        Needs the `websockets` package (Debian: python3-websockets)."""
        import websockets  # imported here: the REST calls need only the standard library
        from websockets.exceptions import ConnectionClosed, InvalidHandshake

        if isinstance(symbols, str):
            symbols = [symbols]
        if isinstance(channels, str):
            channels = [channels]
        last, instance, backoff = since_seq, None, 0.1
        while True:
            try:
                ws = await websockets.connect(self.ws_url(), max_size=16 << 20,
                                              open_timeout=open_timeout)
            except (OSError, InvalidHandshake, asyncio.TimeoutError) as e:
                if not reconnect:
                    raise StreamError("unreachable", f"{self.ws_url()}: {e}") from e
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, max_backoff)
                continue
            try:
                welcome = json.loads(await ws.recv())
                if (instance is not None and welcome.get("instance") != instance
                        and welcome.get("sequence") != "deployment"):
                    # another agent process numbering its own messages: its seq restarted,
                    # take all it holds (agents of one deployment share the numbers: resume)
                    last = 0
                instance = welcome.get("instance")
                sub = {"op": "subscribe", "symbols": list(symbols), "channels": list(channels)}
                if last is not None:
                    sub["since_seq"] = last
                await ws.send(json.dumps(sub))
                async for raw in ws:
                    msg = json.loads(raw)
                    kind = msg.get("type")
                    if kind == "subscribed":
                        backoff = 0.1
                        if msg.get("replay_complete") is False:
                            yield {"type": "gap", "since_seq": last}
                    elif kind == "error":
                        raise StreamError(msg.get("code"), msg.get("message", ""))
                    elif kind in ("welcome", "pong", "unsubscribed"):
                        continue
                    elif "seq" in msg:
                        # the agent sends each message once, the replay first, in order;
                        # messages it derives itself (live bars, indicators) carry the seq
                        # of the message before them, so a seq may repeat: never dropped
                        if last is None or msg["seq"] > last:
                            last = msg["seq"]
                        yield msg
                    else:
                        yield msg  # lagged, and kinds this client does not know
                raise ConnectionClosed(None, None)  # the agent closed normally (shutdown)
            except ConnectionClosed as e:
                if not reconnect:
                    raise StreamError("closed", f"the stream closed: {e}") from e
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, max_backoff)
            finally:
                await ws.close()
