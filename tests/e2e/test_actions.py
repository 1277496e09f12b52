"""End to end: corporate actions from the providers (fake server, fixtures written from the
providers' documentation) with Apple's 4-for-1 split of 2020-08-31 and its 0.82 USD dividend
of 2020-08-07 (0.205 after the split), under the ticker AAPL20 so AAPL's fixtures stay as
they are. Yahoo serves the bars split-adjusted with the events, Polygon serves them raw
(adjusted=false) with /v3/reference/splits and /dividends.

Checked: bars are stored as traded whatever the provider; a range filled partly from Yahoo
and partly from Polygon across the split is exact when raw; the adjusted series equal an
independent computation with pandas of CRSP-style cumulative factors (written here from the
definition, from the raw bars and the listed actions, not from the agent's numbers)."""
import json
import os
import time
import unittest

import pandas as pd

from mdtest import SRC, run_cli
from test_sources_failover import POLYGON_KEY, ProviderTest

FIX = os.path.join(SRC, "tests", "fixtures", "providers")
RANGE = "start=2020-08-01&end=2020-09-05&interval=1d"


def polygon_raw():
    """The as-traded bars of the Polygon fixture (adjusted=false), by trading date."""
    with open(os.path.join(FIX, "polygon", "aggs_AAPL20_1_day.json")) as f:
        res = json.load(f)["results"]
    df = pd.DataFrame(res)
    df["date"] = pd.to_datetime(df["t"], unit="ms", utc=True).dt.tz_convert("America/New_York").dt.strftime("%Y-%m-%d")
    return df.set_index("date")[["o", "h", "l", "c", "v"]].rename(
        columns={"o": "open", "h": "high", "l": "low", "c": "close", "v": "volume"})


def frame(bars):
    df = pd.DataFrame(bars)
    df["date"] = df["timestamp"].str.slice(0, 10)
    return df.set_index("date")


def crsp_factors(raw, actions, with_dividends):
    """Price divisor and volume multiplier per row of raw (as traded, by date), anchored at
    the last row: S = product of the split ratios whose ex-date is after the row's date (and
    not after the last row), Q = product of (1 - D / close of the last row before the
    ex-date) likewise; adjusted price = price * Q / S, adjusted volume = volume * S."""
    dates = list(raw.index)
    anchor = dates[-1]
    ev = pd.Series(1.0, index=raw.index)  # factor that applies to the rows BEFORE each date
    vol = pd.Series(1.0, index=raw.index)
    for a in actions:
        ex = a["ex_date"]
        if ex > anchor:
            continue
        before = [d for d in dates if d < ex]
        if not before:
            continue
        row = before[-1]
        if a["type"] == "split":
            r = a["numerator"] / a["denominator"]
            ev[row] /= r
            vol[row] *= r
        elif with_dividends:
            ev[row] *= 1 - a["amount"] / raw.loc[row, "close"]
    # cumulative product from the newest row back: a row takes every later event's factor
    price_mul = ev[::-1].cumprod()[::-1]
    vol_mul = vol[::-1].cumprod()[::-1]
    return price_mul, vol_mul


