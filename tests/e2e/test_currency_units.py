"""End to end: a London stock quoted in pence by one provider and in pounds by another is
never stored as a mix of the two units.

Vodafone (VOD.L): the fake Yahoo quotes it in pence (meta.currency "GBp", 68.52 for 0.6852
pounds), the fake Twelve Data in pounds (meta.currency "GBP"). A range filled partly from
each (Yahoo for its first week, failover to Twelve Data for the second) is one series in
pounds; VODP.L is Twelve Data quoting pence (its own normalisation). The expected values are
the fixtures' numbers, read here (pence / 100)."""
import json
import os
import unittest

from mdtest import SRC
from test_sources_failover import ProviderTest

FIX = os.path.join(SRC, "tests", "fixtures", "providers")


def yahoo_pence():
    with open(os.path.join(FIX, "yahoo", "chart_VOD.L_1d.json")) as f:
        q = json.load(f)["chart"]["result"][0]["indicators"]["quote"][0]
    return q["close"]


def twelvedata_closes(name):
    with open(os.path.join(FIX, "twelvedata", name)) as f:
        d = json.load(f)
    return {v["datetime"]: float(v["close"]) for v in d["values"]}, d["meta"]["currency"]


class PenceAndPounds(ProviderTest):
    providers = {"yahoo": None, "twelvedata": None}
    priority = "yahoo,twelvedata"
    load_sample = False

    def test_failover_between_pence_and_pounds_keeps_one_unit(self):
        part = self.get_json("/historical/VOD.L?start=2024-03-04&end=2024-03-09&interval=1d"
                             "&source=yahoo&adjust=none")
        self.assertEqual([b["source"] for b in part["bars"]], ["yahoo"] * 5)
        for b, p in zip(part["bars"], yahoo_pence()):
            self.assertAlmostEqual(b["close"], p / 100, places=12, msg=b["timestamp"])
        whole = self.get_json("/historical/VOD.L?start=2024-03-04&end=2024-03-16&interval=1d"
                              "&adjust=none")
        bars = whole["bars"]
        self.assertEqual(len(bars), 10, whole)
        pounds, cur = twelvedata_closes("time_series_VOD.L_1day.json")
        self.assertEqual(cur, "GBP")
        late = [b for b in bars if b["timestamp"] >= "2024-03-11"]
        self.assertEqual({b["source"] for b in late}, {"twelvedata"}, "failover filled the end")
        for b in late:
            self.assertAlmostEqual(b["close"], pounds[b["timestamp"][:10]], places=12)
        # one unit: no day-to-day move near 100x anywhere in the stitched series
        closes = [b["close"] for b in bars]
        for a, b in zip(closes, closes[1:]):
            self.assertLess(abs(b / a - 1), 0.05, closes)
        # and the symbol's quote currency is said in the major unit
        acts = self.get_json("/actions/VOD.L")
        self.assertEqual(acts.get("currency"), "GBP", acts)

    def test_twelvedata_pence_are_pounds_too(self):
        got = self.get_json("/historical/VODP.L?start=2024-03-11&end=2024-03-16&interval=1d"
                            "&source=twelvedata&adjust=none")
        pence, cur = twelvedata_closes("time_series_VODP.L_1day.json")
        self.assertEqual(cur, "GBp")
        self.assertEqual(len(got["bars"]), 5, got)
        for b in got["bars"]:
            self.assertAlmostEqual(b["close"], pence[b["timestamp"][:10]] / 100, places=12)


if __name__ == "__main__":
    unittest.main()
