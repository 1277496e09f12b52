"""The end-to-end HTTP API and ingest tests once more, with the agent on PostgreSQL (a fresh
database of the test fixture per class): same requests, same answers as on sqlite."""
import calendar
import json
import re
import time
import unittest

import test_http_api as http_api
import test_ingest as ingest
from mdtest import Agent, SAMPLE, curl, drop_pg_db, fresh_pg_db, psql, run_cli


class HttpApiPg(http_api.HttpApi):
    pg = True

    def test_the_agent_really_stores_in_postgresql(self):
        h = self.get_json("/health")
        self.assertEqual(h["components"]["store"]["kind"], "postgresql", h)
        self.assertEqual(psql("SELECT count(*) FROM bars", url=self.pg_db), "7869")
        self.assertEqual(psql("SELECT value FROM meta WHERE key = 'layout'", url=self.pg_db), "partitioned")

    def test_loading_twice_is_idempotent(self):
        run_cli("load", SAMPLE + "/MSFT.csv", "--db", self.pg_db, "--quiet")
        self.assertEqual(self.get_json("/symbols")["symbols"][3]["count"], 249)
        self.assertEqual(psql("SELECT count(*) FROM bars", url=self.pg_db), "7869")


class IngestPg(ingest.Ingest):
    pg = True


def _minutes(symbol, day, hour, minute, n, price):
    """n 1m bars from day hour:minute UTC, prices with many digits, vwap and trades."""
    t0 = calendar.timegm(time.strptime(day, "%Y-%m-%d")) + hour * 3600 + minute * 60
    bars = []
    for i in range(n):
        o, c = price, price + ((i * 7919) % 13 - 6) * 0.0123456789012345
        bars.append({"symbol": symbol, "interval": "1m", "timestamp": t0 + 60 * i, "open": o,
                     "high": max(o, c) + 0.01, "low": min(o, c) - 0.01, "close": c,
                     "volume": 1000 + (i * 37) % 500, "vwap": (o + c) / 2, "trades": 10 + i % 7})
        price = c
    return bars


