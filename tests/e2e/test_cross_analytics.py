"""End to end: cross-symbol analytics (/analytics/returns, /analytics/correlation) against
an independent computation with pandas and numpy (Debian's python3-pandas, python3-numpy)
from the CSV files the agent loaded, within 1e-9.

Data: the four EuStockMarkets indices of data/sample (same dates), and two series with holes
and different starts ingested here, for the alignment rules (docs/API.md): inner is
pd.concat(closes, axis=1, join="inner").pct_change() without its first row; outer is each
series' own pct_change() on the union of their timestamps."""
import csv
import io
import json
import math
import os
import unittest

import numpy as np
import pandas as pd

from mdtest import SAMPLE, AgentTest

KEY = "cross-test-key"
EU = ["DAX", "SMI", "CAC", "FTSE"]
TOL = 1e-9


def sample_closes(symbol):
    df = pd.read_csv(os.path.join(SAMPLE, f"{symbol}.csv"))
    idx = pd.to_datetime(df["date"]).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return pd.Series(df["close"].to_numpy(dtype=float), index=idx, name=symbol)


def holes():
    """Two daily series with holes: GAPA on every day but a few, GAPB from later, on
    different days missing."""
    days = pd.date_range("2021-01-04", periods=120, freq="D")
    rnd = np.random.default_rng(42)
    a = 100 * np.cumprod(1 + rnd.normal(0, 0.01, len(days)))
    b = 50 * np.cumprod(1 + 0.5 * rnd.normal(0, 0.01, len(days)) + 0.004 * rnd.normal(0, 1, len(days)))
    keep_a = [i for i in range(len(days)) if i % 17 != 5]
    keep_b = [i for i in range(10, len(days)) if i % 11 != 3]
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    sa = pd.Series([round(a[i], 4) for i in keep_a], index=[days[i].strftime(fmt) for i in keep_a],
                   name="GAPA")
    sb = pd.Series([round(b[i], 4) for i in keep_b], index=[days[i].strftime(fmt) for i in keep_b],
                   name="GAPB")
    return sa, sb


def close_enough(tc, got, want, what):
    if want is None or (isinstance(want, float) and math.isnan(want)):
        tc.assertIsNone(got, f"{what}: want null")
        return
    tc.assertIsNotNone(got, f"{what}: want {want!r}, got null")
    tc.assertLessEqual(abs(got - want), TOL, f"{what}: got {got!r} want {want!r}")