class SplitAcrossProviders(ProviderTest):
    providers = {"yahoo": None, "polygon": None}
    priority = "polygon,yahoo"
    load_sample = False

    def assert_close(self, got, want, what, rel=1e-9):
        self.assertLessEqual(abs(got - want), rel * max(1.0, abs(want)), f"{what}: {got} != {want}")

    def test_1_yahoo_bars_are_stored_as_traded(self):
        # the first half from Yahoo (split-adjusted there), the rest by failover order
        part = self.get_json("/historical/AAPL20?start=2020-08-01&end=2020-08-29&interval=1d&source=yahoo&adjust=none")
        self.assertEqual({b["source"] for b in part["bars"]}, {"yahoo"}, part)
        raw = polygon_raw()
        got = frame(part["bars"])
        self.assertEqual(list(got.index), [d for d in raw.index if d < "2020-08-29"])
        for d, row in got.iterrows():
            for k in ("open", "high", "low", "close", "volume"):
                self.assertEqual(row[k], raw.loc[d, k], f"{d} {k}: Yahoo's bar made raw again")

    def test_2_mixed_range_is_exact_raw_and_continuous_adjusted(self):
        self.get_json("/historical/AAPL20?start=2020-08-01&end=2020-08-29&interval=1d&source=yahoo&adjust=none")
        whole = self.get_json(f"/historical/AAPL20?{RANGE}&adjust=none")
        raw = polygon_raw()
        got = frame(whole["bars"])
        self.assertEqual(list(got.index), list(raw.index))
        for d, row in got.iterrows():
            for k in ("open", "high", "low", "close", "volume"):
                self.assertEqual(row[k], raw.loc[d, k], f"{d} {k} raw")
        sources = set(got["source"])
        self.assertIn("yahoo", sources, "part of the range came from Yahoo")

        acts = self.get_json("/actions/AAPL20?start=2020-01-01&end=2020-12-31")
        self.assertEqual(acts["symbol"], "AAPL20")
        kinds = {(a["type"], a["ex_date"]) for a in acts["actions"]}
        self.assertIn(("split", "2020-08-31"), kinds, acts)
        self.assertIn(("dividend", "2020-08-07"), kinds, acts)
        self.assertEqual(acts["dividends"], "checked", acts)
        self.assertNotIn("dividends_source", acts)
        for a in acts["actions"]:
            if a["type"] == "split":
                self.assertEqual((a["numerator"], a["denominator"]), (4, 1), a)
            else:
                self.assert_close(a["amount"], 0.82, "dividend as paid")
                self.assertEqual(a["currency"], "USD")
            self.assertIn(a["source"], ("polygon", "yahoo"))

        for mode, with_div in (("splits", False), ("all", True)):
            adj = frame(self.get_json(f"/historical/AAPL20?{RANGE}&adjust={mode}")["bars"])
            pm, vm = crsp_factors(raw, acts["actions"], with_div)
            self.assertEqual(list(adj.index), list(raw.index))
            for d in raw.index:
                for k in ("open", "high", "low", "close"):
                    self.assert_close(adj.loc[d, k], raw.loc[d, k] * pm[d], f"{mode} {d} {k}")
                self.assert_close(adj.loc[d, "volume"], raw.loc[d, "volume"] * vm[d], f"{mode} {d} volume")
            # the newest price is the traded price, and no 4x jump is left at the split
            self.assertEqual(adj.iloc[-1]["close"], raw.iloc[-1]["close"])
            jump = adj.loc["2020-08-31", "open"] / adj.loc["2020-08-28", "close"]
            self.assertLess(abs(jump - 1), 0.1, f"{mode}: {jump}")



class PlanRefusal(ProviderTest):
    """A fresh agent: Polygon's free plan allows 5 calls a minute, spent by the class above."""
    providers = {"yahoo": None, "polygon": None}
    priority = "polygon,yahoo"
    load_sample = False

    def test_polygon_plan_refusal_is_recorded_and_yahoo_asked_next(self):
        # a plan without reference data: Polygon's 403 NOT_AUTHORIZED; Yahoo is asked next
        # (it does not know the symbol), and nothing is stored
        y0 = len(self.fake.requests("/yahoo/v8/finance/chart/NOTAUTH"))
        self.assert_error("/actions/NOTAUTH", 404, "not_found")
        p = self.source("polygon")
        self.assertIn("not entitled", p["last_error"] or "", p)
        self.assertNotIn(POLYGON_KEY, json.dumps(p))
        self.assertEqual(len(self.fake.requests("/polygon/v3/reference/splits?ticker=NOTAUTH")), 1)
        self.assertGreater(len(self.fake.requests("/yahoo/v8/finance/chart/NOTAUTH")), y0)

