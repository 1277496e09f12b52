"""End to end: every indicator the agent serves, at several parameter sets, against R's TTR
package (Debian r-cran-ttr; the reference definitions of docs/indicators.md), over the same
daily bars: TTRC (5,550 OHLCV bars, tests/fixtures/indicators), MSFT (real OHLCV) and DAX
(real closes only), and FLAT, written here: a walk with flat stretches (every price equal for
25 and 20 bars) and zero-volume bars, where the ranges and deviations are zero. The agent
loads the CSVs with `mdagent load` and answers through REST; Rscript computes the references
from the same files. Every bar is compared, warm-up rows included (TTR's NA must be the
agent's null), within 1e-9 relative."""
import csv
import datetime
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
        FILES["FLAT"] = cls.write_flat(os.path.join(cls.agent.dir, "FLAT.csv"))
        for path in FILES.values():
            cls.agent.load(path)

    @staticmethod
    def write_flat(path):
        """300 weekday bars: flat (open = high = low = close) for bars 0-24 and 120-139, a
        walk elsewhere; every third flat bar and bars 200-219 have no volume."""
        seed, p, day = 52, 100.0, datetime.date(2010, 1, 4)

        def rnd():  # a small LCG in [-1, 1): the same file on every run; seed 52 leaves
            # a residue in cci's rolling mean over the second flat stretch
            nonlocal seed
            seed = (seed * 1103515245 + 12345) % 2**31
            return seed / 2**30 - 1

        with open(path, "w") as f:
            f.write("date,open,high,low,close,volume\n")
            for i in range(300):
                while day.weekday() >= 5:
                    day += datetime.timedelta(days=1)
                if i < 25 or 120 <= i < 140:
                    o = h = lo = c = p
                    v = 1000 if i % 3 else 0
                else:
                    o, c = p, round(p * (1 + 0.02 * rnd()), 2)
                    h = round(max(o, c) * (1 + 0.01 * abs(rnd())), 2)
                    lo = round(min(o, c) * (1 - 0.01 * abs(rnd())), 2)
                    v = 0 if 200 <= i < 220 else 1000 + int(50000 * abs(rnd()))
                f.write(f"{day},{o},{h},{lo},{c},{v}\n")
                p, day = c, day + datetime.timedelta(days=1)
        return path

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

    def compare(self, symbol, specs, fix=None):
        got, count = self.served(symbol, specs)
        want = ttr(symbol, specs)
        if fix:
            fix(want)
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

    def test_flat_stretches(self):
        # cci over a window of equal typical prices has no deviation: null (indicators.md),
        # where TTR divides rounding residues (+-66.67); stoch is left out (TTR cannot average
        # its 0/0) and mfi too (TTR's running sums keep residues after zero flows)
        with open(FILES["FLAT"]) as f:
            tp = [(float(r["high"]) + float(r["low"]) + float(r["close"])) / 3
                  for r in csv.DictReader(f)]

        def flat_cci_is_null(want):
            for key, series in want.items():
                if key.startswith("cci:"):
                    n = int(key.split(":")[1].split(".")[0])
                    for i in range(n - 1, len(series)):
                        if len(set(tp[i - n + 1:i + 1])) == 1:
                            series[i] = None

        specs = [s for s in SPECS if s.split(":")[0] not in ("stoch", "mfi")] + ["cci:2"]
        self.compare("FLAT", specs, flat_cci_is_null)
        # bar 139, the last of the flat 120-139: this series' rolling sums leave a residue in
        # the mean there (which was answered as 66.67)
        doc = self.get_json("/analytics/FLAT/indicators?names=cci:10,cci:20&start=2010-07-16"
                            "&limit=1")
        self.assertEqual(doc["timestamps"], ["2010-07-16T00:00:00Z"])
        self.assertEqual(doc["indicators"], {"cci:10": [None], "cci:20": [None]})


if __name__ == "__main__":
    unittest.main()