class CrossAnalytics(AgentTest):
    env = {"MDAGENT_API_KEYS": KEY}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.gapa, cls.gapb = holes()
        bars = []
        for s in (cls.gapa, cls.gapb):
            for ts, c in s.items():
                bars.append({"symbol": s.name, "interval": "1d", "timestamp": ts, "open": c,
                             "high": c, "low": c, "close": c, "volume": 1})
        r = cls.agent.post("/ingest/bars", json.dumps({"bars": bars}),
                           headers={"X-API-Key": KEY, "Content-Type": "application/json"})
        assert r.status == 200 and r.json()["accepted"] == len(bars), r

    def get_json(self, path):
        r = self.agent.get(path)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def frame(self, doc):
        return pd.DataFrame({s: doc["returns"][s] for s in doc["symbols"]},
                            index=doc["timestamps"], dtype=float)

    def assert_frame(self, got, want, what):
        self.assertEqual(list(got.index), list(want.index), f"{what}: timestamps")
        self.assertEqual(list(got.columns), list(want.columns))
        for col in want.columns:
            for ts in want.index:
                w, g = want.at[ts, col], got.at[ts, col]
                if math.isnan(w):
                    self.assertTrue(math.isnan(g), f"{what} {col} {ts}: want null, got {g}")
                else:
                    self.assertLessEqual(abs(g - w), TOL, f"{what} {col} {ts}: {g} vs {w}")

    def test_inner_returns_match_pandas(self):
        closes = [sample_closes(s) for s in EU] + [self.gapa, self.gapb]
        doc = self.get_json("/analytics/returns?symbols=DAX,SMI,CAC,FTSE&interval=1d")
        self.assertEqual(doc["symbols"], EU)
        self.assertEqual(doc["align"], "inner")
        want = pd.concat(closes[:4], axis=1, join="inner").pct_change().iloc[1:]
        self.assertEqual(doc["count"], len(want))
        self.assert_frame(self.frame(doc), want, "inner simple")
        doc = self.get_json("/analytics/returns?symbols=GAPA,GAPB&kind=log&align=inner")
        want = np.log(pd.concat([self.gapa, self.gapb], axis=1, join="inner").pipe(
            lambda d: d / d.shift(1))).iloc[1:]
        self.assertEqual(doc["kind"], "log")
        self.assert_frame(self.frame(doc), want, "inner log with holes")

    def test_outer_returns_keep_each_series_own_returns(self):
        doc = self.get_json("/analytics/returns?symbols=GAPA,GAPB&align=outer")
        want = pd.concat([self.gapa.pct_change().iloc[1:], self.gapb.pct_change().iloc[1:]],
                         axis=1, join="outer").sort_index()
        self.assert_frame(self.frame(doc), want, "outer")
        self.assertTrue(any(v is None for v in doc["returns"]["GAPB"]), "nulls where B has none")

    def test_csv_is_wide_with_empty_cells_for_nulls(self):
        r = self.agent.get("/analytics/returns?symbols=GAPA,GAPB&align=outer&format=csv")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers["content-type"].startswith("text/csv"))
        got = pd.read_csv(io.StringIO(r.body), index_col="timestamp")
        self.assertEqual(list(got.columns), ["GAPA", "GAPB"])
        want = pd.concat([self.gapa.pct_change().iloc[1:], self.gapb.pct_change().iloc[1:]],
                         axis=1, join="outer").sort_index()
        got.index = [i + "Z" if not i.endswith("Z") else i for i in got.index]
        self.assert_frame(got, want, "csv")

    def test_correlation_matrix_matches_pandas(self):
        doc = self.get_json("/analytics/correlation?symbols=DAX,SMI,CAC,FTSE,GAPA&interval=1d"
                            "&start=1992-01-01&end=1997-01-01")
        rets = pd.concat([sample_closes(s) for s in EU], axis=1, join="inner")
        rets = rets[(rets.index >= "1992-01-01") & (rets.index < "1997-01-01")].pct_change().iloc[1:]
        self.assertEqual(doc["observations"], 0, "GAPA has no day in common with the others")
        doc = self.get_json("/analytics/correlation?symbols=DAX,SMI,CAC,FTSE&interval=1d"
                            "&start=1992-01-01&end=1997-01-01")
        self.assertEqual(doc["observations"], len(rets))
        want = rets.corr()
        for i, a in enumerate(EU):
            for j, b in enumerate(EU):
                close_enough(self, doc["matrix"][i][j], want.at[a, b], f"corr {a} {b}")
        doc = self.get_json("/analytics/correlation?symbols=GAPA,GAPB&kind=log")
        both = pd.concat([self.gapa, self.gapb], axis=1, join="inner")
        lr = np.log(both / both.shift(1)).iloc[1:]
        close_enough(self, doc["matrix"][0][1], lr.corr().at["GAPA", "GAPB"], "log corr")

    def test_rolling_pair_correlation_matches_pandas(self):
        doc = self.get_json("/analytics/correlation?pair=DAX,CAC&window=30&interval=1d")
        rets = pd.concat([sample_closes("DAX"), sample_closes("CAC")], axis=1,
                         join="inner").pct_change().iloc[1:]
        want = rets["DAX"].rolling(30).corr(rets["CAC"])
        roll = doc["rolling"]
        self.assertEqual(roll["window"], 30)
        self.assertEqual(roll["pair"], ["DAX", "CAC"])
        self.assertEqual(roll["timestamps"], list(want.index))
        for ts, got, w in zip(roll["timestamps"], roll["correlation"], want):
            close_enough(self, got, None if math.isnan(w) else float(w), f"rolling corr {ts}")

    def test_beta_and_volatility_against_a_benchmark(self):
        doc = self.get_json("/analytics/correlation?symbols=DAX,CAC,SMI&benchmark=FTSE&window=60"
                            "&interval=1d&end=1995-01-01")
        closes = pd.concat([sample_closes(s) for s in ["DAX", "CAC", "SMI", "FTSE"]], axis=1,
                           join="inner")
        rets = closes[closes.index < "1995-01-01"].pct_change().iloc[1:]
        self.assertEqual(doc["benchmark"], "FTSE")
        self.assertEqual(doc["symbols"], ["DAX", "CAC", "SMI"], "the benchmark is not listed")
        b = rets["FTSE"]
        for s in ["DAX", "CAC", "SMI"]:
            close_enough(self, doc["beta"][s], rets[s].cov(b) / b.var(), f"beta {s}")
            close_enough(self, doc["correlation_to_benchmark"][s], rets[s].corr(b), f"corr {s}")
            close_enough(self, doc["volatility"][s], rets[s].std(), f"vol {s}")
        close_enough(self, doc["volatility"]["FTSE"], b.std(), "vol FTSE")
        roll = doc["rolling"]
        rb = b.rolling(60).var()
        for s in ["DAX", "SMI"]:
            want_beta = rets[s].rolling(60).cov(b) / rb
            want_vol = rets[s].rolling(60).std()
            for k, ts in enumerate(roll["timestamps"]):
                wb, wv = want_beta.iloc[k], want_vol.iloc[k]
                close_enough(self, roll["beta"][s][k], None if math.isnan(wb) else wb,
                             f"rolling beta {s} {ts}")
                close_enough(self, roll["volatility"][s][k], None if math.isnan(wv) else wv,
                             f"rolling vol {s} {ts}")
        # numpy as a second, plain definition of the beta
        x, y = rets["DAX"].to_numpy(), b.to_numpy()
        close_enough(self, doc["beta"]["DAX"], np.cov(x, y)[0, 1] / np.var(y, ddof=1), "np beta")

    def test_an_empty_range_still_names_start_and_end(self):
        # API.md lists "start","end" in every answer (not "start"?): null when no row
        for path in ("/analytics/returns?symbols=DAX,CAC&start=2010-01-01&end=2010-02-01",
                     "/analytics/returns?symbols=DAX,CAC&start=2010-01-01&end=2010-02-01&align=outer",
                     "/analytics/correlation?symbols=DAX,CAC&start=2010-01-01&end=2010-02-01"):
            doc = self.get_json(path + "&cached_only=true")
            self.assertEqual(doc["count"], 0, path)
            self.assertIn("start", doc, path)
            self.assertIn("end", doc, path)
            self.assertIsNone(doc["start"], path)
            self.assertIsNone(doc["end"], path)
        doc = self.get_json("/analytics/returns?symbols=DAX,CAC&start=1998-08-10&end=1998-08-15")
        self.assertEqual((doc["start"], doc["end"]), ("1998-08-11T00:00:00Z", "1998-08-14T00:00:00Z"))

    def test_parameter_errors(self):
        cases = [
            ("/analytics/returns", "invalid_parameter"),
            ("/analytics/returns?symbols=DAX&kind=weird", "invalid_parameter"),
            ("/analytics/returns?symbols=DAX&align=sideways", "invalid_parameter"),
            ("/analytics/returns?symbols=DAX&interval=7m", "invalid_interval"),
            ("/analytics/returns?symbols=DAX&start=2020-01-02&end=2020-01-01", "invalid_time_range"),
            ("/analytics/correlation?symbols=DAX", "invalid_parameter"),
            ("/analytics/correlation?symbols=DAX,CAC&window=30", "invalid_parameter"),
            ("/analytics/correlation?pair=DAX,CAC", "invalid_parameter"),
            ("/analytics/correlation?pair=DAX", "invalid_parameter"),
            ("/analytics/correlation?symbols=DAX,CAC&window=1&pair=DAX,CAC", "invalid_parameter"),
            ("/analytics/correlation?symbols=DAX,CAC&align=outer", "invalid_parameter"),
            ("/analytics/correlation?symbols=DAX,bad%20sym", "invalid_symbol"),
        ]
        for path, code in cases:
            r = self.agent.get(path)
            self.assertEqual(r.status, 400, f"{path}: {r}")
            self.assertEqual(r.json()["error"]["code"], code, f"{path}: {r}")
        r = self.agent.get("/analytics/returns?symbols=DAX,NOSUCH")
        self.assertEqual(r.status, 404, r)
        self.assertIn("NOSUCH", r.json()["error"]["message"])

    def test_a_symbol_named_returns_keeps_its_own_routes(self):
        bars = [{"symbol": "RETURNS", "interval": "1d", "timestamp": f"2022-01-{d:02d}T00:00:00Z",
                 "open": 10 + d, "high": 11 + d, "low": 9 + d, "close": 10 + d, "volume": 1}
                for d in range(3, 28)]
        r = self.agent.post("/ingest/bars", json.dumps({"bars": bars}),
                            headers={"X-API-Key": KEY, "Content-Type": "application/json"})
        self.assertEqual(r.status, 200, r)
        doc = self.get_json("/analytics/RETURNS/indicators?names=sma:5")
        self.assertEqual(doc["symbol"], "RETURNS")
        self.assertEqual(doc["count"], 25)
        doc = self.get_json("/analytics/returns/summary")
        self.assertEqual(doc["symbol"], "RETURNS", "lower case is the symbol too")
        doc = self.get_json("/analytics/returns?symbols=RETURNS,GAPA")
        self.assertEqual(doc["symbols"], ["RETURNS", "GAPA"], "and the literal route is returns")


if __name__ == "__main__":
    unittest.main()