class DividendsNotOffered(ProviderTest):
    """Finnhub on a plan without dividends (403 on /stock/dividend): the splits come alone,
    and every answer that rests on the dividends says they are missing, naming the source."""
    providers = {"finnhub": "NODIVIDENDS"}
    priority = "finnhub"

    def test_answers_say_the_dividends_were_not_offered(self):
        # the sample's MSFT: stored bars, no action recorded yet
        before = self.get_json("/actions/MSFT?cached_only=true")
        self.assertEqual(before["dividends"], "unchecked", before)
        acts = self.get_json("/actions/MSFT")
        self.assertEqual((acts["dividends"], acts.get("dividends_source")),
                         ("not_offered", "finnhub"), acts)
        self.assertEqual([a for a in acts["actions"] if a["type"] == "dividend"], [], acts)
        asked = [r for r in self.fake.requests("/finnhub/") if "/stock/dividend?" in r]
        self.assertEqual(len(asked), 1, asked)
        hist = self.get_json("/historical/MSFT?interval=1d&limit=5&adjust=all&cached_only=true")
        adj = hist["adjustment"]
        self.assertEqual((adj["mode"], adj["actions"], adj["dividends"], adj["dividends_source"]),
                         ("all", "checked", "not_offered", "finnhub"), adj)
        # splits do not rest on dividends: that answer does not speak of them
        hist = self.get_json("/historical/MSFT?interval=1d&limit=5&adjust=splits&cached_only=true")
        self.assertNotIn("dividends", hist["adjustment"], hist["adjustment"])
        # `mdagent query` on the same store says it on stderr, for CSV too
        q = run_cli("query", "MSFT", "--db", self.agent.db, "--adjust", "all", "--limit", "3",
                    env=self.agent.env)
        self.assertIn("dividends were not offered by finnhub", q.stderr)
        q = run_cli("query", "MSFT", "--db", self.agent.db, "--limit", "3", env=self.agent.env)
        self.assertNotIn("dividends", q.stderr)


class ActionsCachedOnlyIsAFlag(ProviderTest):
    """GET /actions reads `cached_only` as /historical does (API.md: a bare `cached_only` is
    true, `false` asks the sources, another word is 400 invalid_parameter): the route took
    any value, `false` included, as true and never asked the sources."""
    providers = {"finnhub": "NODIVIDENDS"}
    priority = "finnhub"

    def asked(self):
        return [r for r in self.fake.requests("/finnhub/") if "/stock/" in r]

    def test_cached_only_false_asks_and_a_bad_word_is_refused(self):
        self.assert_error("/actions/MSFT?cached_only=maybe", 400, "invalid_parameter")
        for q in ("cached_only", "cached_only=true", "cached_only=YES", "cached_only=1"):
            doc = self.get_json(f"/actions/MSFT?{q}")
            self.assertEqual(doc["dividends"], "unchecked", (q, doc))
        self.assertEqual(self.asked(), [])
        doc = self.get_json("/actions/MSFT?cached_only=FALSE")
        self.assertEqual((doc["dividends"], doc.get("dividends_source")), ("not_offered", "finnhub"), doc)
        self.assertTrue(self.asked())


class DividendsFromTheNextSource(ProviderTest):
    """Finnhub first, on a plan without dividends, then Polygon: the splits are Finnhub's
    answer and the dividends Polygon's, so the list is whole and says so."""
    providers = {"finnhub": "NODIVIDENDS", "polygon": None}
    priority = "finnhub,polygon"
    load_sample = False

    def test_the_next_source_fills_in_the_dividends(self):
        acts = self.get_json("/actions/AAPL20?start=2020-01-01&end=2020-12-31")
        got = {(a["type"], a["ex_date"], a["source"]) for a in acts["actions"]}
        self.assertIn(("split", "2020-08-31", "finnhub"), got, acts)
        self.assertIn(("dividend", "2020-08-07", "polygon"), got, acts)
        self.assertNotIn("polygon", {a["source"] for a in acts["actions"] if a["type"] == "split"},
                         "the next source adds its dividends only")
        self.assertEqual(acts["dividends"], "checked", acts)
        self.assertNotIn("dividends_source", acts)
        asked = [r for r in self.fake.requests("/polygon/") if "/dividends" in r]
        self.assertEqual(len(asked), 1, asked)


class DividendsNextSourceHangs(ProviderTest):
    """The source after Finnhub hangs: the answer does not wait for it past the request's
    time budget, and keeps Finnhub's splits, saying the dividends are missing."""
    providers = {"finnhub": "NODIVIDENDS", "polygon": "HANG"}
    priority = "finnhub,polygon"
    load_sample = False
    extra_args = ("--set", "sources.deadline_ms=1500")

    def test_a_hanging_next_source_leaves_the_splits_said(self):
        t0 = time.monotonic()
        acts = self.get_json("/actions/AAPL20?start=2020-01-01&end=2020-12-31")
        took = time.monotonic() - t0
        self.assertLess(took, 5, "answered within the budget, not after the hang")
        self.assertEqual({(a["type"], a["source"]) for a in acts["actions"]},
                         {("split", "finnhub")}, acts)
        self.assertEqual((acts["dividends"], acts["dividends_source"]), ("not_offered", "finnhub"))


if __name__ == "__main__":
    unittest.main()
