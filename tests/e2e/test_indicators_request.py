"""End to end: an indicator's value at a timestamp does not depend on the request. For every
indicator of the table (at its defaults and at other parameters), the value at each bar of
a narrower answer (start, end, limit, other names asked alongside, the same names in another
order) equals, bit for bit, the value at that bar when the whole series is asked. Also on
weekly bars aggregated from the daily ones, on intraday bars (vwap resets each UTC day), and on
daily and weekly bars made of New York sessions from 1-minute bars.
Regression: rsi:14 on TTRC at 1990-01-02 alone and next to macd:12:26:9 (63.70 vs 64.44).
Regression: a session's bar labelled a day before its first minute bar (post-market past
midnight UTC) was left out of the history before a later start and of psar's seed."""
import datetime
import os
import statistics
import tempfile
import unittest
import urllib.parse

from mdtest import SRC, AgentTest

TTRC = os.path.join(SRC, "tests", "fixtures", "indicators", "TTRC.csv")

# (query, names asked alongside) variants of a request for one indicator.
VARIANTS = [
    ("start=1990-01-02&end=1990-06-01", ""),
    ("start=1990-01-02&end=1990-06-01", "macd:12:26:9,sma:200"),
    ("limit=40", ""),
    ("start=2000-01-01&limit=100", "ema:5"),
    ("end=1985-04-01", ""),
    ("start=1985-01-03&end=1985-03-01", "adx:30,psar"),
    ("start=2006-12-29", ""),
]


