"""End to end: an adjusted answer is never silently wrong (issue 14). Apple's 4-for-1 split of
2020-08-31 under the ticker AAPL20 (the fixtures of test_actions.py), its bars loaded from a
file as traded, so no source was ever asked for its actions.

Checked: with cached_only (no source may be asked) an adjusted answer says its actions are
"unchecked" and applies none; without it the agent asks the sources for the actions first,
says "checked" and when, and adjusts exactly as a pandas CRSP-style reference does; the
cached unchecked answer is replaced once the actions are known; the summary and the
cross-symbol returns are computed over the adjusted series (a split is not a -75% day);
`mdagent query --adjust` answers what REST answers, and says on stderr when the actions were
never checked."""
import os
import tempfile
import unittest

import pandas as pd

import json

from mdtest import run_cli
from test_actions import crsp_factors, frame, polygon_raw
from test_sources_failover import ProviderTest

RANGE = "start=2020-08-01&end=2020-09-05&interval=1d"


class AdjustSaysWhatItRestsOn(ProviderTest):
    providers = {"yahoo": None, "polygon": None}
    priority = "polygon,yahoo"
    load_sample = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.raw = polygon_raw()
        cls.tmp = tempfile.mkdtemp(dir=os.environ.get("MDTEST_TMP"))
        path = os.path.join(cls.tmp, "AAPL20.csv")
        with open(path, "w") as f:
            f.write("date,open,high,low,close,volume\n")
            for d, r in cls.raw.iterrows():
                f.write(f"{d},{r.open!r},{r.high!r},{r.low!r},{r.close!r},{int(r.volume)}\n")
        cls.agent.load(path)

    def assert_close(self, got, want, what, rel=1e-9):
        self.assertLessEqual(abs(got - want), rel * max(1.0, abs(want)), f"{what}: {got} != {want}")

    def actions_asked(self):
        return len(self.fake.requests("/polygon/v3/reference/splits?ticker=AAPL20"))

    def test_1_unchecked_actions_are_said(self):
        for mode in ("splits", "all"):
            h = self.get_json(f"/historical/AAPL20?{RANGE}&adjust={mode}&cached_only=true")
            self.assertEqual(h["adjust"], mode)
            want = {"mode": mode, "actions": "unchecked", "checked_at": None, "applied": 0,
                    "skipped": 0}
            if mode == "all":  # what its dividends rest on
                want["dividends"] = "unchecked"
            self.assertEqual(h["adjustment"], want, h)
            got = frame(h["bars"])
            self.assertEqual(list(got.index), list(self.raw.index))
            self.assertEqual(list(got["close"]), list(self.raw["close"]), "nothing known: raw")
        s = self.get_json(f"/analytics/AAPL20/summary?{RANGE}&cached_only=true")
        self.assertEqual(s["adjustment"]["actions"], "unchecked", s)
        # adjust=none needs no actions and says nothing more
        h = self.get_json(f"/historical/AAPL20?{RANGE}&adjust=none&cached_only=true")
        self.assertEqual(h["adjust"], "none")
        self.assertNotIn("adjustment", h)
        self.assertEqual(self.actions_asked(), 0, "cached_only never asks a source")

    def query(self, *args, check=True):
        return run_cli("query", "AAPL20", "--db", self.agent.db, "--start", "2020-08-01",
                       "--end", "2020-09-05", *args, env=self.agent.env, check=check)

    def test_1b_cli_says_unchecked_too(self):
        q = self.query("--adjust", "splits")  # CSV: only stderr can say it
        self.assertIn("never asked of a source", q.stderr)
        self.assertIn("may be unadjusted", q.stderr)
        doc = json.loads(self.query("--format", "json").stdout)  # default: splits
        self.assertEqual(doc["adjust"], "splits")
        self.assertEqual(doc["adjustment"]["actions"], "unchecked", doc)
        q = self.query("--adjust", "none", "--format", "json")
        self.assertNotIn("never asked", q.stderr)
        self.assertNotIn("adjustment", json.loads(q.stdout))
        bad = self.query("--adjust", "raw", check=False)
        self.assertEqual(bad.returncode, 2, bad.stderr)
        self.assertIn("adjust", bad.stderr)

    def test_2_actions_are_fetched_before_adjusting(self):
        h = self.get_json(f"/historical/AAPL20?{RANGE}&adjust=splits")
        self.assertEqual(self.actions_asked(), 1, "the actions were asked of the sources")
        note = h["adjustment"]
        self.assertEqual(note["actions"], "checked", h)
        self.assertNotIn("dividends", note, "splits rest on no dividend")
        self.assertRegex(note["checked_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        acts = self.get_json("/actions/AAPL20?cached_only=true")["actions"]
        last = self.raw.index[-1]
        for mode, types in (("splits", {"split"}), ("all", {"split", "dividend"})):
            h = self.get_json(f"/historical/AAPL20?{RANGE}&adjust={mode}")
            want_applied = sum(1 for a in acts if a["applied"] and a["type"] in types
                               and a["ex_date"] <= last)
            self.assertEqual(h["adjustment"]["applied"], want_applied, h["adjustment"])
            self.assertEqual(h["adjustment"].get("dividends"), "checked" if mode == "all" else None)
            self.assertGreaterEqual(want_applied, 1)
            pm, vm = crsp_factors(self.raw, acts, mode == "all")
            got = frame(h["bars"])
            for d in self.raw.index:
                for k in ("open", "high", "low", "close"):
                    self.assert_close(got.loc[d, k], self.raw.loc[d, k] * pm[d], f"{mode} {d} {k}")
                self.assert_close(got.loc[d, "volume"], self.raw.loc[d, "volume"] * vm[d],
                                  f"{mode} {d} volume")
        self.assertEqual(self.actions_asked(), 1, "asked once per sources.actions_refresh_s")

    def test_3_cached_unchecked_answer_is_replaced(self):
        h = self.get_json(f"/historical/AAPL20?{RANGE}&adjust=splits&cached_only=true")
        self.assertEqual(h["adjustment"]["actions"], "checked", h)
        acts = self.get_json("/actions/AAPL20?cached_only=true")["actions"]
        splits = [a for a in acts if a["applied"] and a["type"] == "split"]
        self.assertEqual(h["adjustment"]["applied"], len(splits), h)  # 2014's 7:1 and 2020's 4:1
        got = frame(h["bars"])
        self.assert_close(got.loc["2020-08-28", "close"], self.raw.loc["2020-08-28", "close"] / 4,
                          "split-adjusted close before the split")

    def test_3b_cli_answers_what_rest_answers(self):
        for mode in ("none", "splits", "all"):
            rest = self.get_json(f"/historical/AAPL20?{RANGE}&adjust={mode}&cached_only=true")
            q = self.query("--adjust", mode, "--format", "json")
            cli = json.loads(q.stdout)
            self.assertNotIn("never asked", q.stderr)
            self.assertEqual(cli["adjust"], mode)
            self.assertEqual(cli.get("adjustment"), rest.get("adjustment"))
            strip = lambda bars: [{k: b[k] for k in ("timestamp", "open", "high", "low", "close", "volume")}
                                  for b in bars]
            self.assertEqual(strip(cli["bars"]), strip(rest["bars"]), mode)
            csv = self.query("--adjust", mode).stdout.splitlines()
            close_col = csv[0].split(",").index("close")
            self.assertEqual([float(line.split(",")[close_col]) for line in csv[1:]],
                             [b["close"] for b in rest["bars"]], f"{mode} CSV")

    def test_4_summary_is_over_the_adjusted_series(self):
        acts = self.get_json("/actions/AAPL20?cached_only=true")["actions"]
        for mode in ("none", "splits", "all"):
            s = self.get_json(f"/analytics/AAPL20/summary?{RANGE}&adjust={mode}&cached_only=true")
            pm, _ = crsp_factors(self.raw, acts, mode == "all")
            closes = self.raw["close"] * (pm if mode != "none" else 1.0)
            self.assert_close(s["first_close"], closes.iloc[0], f"{mode} first_close")
            self.assert_close(s["return"], closes.iloc[-1] / closes.iloc[0] - 1, f"{mode} return")
            dd = (closes / closes.cummax() - 1).min()
            self.assert_close(s["max_drawdown"], dd, f"{mode} max_drawdown")

    def test_5_cross_returns_are_adjusted(self):
        acts = self.get_json("/actions/AAPL20?cached_only=true")["actions"]
        for mode in ("none", "splits"):
            r = self.get_json(f"/analytics/returns?symbols=AAPL20&{RANGE}&adjust={mode}&cached_only=true")
            self.assertEqual(r["adjust"], mode)
            pm, _ = crsp_factors(self.raw, acts, False)
            closes = self.raw["close"] * (pm if mode != "none" else 1.0)
            want = closes.pct_change().iloc[1:]
            got = pd.Series(r["returns"]["AAPL20"], index=[t[:10] for t in r["timestamps"]])
            self.assertEqual(list(got.index), list(want.index))
            for d in want.index:
                self.assert_close(got[d], want[d], f"{mode} return on {d}")
        self.assert_error(f"/analytics/returns?symbols=AAPL20&{RANGE}&adjust=raw", 400,
                          "invalid_parameter")


if __name__ == "__main__":
    unittest.main()
