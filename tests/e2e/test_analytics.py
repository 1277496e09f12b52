"""End to end: /analytics/{symbol}/indicators and /summary on the real MSFT sample, checked
against values computed here from the CSV."""
import csv
import math
import os
import unittest

from mdtest import SAMPLE, AgentTest


def closes():
    with open(os.path.join(SAMPLE, "MSFT.csv")) as f:
        return [float(r["close"]) for r in csv.DictReader(f)]


def volumes():
    with open(os.path.join(SAMPLE, "MSFT.csv")) as f:
        return [float(r["volume"]) for r in csv.DictReader(f)]


class Analytics(AgentTest):
    def test_sma_and_rsi_aligned_with_bars(self):
        doc = self.get_json("/analytics/MSFT/indicators?names=sma:20,rsi:14,macd:12:26:9&interval=1d")
        c = closes()
        self.assertEqual(doc["count"], len(c))
        self.assertEqual(len(doc["timestamps"]), len(c))
        sma = doc["indicators"]["sma:20"]
        self.assertEqual(len(sma), len(c))
        self.assertIsNone(sma[18])
        for i in range(19, len(c)):
            self.assertAlmostEqual(sma[i], sum(c[i - 19:i + 1]) / 20, delta=1e-9 * c[i])
        rsi = doc["indicators"]["rsi:14"]
        self.assertIsNone(rsi[13])
        self.assertTrue(all(0 <= x <= 100 for x in rsi[14:]))
        macd = doc["indicators"]["macd:12:26:9"]
        self.assertEqual(set(macd), {"macd", "signal", "histogram"})
        self.assertIsNone(macd["signal"][32])
        self.assertIsNotNone(macd["signal"][33])

    def test_range_is_warmed_up_from_earlier_bars(self):
        doc = self.get_json("/analytics/MSFT/indicators?names=sma:20&start=2001-09-01")
        c = closes()
        n = doc["count"]
        self.assertGreater(n, 0)
        self.assertEqual(doc["timestamps"][0][:10] >= "2001-09-01", True)
        # the first value uses the 19 bars before the range
        self.assertAlmostEqual(doc["indicators"]["sma:20"][-1], sum(c[-20:]) / 20, delta=1e-9 * c[-1])
        self.assertIsNotNone(doc["indicators"]["sma:20"][0])

    def test_summary(self):
        s = self.get_json("/analytics/MSFT/summary")
        c = closes()
        self.assertEqual(s["count"], len(c))
        self.assertAlmostEqual(s["return"], c[-1] / c[0] - 1, delta=1e-12)
        peak, mdd = c[0], 0
        for x in c:
            peak = max(peak, x)
            mdd = min(mdd, x / peak - 1)
        self.assertAlmostEqual(s["max_drawdown"], mdd, delta=1e-12)
        lr = [math.log(c[i + 1] / c[i]) for i in range(len(c) - 1)]
        m = sum(lr) / len(lr)
        sd = math.sqrt(sum((x - m) ** 2 for x in lr) / (len(lr) - 1))
        self.assertAlmostEqual(s["annualized_volatility"], sd * math.sqrt(252), delta=1e-9)
        # API.md: the summary's "volatility" is annualised; the per-bar one is period_volatility
        self.assertAlmostEqual(s["volatility"], sd * math.sqrt(252), delta=1e-9)
        self.assertAlmostEqual(s["period_volatility"], sd, delta=1e-12)
        self.assertAlmostEqual(s["average_volume"], sum(volumes()) / len(c), delta=1e-6)

    def test_summary_of_an_empty_range_names_every_field(self):
        # API.md lists every key of the summary (only the drawdown's peak and trough may be
        # left out): a range without bars answers them null, "start" and "end" included
        s = self.get_json("/analytics/MSFT/summary?start=2010-01-01&end=2010-02-01&cached_only=true")
        self.assertEqual(s["count"], 0)
        for key in ("start", "end", "first_close", "last_close", "return", "mean_return",
                    "volatility", "annualized_volatility", "period_volatility", "max_drawdown",
                    "average_volume", "high", "low"):
            self.assertIn(key, s)
            self.assertIsNone(s[key], key)
        self.assertEqual(s["periods_per_year"], 252)
        self.assertNotIn("max_drawdown_peak", s)

    def test_errors(self):
        self.assert_error("/analytics/MSFT/indicators", 400, "invalid_parameter")
        self.assert_error("/analytics/MSFT/indicators?names=wat:3", 400, "invalid_parameter")
        self.assert_error("/analytics/MSFT/indicators?names=sma:0", 400, "invalid_parameter")
        self.assert_error("/analytics/MSFT/indicators?names=sma:5&interval=9x", 400, "invalid_interval")
        # indicators= is an alias of names=: both at once left one silently unanswered
        self.assert_error("/analytics/MSFT/indicators?names=sma&indicators=ema", 400, "invalid_parameter")
        doc = self.get_json("/analytics/MSFT/indicators?indicators=ema&limit=1")
        self.assertEqual(list(doc["indicators"]), ["ema:20"])
        self.assert_error("/analytics/NOPE/summary", 404, "not_found")
        self.assert_error("/analytics/MSFT/other", 404, "not_found")


if __name__ == "__main__":
    unittest.main()