class BackendParity(unittest.TestCase):
    """The same data in SQLite and in PostgreSQL gives the same answers, byte for byte (the
    port in `next` links aside): every read route, intraday and aggregated intervals, session
    filters, adjustments, pages, and edge values (1969, int64-sized volumes, 1e-300 and 1e300
    prices, odd symbols, an upsert over a loaded bar)."""
    KEY = "parity-key"

    @classmethod
    def setUpClass(cls):
        cls.pg_db = fresh_pg_db(cls.__name__)
        env = {"MDAGENT_API_KEYS": cls.KEY}
        args = ("--set", "stream.live_bars=false")  # no timer-written bars to race with
        cls.agents = [Agent(env=env, args=args, name="parity-sqlite"),
                      Agent(db=cls.pg_db, env=env, args=args, name="parity-pg")]
        for ag in cls.agents:
            ag.load(SAMPLE)
            ag.start()
            cls.feed(ag)

    @classmethod
    def tearDownClass(cls):
        bad = [r for r in (ag.finish() for ag in cls.agents) if r]
        drop_pg_db(cls.pg_db)
        if bad:
            raise AssertionError(bad[0])

    @classmethod
    def feed(cls, ag):
        def post(path, doc):
            r = ag.post(path, json.dumps(doc), headers={"Authorization": f"Bearer {cls.KEY}",
                                                        "Content-Type": "application/json"})
            assert r.status == 200 and r.json()["rejected"] == 0, r
        bars = []
        for day in ("2024-03-04", "2024-03-05", "2024-03-06"):  # pre-market, regular, post
            bars += _minutes("BRK.B", day, 9, 0, 30, 400.123456789)
            bars += _minutes("BRK.B", day, 14, 20, 120, 401.987654321)
            bars += _minutes("BRK.B", day, 23, 50, 20, 402.5)
        edge = [("1969-12-31", 1, 1, 1, 1, 1), ("1970-01-01", 1, 2, 0.5, 1.5, 0),
                ("1970-01-02", 1.5, 2, 1, 1.75, 9007199254740993),
                ("1999-12-31", 0.1234567890123456789, 0.2, 0.1, 0.15, 9.2e18),
                ("2000-01-03", 1e-300, 1e-299, 1e-301, 5e-300, 1.5),
                ("2000-01-04", 1.7976931348623157e300, 1.7976931348623157e300, 1e300, 1.2e300,
                 12345678901234567890),
                ("2000-01-05", 3.3333333333333335, 4.4, 2.2, 3.141592653589793, 0.000001)]
        bars += [{"symbol": "EDGE", "interval": "1d", "timestamp": t, "open": o, "high": h, "low": lo,
                  "close": c, "volume": v} for t, o, h, lo, c, v in edge]
        bars += [{"symbol": "x_y.z-1", "interval": "1d", "timestamp": "2020-01-02", "open": 1,
                  "high": 1, "low": 1, "close": 1, "volume": 1},
                 {"symbol": "^ODD=X", "interval": "1h", "timestamp": "2020-01-02T10:00:00Z",
                  "open": 1, "high": 1, "low": 1, "close": 1}]
        post("/ingest/bars", {"bars": bars})
        for close in (51.5, 51.25):  # an upsert over a loaded bar, twice
            post("/ingest/bars", {"bars": [{"symbol": "MSFT", "interval": "1d", "timestamp": "2001-09-27",
                                            "open": 50, "high": 53, "low": 49, "close": close,
                                            "volume": 124}]})
        post("/ingest/actions", {"actions": [
            {"symbol": "MSFT", "type": "split", "ex_date": "2001-03-01", "numerator": 2, "denominator": 1},
            {"symbol": "MSFT", "type": "dividend", "ex_date": "2001-06-01", "amount": 0.08, "currency": "USD"},
            {"symbol": "BRK.B", "type": "split", "ex_date": "2024-03-05", "numerator": 3, "denominator": 2}]})
        post("/ingest/quotes", {"quotes": [{"symbol": "QONLY", "price": 7.123456789012345,
                                            "timestamp": "2024-01-02T15:00:00Z", "bid": 7.1, "ask": 7.2}]})

    @staticmethod
    def routes():
        co = "cached_only=true"
        for s in ("MSFT", "DAX", "XTSSIM", "EDGE", "X_Y.Z-1", "%5EODD=X", "QONLY", "BRK.B"):
            yield f"/historical/{s}?{co}&adjust=none&limit=100000"
            yield from (f"/symbols/{s}", f"/actions/{s}?{co}", f"/price/{s}", f"/quality/{s}",
                        f"/validate/{s}", f"/analytics/{s}/summary?{co}")
        for s in ("MSFT", "BRK.B", "EDGE"):
            for iv in ("1m", "5m", "1h", "4h", "1d", "1w", "1mo"):
                yield f"/historical/{s}?{co}&interval={iv}&adjust=all&limit=100000"
                yield f"/historical/{s}?{co}&interval={iv}&limit=7&order=desc&format=csv"
                yield f"/quality/{s}?interval={iv}"
                yield f"/analytics/{s}/indicators?{co}&interval={iv}&names=sma:5,rsi,macd,bbands,obv&limit=50"
        for sess in ("extended", "regular"):
            for iv in ("15m", "1h", "1d"):
                yield (f"/historical/BRK.B?{co}&interval={iv}&session={sess}"
                       "&start=2024-03-04T14:37:00Z&end=2024-03-06T15:00:00Z&limit=11")
        yield f"/historical?symbols=MSFT,DAX,BRK.B,NOPE,EDGE&{co}&limit=50&order=desc&interval=1w"
        yield "/prices?symbols=MSFT,DAX,QONLY,BRK.B,NOPE"
        yield from ("/symbols", "/quality/report", "/quality/report?interval=1m")
        yield f"/analytics/returns?symbols=MSFT,DAX,CAC&{co}&align=outer&kind=log&adjust=all&format=csv"
        yield f"/analytics/correlation?symbols=DAX,CAC,FTSE,SMI&benchmark=DAX&window=20&pair=CAC,FTSE&{co}"

    def answer(self, ag, path):
        r = ag.get(path)
        # what may differ: the agent's own address in links, and the clock
        body = r.body.replace(f"127.0.0.1:{ag.port}", "HOST")
        body = re.sub(r'"(age_s|as_of|stale|cache|checked_at)":("[^"]*"|[-0-9.e]+|true|false|null)',
                      r'"\1":X', body)
        return r.status, r.headers.get("link", "").replace(str(ag.port), "PORT"), body

    def test_every_read_route_answers_the_same(self):
        sq, pg = self.agents
        n = 0
        for path in self.routes():
            a, b = self.answer(sq, path), self.answer(pg, path)
            self.assertLess(a[0], 500, (path, a))
            self.assertEqual(a, b, path)
            n += 1
        self.assertGreater(n, 100)

    def test_pages_followed_to_the_end_are_the_same(self):
        for path in ("/historical/MSFT?cached_only=true&limit=17&interval=1w",
                     "/historical/BRK.B?cached_only=true&limit=100&interval=5m&order=desc",
                     "/historical?symbols=MSFT,DAX,BRK.B&cached_only=true&limit=333",
                     "/analytics/BRK.B/indicators?cached_only=true&interval=1m&limit=77&names=rsi"):
            pages = []
            for ag in self.agents:
                got, url = [], path
                while url:
                    status, _, body = self.answer(ag, url)
                    self.assertEqual(status, 200, (url, body[:300]))
                    got.append(body)
                    m = re.search(r'"next":"http://HOST(/[^"]+)"', body)
                    url = m and m.group(1)
                pages.append(got)
            self.assertGreater(len(pages[0]), 1, path)
            self.assertEqual(pages[0], pages[1], path)


if __name__ == "__main__":
    unittest.main()