class RequestIndependence(AgentTest):
    load_sample = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.agent.load(TTRC)
        # three UTC days of 1-minute bars, 150 a day, from 13:00 (vwap sessions)
        cls.tmp = tempfile.mkdtemp()
        path = os.path.join(cls.tmp, "INTRA.csv")
        with open(path, "w") as f:
            f.write("timestamp,open,high,low,close,volume\n")
            p = 100.0
            for day in (2, 3, 4):
                for m in range(150):
                    p += ((m * 7919 + day * 104729) % 13 - 6) * 0.01
                    f.write(f"2024-01-{day:02d}T{13 + m // 60:02d}:{m % 60:02d}:00Z,"
                            f"{p:.2f},{p + 0.05:.2f},{p - 0.05:.2f},{p + 0.01:.2f},"
                            f"{100 + (m * 31) % 17}\n")
        cls.agent.load(path, extra=("--interval", "1m", "--symbol", "INTRA"))
        # New York sessions (XNYS, the default calendar) from 1-minute bars: each weekday D of
        # 2024-01-02 .. 01-19 (01-15 is a holiday) has bars 14:30-15:29Z and its post-market
        # 19:00-19:59 New York, which is 00:00-00:59Z of the next UTC day; the first session,
        # 01-02, has only those, so its bar is labelled a day before its first minute bar
        path = os.path.join(cls.tmp, "NYPOST.csv")
        with open(path, "w") as f:
            f.write("timestamp,open,high,low,close,volume\n")
            p, k = 50.0, 0
            for day in range(2, 20):
                d = datetime.datetime(2024, 1, day, tzinfo=datetime.timezone.utc)
                if d.weekday() >= 5 or day == 15:
                    continue
                starts = [d + datetime.timedelta(days=1)]
                if day > 2:
                    starts.insert(0, d + datetime.timedelta(hours=14, minutes=30))
                for t0 in starts:
                    for m in range(60):
                        k += 1
                        p += ((k * 7919) % 11 - 5) * 0.01
                        t = t0 + datetime.timedelta(minutes=m)
                        f.write(f"{t:%Y-%m-%dT%H:%M:%SZ},{p:.2f},{p + 0.02 + (k % 7) * 0.01:.2f},"
                                f"{p - 0.03 - (k % 5) * 0.01:.2f},{p + 0.01:.2f},{100 + k % 23}\n")
        cls.agent.load(path, extra=("--interval", "1m", "--symbol", "NYPOST"))
        cls.table = cls.get_table()

    @classmethod
    def get_table(cls):
        return cls.agent.get("/analytics/indicators").json()["indicators"]

    def ask(self, symbol, names, query, interval="1d"):
        q = f"interval={interval}&names={urllib.parse.quote(names, safe=',:')}"
        if query:
            q += "&" + query
        doc = self.get_json(f"/analytics/{symbol}/indicators?{q}")
        return doc

    @staticmethod
    def by_ts(doc, spec):
        """{(output, timestamp): value} of one indicator of a document."""
        v = doc["indicators"][spec]
        series = v if isinstance(v, dict) else {"value": v}
        return {(o, t): x for o, xs in series.items() for t, x in zip(doc["timestamps"], xs)}

    def check(self, symbol, spec, interval="1d", variants=VARIANTS):
        whole = self.ask(symbol, spec, "limit=1000000", interval)
        full = self.by_ts(whole, spec)
        canon = list(whole["indicators"])[0]
        self.assertGreater(whole["count"], 0)
        for query, others in variants:
            names = f"{others},{spec}" if others else spec
            doc = self.ask(symbol, names, query, interval)
            part = self.by_ts(doc, canon)
            for key, value in part.items():
                self.assertIn(key, full, f"{spec} {query}")
                self.assertEqual(value, full[key],
                                 f"{symbol} {interval} {canon} {key} with ?{query} names={names}")

    def specs(self):
        out = [d["default"] for d in self.table]
        out += ["sma:3", "ema:50", "rsi:5", "macd:3:10:4", "bbands:5:1", "atr:3", "adx:5",
                "psar:0.05:0.3", "stoch:5:2:2", "aroon:5", "keltner:5:1", "tema:4", "mfi:3",
                "cci:5", "wma:4", "dema:4", "willr:3", "donchian:4", "roc:3", "mom:3",
                "stddev:4"]
        return out

    def test_every_indicator_daily(self):
        for spec in self.specs():
            with self.subTest(spec=spec):
                self.check("TTRC", spec)

    def test_every_indicator_weekly_aggregated(self):
        # a start or end inside a week takes the whole week (docs/indicators.md), so its values
        # are the whole series' too
        weekly = [("start=1990-01-01&end=1990-12-31", ""), ("limit=30", "macd:12:26:9"),
                  ("end=1986-01-06", ""), ("start=1995-03-08&end=1995-06-05", "sma:3")]
        for spec in [d["default"] for d in self.table]:
            with self.subTest(spec=spec):
                self.check("TTRC", spec, "1w", weekly)

    def test_every_indicator_intraday(self):
        intra = [("start=2024-01-03T13:30:00Z&end=2024-01-03T14:00:00Z", ""),
                 ("limit=10", "macd:12:26:9"), ("start=2024-01-04T00:00:00Z", "")]
        for spec in [d["default"] for d in self.table]:
            with self.subTest(spec=spec):
                self.check("INTRA", spec, "1m", intra)

    def test_exchange_sessions_from_minute_bars(self):
        bars = self.get_json("/historical/NYPOST?interval=1d&limit=1000")["bars"]
        self.assertEqual([b["timestamp"][:10] for b in bars][:2], ["2024-01-02", "2024-01-03"])
        self.assertEqual(len(bars), 13)
        daily = [("start=2024-01-05", ""), ("start=2024-01-09&end=2024-01-12", "ema:3"),
                 ("limit=3&order=desc", ""), ("start=2024-01-03&limit=4", "psar")]
        weekly = [("start=2024-01-08", ""), ("start=2024-01-10&end=2024-01-20", "obv")]
        for spec in ["sma:2", "ema:3", "wma:2", "obv", "rsi:2", "atr:2", "adx:2", "mfi:2",
                     "macd:2:3:2", "psar:0.02:0.2", "psar:0.05:0.3", "stoch:2:2:1", "cci:2", "aroon:2"]:
            with self.subTest(spec=spec):
                self.check("NYPOST", spec, "1d", daily)
                self.check("NYPOST", spec, "1w", weekly)
        for query in ("limit=1000", "start=2024-01-10"):
            doc = self.ask("NYPOST", "sma:2", query)
            self.assertEqual(doc["series_start"], "2024-01-02T00:00:00Z", query)
        # psar's seed, as TTR::SAR: the first low less the sample sd of high - low over the
        # whole series of daily bars, the first session's included
        psar = self.ask("NYPOST", "psar", "limit=1000")["indicators"]["psar:0.02:0.2"]
        sd = statistics.stdev(b["high"] - b["low"] for b in bars)
        self.assertAlmostEqual(psar[0], bars[0]["low"] - sd, delta=1e-9 * bars[0]["low"])

    def test_rsi_next_to_macd_regression(self):
        alone = self.ask("TTRC", "rsi:14", "start=1990-01-02&end=1990-01-03")
        pair = self.ask("TTRC", "rsi:14,macd:12:26:9", "start=1990-01-02&end=1990-01-03")
        self.assertEqual(alone["timestamps"], ["1990-01-02T00:00:00Z"])
        self.assertEqual(alone["indicators"]["rsi:14"], pair["indicators"]["rsi:14"])
        self.assertEqual(alone["series_start"], "1985-01-02T00:00:00Z")

    def test_vwap_resets_each_utc_day(self):
        doc = self.ask("INTRA", "vwap", "limit=1000", "1m")
        bars = self.get_json("/historical/INTRA?interval=1m&limit=1000")["bars"]
        self.assertEqual(len(bars), 450)
        vw = doc["indicators"]["vwap"]
        pv = vv = 0.0
        day = None
        for b, x in zip(bars, vw):
            if b["timestamp"][:10] != day:
                day, pv, vv = b["timestamp"][:10], 0.0, 0.0
            pv += (b["high"] + b["low"] + b["close"]) / 3 * b["volume"]
            vv += b["volume"]
            self.assertAlmostEqual(x, pv / vv, delta=1e-9 * x, msg=b["timestamp"])
        # the first bar of a day is its own typical price
        first = [i for i, b in enumerate(bars) if b["timestamp"].endswith("T13:00:00Z")]
        self.assertEqual(len(first), 3)
        for i in first:
            b = bars[i]
            self.assertAlmostEqual(vw[i], (b["high"] + b["low"] + b["close"]) / 3, delta=1e-9)


if __name__ == "__main__":
    unittest.main()
