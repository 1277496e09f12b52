"""End to end: every indicator the agent serves, at several parameter sets, against R's TTR
package (Debian r-cran-ttr; the reference definitions of docs/indicators.md), over the same
daily bars: TTRC (5,550 OHLCV bars, tests/fixtures/indicators), MSFT (real OHLCV) and DAX
(real closes only). The agent loads the CSVs with `mdagent load` and answers through REST;
Rscript computes the references from the same files. Every bar is compared, warm-up rows
included (TTR's NA must be the agent's null), within 1e-9 relative."""
import csv
import math
import os
import shutil
import subprocess
import tempfile
import unittest
import urllib.parse

from mdtest import SAMPLE, SRC, AgentTest

FIXTURES = os.path.join(SRC, "tests", "fixtures", "indicators")
R_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ttr_reference.R")
FILES = {"TTRC": os.path.join(FIXTURES, "TTRC.csv"), "MSFT": os.path.join(SAMPLE, "MSFT.csv"),
         "DAX": os.path.join(SAMPLE, "DAX.csv")}

# Every indicator of analytics/indicators.def at its defaults (test_every_row_is_covered
# checks the list is complete) and at other parameters, every parameter spelled out.
SPECS = [
    "sma:20", "sma:5", "sma:200", "ema:20", "ema:5", "ema:100", "wma:20", "wma:7",
    "dema:20", "dema:9", "tema:20", "tema:5", "bbands:20:2", "bbands:10:1.5",
    "keltner:20:2", "keltner:10:1", "donchian:20", "donchian:55", "psar:0.02:0.2",
    "psar:0.01:0.1", "vwap", "rsi:14", "rsi:2", "rsi:30", "macd:12:26:9", "macd:5:35:5",
    "stoch:14:3:3", "stoch:5:3:2", "willr:14", "willr:7", "cci:20", "cci:10", "roc:10",
    "roc:1", "mom:10", "mom:1", "adx:14", "adx:7", "aroon:20", "aroon:10", "atr:14", "atr:5",
    "stddev:20", "stddev:5", "obv", "mfi:14", "mfi:7",
]


def rscript():
    path = shutil.which("Rscript")
    if not path:
        raise AssertionError("Rscript not found: scripts/install-deps.sh installs r-base-core "
                             "and r-cran-ttr")
    return path


def ttr(symbol, specs):
    """{"<spec>.<output>": [float or None per bar]} computed by TTR."""
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "ref.tsv")
        p = subprocess.run([rscript(), R_SCRIPT, FILES[symbol], ",".join(specs), out],
                           capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            raise AssertionError(f"Rscript failed:\n{p.stderr}")
        with open(out) as f:
            rows = list(csv.reader(f, delimiter="\t"))
    cols = {}
    for k, name in enumerate(rows[0]):
        cols[name] = [None if r[k] in ("NA", "NaN") else float(r[k]) for r in rows[1:]]
    return cols


class TTRReference(AgentTest):
    load_sample = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for path in FILES.values():
            cls.agent.load(path)

    def served(self, symbol, specs):
        """{"<spec>.<output>": values} from /analytics/{symbol}/indicators over the whole
        series, and the bar count."""
        out, count = {}, None
        for i in range(0, len(specs), 16):
            names = ",".join(specs[i:i + 16])
            doc = self.get_json(f"/analytics/{symbol}/indicators?interval=1d&limit=1000000"
                                f"&names={urllib.parse.quote(names, safe=',:')}")
            count = doc["count"]
            for spec, v in doc["indicators"].items():
                if isinstance(v, dict):
                    for o, series in v.items():
                        out[f"{spec}.{o}"] = series
                else:
                    out[f"{spec}.value"] = v
        return out, count

    def compare(self, symbol, specs):
        got, count = self.served(symbol, specs)
        want = ttr(symbol, specs)
        self.assertEqual(set(got), set(want), "outputs served vs TTR")
        with open(FILES[symbol]) as f:
            self.assertEqual(count, sum(1 for _ in f) - 1, "the whole file is served")
        for key in sorted(want):
            w, g = want[key], got[key]
            self.assertEqual(len(g), len(w), key)
            scale = max((abs(x) for x in w if x is not None), default=0.0)
            for i, (a, b) in enumerate(zip(g, w)):
                if b is None:
                    self.assertIsNone(a, f"{symbol} {key}[{i}]: TTR has NA, agent {a}")
                    continue
                self.assertIsNotNone(a, f"{symbol} {key}[{i}]: agent null, TTR {b!r}")
                # 1e-9 relative; values that cross zero (MACD, momentum) are held to 1e-9 of
                # a thousandth of the series' size, not of their own tiny value
                tol = 1e-9 * max(abs(b), 1e-3 * scale)
                self.assertLessEqual(abs(a - b), tol, f"{symbol} {key}[{i}]: agent {a!r}, TTR {b!r}")

    def test_every_row_is_covered(self):
        doc = self.get_json("/analytics/indicators")
        names = {d["name"] for d in doc["indicators"]}
        tested = {s.split(":")[0] for s in SPECS}
        self.assertEqual(names, tested, "every indicator of the table has a TTR reference here")
        defaults = {d["default"] for d in doc["indicators"]}
        self.assertTrue(defaults <= set(SPECS), defaults - set(SPECS))

    def test_ttrc_every_indicator(self):
        self.compare("TTRC", SPECS)

    def test_msft_real_bars(self):
        # 249 bars: the long windows do not fit (TTR refuses them)
        self.compare("MSFT", [s for s in SPECS if s not in ("sma:200", "ema:100", "donchian:55",
                                                            "macd:5:35:5")])

    def test_dax_closes_only(self):
        # high = low = close and no volume: ranges come from closes alone, volume indicators
        # see zero flow (mfi is then 50, as TTR has it); vwap has nothing to weigh
        self.compare("DAX", [s for s in SPECS if s != "vwap"])
        doc = self.get_json("/analytics/DAX/indicators?names=vwap&limit=5")
        self.assertEqual(doc["indicators"]["vwap"], [None] * 5)


if __name__ == "__main__":
    unittest.main()
