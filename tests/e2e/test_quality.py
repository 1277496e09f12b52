"""End to end: data quality over HTTP. The sample data grades well; copies of it with
injected faults (a spike, a stale run, a gap, a broken OHLC row, a future timestamp) are
caught by the right rule on the right bar and lower the right dimension, through
/quality/{symbol}, /quality/report, /validate/{symbol}, the `quality` of /historical and
/price bars, the mdagent_quality_score gauge, POST /ingest and `mdagent load --validate-only`."""
import csv
import datetime
import json
import os
import re
import shutil
import tempfile
import time
import unittest

from mdtest import SAMPLE, Agent, AgentTest, fresh_pg_db, run_cli

DIMS = {"completeness", "accuracy", "timeliness", "consistency", "validity", "uniqueness"}
KEY = "quality-key-4242"
AUTH = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
SAMPLES = ("MSFT", "DAX", "CAC", "FTSE", "SMI", "XTSSIM")


def read_rows(name):
    with open(os.path.join(SAMPLE, name + ".csv")) as f:
        return list(csv.DictReader(f))


def write_rows(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["date", "open", "high", "low", "close", "volume"])
        w.writeheader()
        w.writerows(rows)


def index_of(rows, date):
    return next(i for i, r in enumerate(rows) if r["date"] == date)


def gauge(agent, symbol):
    m = re.search(r'^mdagent_quality_score\{symbol="%s"\} (\S+)$' % re.escape(symbol),
                  agent.get("/metrics").body, re.M)
    return float(m.group(1)) if m else None


def faulty_copies(directory):
    """MSFT as it is (MSFTOK) and with one fault each; returns {symbol: (date, rule)}."""
    rows = read_rows("MSFT")
    write_rows(os.path.join(directory, "MSFTOK.csv"), rows)
    faults = {}

    r = [dict(x) for x in rows]
    i = index_of(r, "2001-03-01")
    r[i]["close"] = str(float(r[i]["close"]) * 1.5)
    r[i]["high"] = r[i]["close"]
    write_rows(os.path.join(directory, "MSFTSPIKE.csv"), r)
    faults["MSFTSPIKE"] = ("2001-03-01", "price_jump", "accuracy")

    r = [dict(x) for x in rows]
    i = index_of(r, "2001-05-01")
    for k in range(i, i + 6):
        c = float(r[i]["close"])
        r[k]["close"] = r[i]["close"]
        r[k]["high"] = str(max(float(r[k]["high"]), c))
        r[k]["low"] = str(min(float(r[k]["low"]), c))
        r[k]["open"] = str(min(max(float(r[k]["open"]), float(r[k]["low"])), float(r[k]["high"])))
    write_rows(os.path.join(directory, "MSFTSTALE.csv"), r)
    faults["MSFTSTALE"] = (r[i + 4]["date"], "stale_price", "consistency")

    r = [dict(x) for x in rows]
    i = index_of(r, "2001-06-04")
    after = r[i + 10]["date"]
    del r[i:i + 10]
    write_rows(os.path.join(directory, "MSFTGAP.csv"), r)
    faults["MSFTGAP"] = (after, "gap", "completeness")

    r = [dict(x) for x in rows]
    i = index_of(r, "2001-02-01")
    r[i]["low"] = str(float(r[i]["high"]) + 1)
    write_rows(os.path.join(directory, "MSFTOHLC.csv"), r)
    faults["MSFTOHLC"] = ("2001-02-01", "high_below_low", "validity")

    r = [dict(x) for x in rows]
    future = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=10)).date()
    r.append({"date": future.isoformat(), "open": "50", "high": "51", "low": "49", "close": "50",
              "volume": "1000"})
    write_rows(os.path.join(directory, "MSFTFUT.csv"), r)
    faults["MSFTFUT"] = (future.isoformat(), "future_timestamp", "validity")
    return faults


class QualitySample(AgentTest):
    """The real sample data, loaded as `make run` loads it. The EuStockMarkets indices carry
    synthetic Monday-Friday dates (data/sample/README.md) and XTSSIM simulated daily rows,
    weekends included: they are given the calendars their dates follow."""
    env = {"MDAGENT_CALENDAR_SYMBOLS": "DAX:24/5,CAC:24/5,FTSE:24/5,SMI:24/5,XTSSIM:24/7"}

    def test_every_sample_symbol_grades_well(self):
        for sym in SAMPLES:
            q = self.get_json(f"/quality/{sym}")
            self.assertEqual(q["symbol"], sym)
            self.assertEqual(q["interval"], "1d")
            self.assertEqual(set(q["dimensions"]), DIMS)
            self.assertGreaterEqual(q["score"], 93, q)
            self.assertIn(q["grade"], ("A+", "A"), q)
            self.assertAlmostEqual(sum(q["weights"].values()), 1.0, places=6)
            self.assertEqual(q["weights"]["completeness"], 0.25)
            self.assertEqual(q["dimensions"]["validity"], 100)
            self.assertEqual(q["dimensions"]["timeliness"], 100, "history is not judged by age")
            self.assertFalse(q["live"])
            self.assertEqual(q["rejected_bars"], 0)

    def test_msft_shows_why(self):
        # MSFT trades on XNYS (the default of its spelling): the 2001-09-11..14 closure and
        # the holidays are no sessions, so the real year is complete
        q = self.get_json("/quality/MSFT")
        self.assertEqual(q["bars"], 249)
        self.assertEqual(q["missing_bars"], 0)
        self.assertEqual(q["expected_bars"], 249)
        self.assertEqual(q["dimensions"]["completeness"], 100)
        self.assertEqual(q["first"], "2000-09-27T00:00:00Z")
        self.assertEqual(q["last"], "2001-09-27T00:00:00Z")
        self.assertNotIn("gap", q["issue_counts"])
        self.assertNotIn("off_session", q["issue_counts"])
        self.assertTrue(q["issues"], "the jumps are still listed")
        for i in q["issues"]:
            self.assertEqual(set(i) - {"other_source"},
                             {"rule", "dimension", "timestamp", "severity", "value", "threshold",
                              "source", "message"})
        self.assertEqual(self.get_json("/quality/MSFT?issues=0")["issues"], [])
        self.assertEqual(self.get_json("/symbols/MSFT")["calendar"], "XNYS")
        v = self.get_json("/validate/MSFT?start=2001-09-01&end=2001-10-01")
        self.assertEqual([f for f in v["failures"] if f["rule"] == "gap"], [])

    def test_close_only_indices_have_no_volume_or_stale_issues(self):
        for sym in ("DAX", "CAC", "FTSE", "SMI"):
            q = self.get_json(f"/quality/{sym}?issues=1000")
            rules = {i["rule"] for i in q["issues"]}
            self.assertFalse(rules & {"volume_outlier", "stale_price", "gap"}, (sym, rules))
        q = self.get_json("/quality/XTSSIM")
        self.assertEqual(q["missing_bars"], 0, "weekend rows trade on 24/7")
        self.assertNotIn("off_session", q["issue_counts"])
        self.assertEqual(self.get_json("/symbols/XTSSIM")["calendar"], "24/7")
        self.assertEqual(self.get_json("/symbols/XTSSIM")["calendar_from"], "config")

    def test_range_parameters(self):
        q = self.get_json("/quality/MSFT?start=2001-01-01&end=2001-06-01")
        self.assertEqual(q["start"], "2001-01-01T00:00:00Z")
        self.assertEqual(q["end"], "2001-06-01T00:00:00Z")
        rows = [r for r in read_rows("MSFT") if "2001-01-01" <= r["date"] < "2001-06-01"]
        self.assertEqual(q["bars"], len(rows))
        self.assertEqual(q["missing_bars"], 0)
        self.assertEqual(q["dimensions"]["timeliness"], 100)
        self.assertEqual(q["dimensions"]["completeness"], 100)
        w = self.get_json("/quality/MSFT?interval=1w")
        self.assertEqual(w["interval"], "1d", "aggregated views grade the stored bars")
        self.assertEqual(w["requested_interval"], "1w")

    def test_report_lists_every_symbol_worst_first(self):
        r = self.get_json("/quality/report")
        self.assertEqual(r["count"], len(SAMPLES))
        self.assertEqual({s["symbol"] for s in r["symbols"]}, set(SAMPLES))
        scores = [s["score"] for s in r["symbols"]]
        self.assertEqual(scores, sorted(scores))
        self.assertEqual(r["symbols"][0]["symbol"], "MSFT")
        for s in r["symbols"]:
            self.assertEqual(set(s["dimensions"]), DIMS)
            self.assertEqual(s["score"], self.get_json(f"/quality/{s['symbol']}")["score"])
        self.assertEqual(self.get_json("/quality/report?interval=1h")["count"], 0)

    def test_validate_lists_each_failing_bar(self):
        v = self.get_json("/validate/SMI?start=1991-08-01&end=1991-09-01")
        self.assertEqual(v["symbol"], "SMI")
        self.assertEqual(v["checked"], 22)
        self.assertEqual(v["failed"], 2)
        self.assertEqual(v["passed"], 20)
        f = v["failures"][0]
        self.assertEqual(f["timestamp"], "1991-08-19T00:00:00Z")
        self.assertEqual(f["rule"], "price_jump")
        self.assertEqual(f["kind"], "soft")
        self.assertIn("standard deviations", f["reason"])
        self.assertEqual(self.get_json("/validate/XTSSIM")["failures"], [])
        lim = self.get_json("/validate/SMI?limit=1")
        self.assertEqual(len(lim["failures"]), 1)
        self.assertTrue(lim["truncated"])

    def test_bars_and_prices_carry_their_score(self):
        h = self.get_json("/historical/MSFT?limit=1000")
        self.assertEqual(h["count"], 249)
        for b in h["bars"]:
            self.assertIsInstance(b["quality"], (int, float), b)
            self.assertTrue(0 <= b["quality"] <= 100, b)
        by = {b["timestamp"][:10]: b["quality"] for b in h["bars"]}
        self.assertEqual(by["2001-09-17"], 100, "the 2001-09-11..14 closure is no gap (XNYS)")
        self.assertLess(by["2000-10-19"], 100, "the +19.6% earnings jump")
        self.assertEqual(by["2001-01-02"], 100)
        csvbody = self.get("/historical/MSFT?format=csv&limit=3&order=desc").body.splitlines()
        self.assertTrue(csvbody[0].endswith(",quality,partial"))
        self.assertEqual(csvbody[1].split(",")[-2:], ["100", "false"])
        p = self.get_json("/price/MSFT")
        self.assertEqual(set(p["quality"]), {"score", "grade"})
        # the last close is from 2001: its quality includes its age (issue 13), so the
        # stored 100 loses the timeliness share and it is no current A+ price
        self.assertTrue(p["stale"], p)
        self.assertEqual(p["quality"]["score"], 80)
        self.assertEqual(p["quality"]["grade"], "B-")

    def test_gauge_follows_the_grades(self):
        deadline = time.time() + 20
        while gauge(self.agent, "MSFT") is None and time.time() < deadline:
            time.sleep(0.1)
        for sym in SAMPLES:
            self.assertAlmostEqual(gauge(self.agent, sym),
                                   self.get_json(f"/quality/{sym}")["score"], places=1)

    def test_a_range_with_nothing_to_grade_is_na(self):
        # bars of the interval are stored, none in the range: N/A, not no_data
        q = self.get_json("/quality/MSFT?start=2010-01-01&end=2010-02-01")
        self.assertEqual((q["grade"], q["score"], q["bars"]), ("N/A", None, 0))
        self.assertEqual(set(q["dimensions"].values()), {0})
        self.assertEqual(self.get_json("/quality/report?start=2010-01-01&end=2010-02-01")["symbols"], [])

    def test_bad_requests(self):
        self.assert_error("/quality/NOSUCH", 404, "not_found")
        self.assert_error("/validate/NOSUCH", 404, "not_found")
        self.assert_error("/quality/MSFT?interval=2x", 400, "invalid_interval")
        self.assert_error("/quality/MSFT?interval=1m", 404, "no_data")
        self.assert_error("/quality/MSFT?start=2001-02-01&end=2001-01-01", 400, "invalid_time_range")
        self.assert_error("/quality/MSFT?start=yesterday", 400, "invalid_time_range")
        self.assert_error("/quality/MSFT?issues=-1", 400, "invalid_parameter")
        self.assert_error("/validate/MSFT?limit=x", 400, "invalid_parameter")
        # limit is 1..1000000, as /historical's (a page lists at least one bar's failures)
        for limit in ("0", "-1", "1000001"):
            body = self.assert_error(f"/validate/MSFT?limit={limit}", 400, "invalid_parameter")
            self.assertIn("1..1000000", body["error"]["message"])
        self.assertEqual(self.get_json("/validate/MSFT?limit=1000000")["failed"], 1)
        self.assert_error("/quality/report?interval=7m", 400, "invalid_interval")
        self.assert_error("/quality/bad%20symbol", 400, "invalid_symbol")
        self.assert_error("/quality/MSFT", 405, "method_not_allowed", method="POST", data="{}")


class QualityFaults(AgentTest):
    """Copies of MSFT with one injected fault each, loaded through `mdagent load`."""
    load_sample = False
    # the live minute bars below are stamped at whatever time the test runs: around the clock
    env = {"MDAGENT_API_KEYS": KEY, "MDAGENT_CALENDAR_SYMBOLS": "QLIVE:24/7,QLATE:24/7"}

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="md-qfaults-")
        cls.faults = faulty_copies(cls.tmp)
        cls.pg_db = fresh_pg_db(cls.__name__) if cls.pg else None
        cls.agent = Agent(db=cls.pg_db, env=cls.env, name=cls.__name__)
        # not --quiet: the tests read the load's summary (rejected rows by rule)
        cls.load_out = run_cli("load", cls.tmp, "--db", cls.agent.db, env=cls.agent.env)
        cls.agent.start()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def post(self, path, doc):
        return self.agent.post(path, json.dumps(doc), headers=AUTH)

    def test_each_fault_is_caught_on_its_bar_and_lowers_its_dimension(self):
        ok = self.get_json("/quality/MSFTOK")
        for sym, (date, rule, dim) in self.faults.items():
            with self.subTest(sym=sym):
                q = self.get_json(f"/quality/{sym}?issues=100")
                hits = sorted((i for i in q["issues"] if i["rule"] == rule),
                              key=lambda i: i["timestamp"])
                self.assertTrue(hits, (sym, q["issues"]))
                ours = [i for i in hits if i["timestamp"] >= "2001-02"]  # not MSFT's own
                self.assertEqual(ours[0]["timestamp"], date + "T00:00:00Z")
                self.assertEqual(ours[0]["dimension"], dim)
                self.assertLess(q["score"], ok["score"] - 1, (sym, q["score"], ok["score"]))
                self.assertLess(q["dimensions"][dim], ok["dimensions"][dim])
                also = set()
                if sym == "MSFTOHLC":
                    # the rejected row leaves its session without a stored bar: a gap too
                    gaps = [i for i in q["issues"] if i["rule"] == "gap"]
                    self.assertEqual([g["timestamp"] for g in gaps], ["2001-02-02T00:00:00Z"])
                    self.assertIn("2001-02-01", gaps[0]["message"])
                    also = {"completeness"}
                for other in DIMS - {dim} - also:
                    self.assertAlmostEqual(q["dimensions"][other], ok["dimensions"][other],
                                           delta=1.0, msg=(sym, other))
                self.assertNotEqual(q["grade"], ok["grade"], (sym, q["grade"]))

    def test_rejected_rows_count_against_validity(self):
        for sym in ("MSFTOHLC", "MSFTFUT"):
            q = self.get_json(f"/quality/{sym}")
            self.assertEqual(q["rejected_bars"], 1, q)
            self.assertEqual(q["bars"], 248 if sym == "MSFTOHLC" else 249)
        self.assertIn("rejected high_below_low: 1", self.load_out.stderr)
        self.assertIn("rejected future_timestamp: 1", self.load_out.stderr)

    def test_validate_names_rule_and_reason(self):
        v = self.get_json("/validate/MSFTSPIKE")
        spikes = [f for f in v["failures"]
                  if f["rule"] == "price_jump" and f["timestamp"].startswith("2001-03")]
        self.assertEqual([f["timestamp"] for f in spikes], ["2001-03-01T00:00:00Z"])
        self.assertEqual(spikes[0]["kind"], "soft")
        self.assertRegex(spikes[0]["reason"], r"moved \+5\d\.\d\d% from ")
        v = self.get_json("/validate/MSFTOHLC")
        rej = [f for f in v["failures"] if f["kind"] == "rejected"]
        self.assertEqual(len(rej), 1)
        self.assertEqual(rej[0]["rule"], "high_below_low")
        self.assertEqual(rej[0]["timestamp"], "2001-02-01T00:00:00Z")
        self.assertIn("high", rej[0]["reason"])
        self.assertEqual(v["rejected"], 1)
        v = self.get_json("/validate/MSFTSTALE")
        stale = [f["timestamp"][:10] for f in v["failures"] if f["rule"] == "stale_price"]
        self.assertEqual(len(stale), 2)
        self.assertEqual(stale[0], self.faults["MSFTSTALE"][0])

    def test_report_puts_faulty_series_first(self):
        r = self.get_json("/quality/report")
        order = [s["symbol"] for s in r["symbols"] if s["symbol"].startswith("MSFT")]
        self.assertEqual(order[-1], "MSFTOK")
        self.assertEqual(set(order), set(self.faults) | {"MSFTOK"})

    def test_ingested_spike_is_scored_and_a_correction_clears_it(self):
        rows = read_rows("MSFT")[:60]
        bars = [{"symbol": "QSPK", "interval": "1d", "timestamp": r["date"],
                 "open": float(r["open"]), "high": float(r["high"]), "low": float(r["low"]),
                 "close": float(r["close"]), "volume": float(r["volume"])} for r in rows]
        spike = dict(bars[45])
        bad = dict(spike, close=spike["close"] * 1.6, high=spike["close"] * 1.6)
        bars[45] = bad
        r = self.post("/ingest/bars", {"bars": bars})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["accepted"], 60)
        h = self.get_json("/historical/QSPK")
        q = {b["timestamp"][:10]: b["quality"] for b in h["bars"]}
        self.assertLessEqual(q[spike["timestamp"]], 80)
        before = self.get_json("/quality/QSPK?issues=100")
        jumps = [i["timestamp"][:10] for i in before["issues"] if i["rule"] == "price_jump"]
        self.assertIn(spike["timestamp"], jumps)
        r = self.post("/ingest/bars", {"bars": [spike]})
        self.assertEqual(r.status, 200, r)
        h = self.get_json(f"/historical/QSPK?start={spike['timestamp']}&end=2001-01-01")
        self.assertEqual(h["bars"][0]["quality"], 100)
        after = self.get_json("/quality/QSPK?issues=100")
        self.assertNotIn(spike["timestamp"],
                         [i["timestamp"][:10] for i in after["issues"] if i["rule"] == "price_jump"])
        self.assertEqual(after["issue_counts"]["price_jump"], before["issue_counts"]["price_jump"] - 1)
        self.assertGreater(after["score"], before["score"])

    def test_two_sources_disagreeing_on_a_bar(self):
        bar = {"symbol": "QSRC", "interval": "1d", "timestamp": "2024-03-01", "open": 100,
               "high": 101, "low": 99, "close": 100.5, "volume": 1000, "source": "yahoo"}
        self.assertEqual(self.post("/ingest/bars", {"bars": [bar]}).status, 200)
        other = dict(bar, source="polygon", close=103.5, high=104)
        self.assertEqual(self.post("/ingest/bars", {"bars": [other]}).status, 200)
        q = self.get_json("/quality/QSRC")
        hits = [i for i in q["issues"] if i["rule"] == "source_disagreement"]
        self.assertEqual(len(hits), 1, q)
        self.assertEqual(hits[0]["source"], "polygon")
        self.assertEqual(hits[0]["other_source"], "yahoo")
        self.assertLess(q["dimensions"]["consistency"], 100)

    def test_every_bar_rejected_grades_f(self):
        bar = {"symbol": "QREJ", "interval": "1d", "timestamp": "2024-03-01", "open": -1,
               "high": 1, "low": -2, "close": 0, "volume": 1}
        r = self.post("/ingest/bars", {"bars": [bar]})
        self.assertEqual(r.json()["rejected"], 1)
        q = self.get_json("/quality/QREJ")
        self.assertEqual(q["grade"], "F")
        self.assertEqual(q["score"], 0)
        self.assertEqual(q["rejected_bars"], 1)
        report = self.get_json("/quality/report")
        self.assertEqual(report["symbols"][0]["score"], 0, "worst first")
        self.assertIn("QREJ", [s["symbol"] for s in report["symbols"] if s["score"] == 0])

    def test_live_series_is_judged_by_the_age_of_its_newest_bar(self):
        now = int(time.time()) // 60 * 60

        def minute_bars(sym, newest):
            return [{"symbol": sym, "interval": "1m", "timestamp": newest - 60 * k,
                     "open": 10 + k % 2 * 0.01, "high": 10.02, "low": 9.98,
                     "close": 10 + k % 2 * 0.01, "volume": 100} for k in range(30)]

        self.assertEqual(self.post("/ingest/bars", {"bars": minute_bars("QLIVE", now - 60)}).status, 200)
        self.assertEqual(self.post("/ingest/bars", {"bars": minute_bars("QLATE", now - 540)}).status, 200)
        fresh = self.get_json("/quality/QLIVE?interval=1m")
        self.assertTrue(fresh["live"])
        self.assertEqual(fresh["dimensions"]["timeliness"], 100)
        late = self.get_json("/quality/QLATE?interval=1m")
        self.assertTrue(late["live"])
        self.assertGreaterEqual(late["lag_bars"], 7)
        self.assertLess(late["dimensions"]["timeliness"], 60)
        self.assertLess(late["score"], fresh["score"])
        # the same series asked as history up to its last bar is not late
        end = now - 480
        hist = self.get_json(f"/quality/QLATE?interval=1m&end={end}")
        self.assertEqual(hist["dimensions"]["timeliness"], 100)

    def test_gauge_follows_writes(self):
        rows = read_rows("MSFT")[:40]
        bars = [{"symbol": "QGAUGE", "interval": "1d", "timestamp": r["date"],
                 "open": float(r["open"]), "high": float(r["high"]), "low": float(r["low"]),
                 "close": float(r["close"]), "volume": float(r["volume"])} for r in rows]
        self.assertEqual(self.post("/ingest/bars", {"bars": bars}).status, 200)
        deadline = time.time() + 20
        while gauge(self.agent, "QGAUGE") is None and time.time() < deadline:
            time.sleep(0.1)
        self.assertAlmostEqual(gauge(self.agent, "QGAUGE"),
                               self.get_json("/quality/QGAUGE")["score"], places=1)

    def test_a_symbol_with_quotes_only_has_no_grade(self):
        q = {"symbol": "QQUOTE", "price": 10.5, "timestamp": int(time.time()) - 5}
        r = self.agent.post("/ingest/quotes", json.dumps({"quotes": [q]}), headers=AUTH)
        self.assertEqual(r.status, 200, r)
        p = self.get_json("/price/QQUOTE")
        self.assertEqual(p["quality"], {"score": 100, "grade": "A+"})
        self.assert_error("/quality/QQUOTE", 404, "no_data")

    def test_ingest_rejections_are_counted_by_reason(self):
        m = re.search(r'^mdagent_ingest_rejected_total\{reason="high_below_low"\} (\S+)$',
                      self.get("/metrics").body, re.M)
        # the load ran in another process: this agent counts its own POSTs
        before = float(m.group(1)) if m else 0
        bar = {"symbol": "QCNT", "interval": "1d", "timestamp": "2024-03-01", "open": 10,
               "high": 9, "low": 11, "close": 10, "volume": 1}
        self.post("/ingest/bars", {"bars": [bar]})
        m = re.search(r'^mdagent_ingest_rejected_total\{reason="high_below_low"\} (\S+)$',
                      self.get("/metrics").body, re.M)
        self.assertEqual(float(m.group(1)), before + 1)


class QualityCalendar(AgentTest):
    """Quality judged on the symbol's exchange calendar (XNYS by default): real MSFT bars
    with one session deleted or a bar added on a Saturday, and a day of 1m bars missing 30
    minutes, through /quality and /validate."""
    load_sample = False
    env = {"MDAGENT_API_KEYS": KEY}

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="md-qcal-")
        rows = read_rows("MSFT")
        r = [dict(x) for x in rows]
        del r[index_of(r, "2001-03-15")]
        write_rows(os.path.join(cls.tmp, "MSFTDEL.csv"), r)
        r = [dict(x) for x in rows]
        i = index_of(r, "2001-03-16")
        r.insert(i + 1, dict(r[i], date="2001-03-17"))
        write_rows(os.path.join(cls.tmp, "MSFTSAT.csv"), r)
        cls.pg_db = None
        cls.agent = Agent(env=cls.env, name=cls.__name__)
        cls.agent.load(cls.tmp)
        cls.agent.start()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_one_deleted_session_is_one_gap_naming_its_date(self):
        q = self.get_json("/quality/MSFTDEL?issues=100")
        gaps = [i for i in q["issues"] if i["rule"] == "gap"]
        self.assertEqual(len(gaps), 1, gaps)
        self.assertEqual(gaps[0]["timestamp"], "2001-03-16T00:00:00Z")
        self.assertEqual(gaps[0]["value"], 1)
        self.assertIn("2001-03-15", gaps[0]["message"])
        self.assertEqual(q["missing_bars"], 1)
        self.assertEqual(q["expected_bars"], 249)
        self.assertLess(q["dimensions"]["completeness"], 100)
        v = self.get_json("/validate/MSFTDEL")
        self.assertEqual([f["timestamp"] for f in v["failures"] if f["rule"] == "gap"],
                         ["2001-03-16T00:00:00Z"])

    def test_a_range_counts_the_sessions_missing_in_it_only(self):
        # the session 2001-03-15 is missing: a range starting after it grades complete bars
        # (the stored bar before the range is context, its gap is not the range's), a range
        # that starts on it or before counts it
        whole = self.get_json("/quality/MSFTDEL")
        for start, missing in (("2001-03-16", 0), ("2001-03-15T12:00:00Z", 0), ("2001-03-15", 1),
                               ("2001-03-14", 1), ("2001-03-01", 1)):
            with self.subTest(start=start):
                q = self.get_json(f"/quality/MSFTDEL?start={start}&issues=100")
                self.assertEqual(q["missing_bars"], missing, q)
                self.assertEqual(q["expected_bars"], q["bars"] + missing, q)
                gaps = [i for i in q["issues"] if i["rule"] == "gap"]
                self.assertEqual(len(gaps), missing, gaps)
                if missing:
                    self.assertIn("2001-03-15", gaps[0]["message"])
                else:
                    self.assertEqual(q["dimensions"]["completeness"], 100, q)
        self.assertEqual(whole["missing_bars"], 1)
        # a gap made of sessions before and in the range: only those in it count
        r = self.agent.post("/ingest/bars", json.dumps({"bars": [
            {"symbol": "QGAP", "interval": "1d", "timestamp": d, "open": 10, "high": 11, "low": 9,
             "close": c, "volume": 100} for d, c in (("2024-01-02", 10), ("2024-01-03", 10.2),
                                                    ("2024-02-26", 10.4), ("2024-02-27", 10.3))]}),
            headers=AUTH)
        self.assertEqual(r.status, 200, r)
        q = self.get_json("/quality/QGAP")  # 2024-01-04 .. 2024-02-23: 35 sessions (MLK, Presidents Day closed)
        self.assertEqual((q["bars"], q["missing_bars"]), (4, 35), q)
        q = self.get_json("/quality/QGAP?start=2024-02-01")  # 2024-02-01 .. 2024-02-23: 16
        self.assertEqual((q["bars"], q["missing_bars"], q["expected_bars"]), (2, 16, 18), q)
        gap = [i for i in q["issues"] if i["rule"] == "gap"][0]
        self.assertIn("2024-02-01 to 2024-02-23", gap["message"])
        # /validate pages start at a bar: the gap before a page's first bar is listed whole
        v = self.get_json("/validate/QGAP?start=2024-02-01")
        self.assertEqual([f["value"] for f in v["failures"] if f["rule"] == "gap"], [35])

    def test_a_bar_on_a_saturday_is_a_finding(self):
        v = self.get_json("/validate/MSFTSAT")
        off = [f for f in v["failures"] if f["rule"] == "off_session"]
        self.assertEqual([f["timestamp"] for f in off], ["2001-03-17T00:00:00Z"])
        self.assertEqual(off[0]["dimension"], "consistency")
        self.assertIn("weekend", off[0]["reason"])
        self.assertEqual([f for f in v["failures"] if f["rule"] == "gap"], [])
        q = self.get_json("/quality/MSFTSAT")
        self.assertEqual(q["issue_counts"].get("off_session"), 1)
        self.assertEqual(q["missing_bars"], 0)

    def test_an_intraday_day_missing_30_minutes_has_one_gap(self):
        # Tuesday 2024-01-09, NYSE 09:30-16:00 New York = 14:30Z-21:00Z, without 15:00Z-15:29Z
        t0 = int(datetime.datetime(2024, 1, 9, 14, 30, tzinfo=datetime.timezone.utc).timestamp())
        bars = [{"symbol": "QMIN", "interval": "1m", "timestamp": t0 + 60 * k,
                 "open": 10 + k % 3 * 0.01, "high": 10.05, "low": 9.95,
                 "close": 10 + k % 3 * 0.01, "volume": 100 + k % 7}
                for k in range(390) if not 30 <= k < 60]
        r = self.agent.post("/ingest/bars", json.dumps({"bars": bars}), headers=AUTH)
        self.assertEqual(r.status, 200, r)
        q = self.get_json("/quality/QMIN?interval=1m")
        self.assertEqual(q["bars"], 360)
        gaps = [i for i in q["issues"] if i["rule"] == "gap"]
        self.assertEqual(len(gaps), 1, q["issues"])
        self.assertEqual(gaps[0]["timestamp"], "2024-01-09T15:30:00Z")
        self.assertEqual(gaps[0]["value"], 30)
        self.assertEqual(q["missing_bars"], 30)
        self.assertNotIn("off_session", q["issue_counts"])
        # a range starting inside the gap counts the minutes missing from its start only
        q = self.get_json("/quality/QMIN?interval=1m&start=2024-01-09T15:15:00Z")
        self.assertEqual((q["bars"], q["missing_bars"]), (360 - 30, 15), q)
        gap = [i for i in q["issues"] if i["rule"] == "gap"][0]
        self.assertEqual(gap["value"], 15)
        self.assertIn("counted from the range's start 2024-01-09T15:15:00Z", gap["message"])


class QualityFaultsPostgres(QualityFaults):
    """The same faults, loads and ingests with the PostgreSQL store: findings and live marks
    are kept there too (store/pg_quality.c)."""
    pg = True


class ValidateOnly(unittest.TestCase):
    def test_load_validate_only_reports_findings_and_grade_without_storing(self):
        tmp = tempfile.mkdtemp(prefix="md-qvalidate-")
        try:
            faults = faulty_copies(tmp)
            db = f"sqlite:{tmp}/v.db"
            p = run_cli("load", os.path.join(tmp, "MSFTSPIKE.csv"), os.path.join(tmp, "MSFTOHLC.csv"),
                        "--validate-only", "--db", db)  # not --quiet: its summary is read
            err = p.stderr
            rows = read_rows("MSFT")
            self.assertRegex(err, r"MSFTSPIKE\.csv: MSFTSPIKE 2001-03-01T00:00:00Z: price_jump: close ")
            ohlc_line = index_of(rows, "2001-02-01") + 2
            self.assertRegex(err, rf"MSFTOHLC\.csv:{ohlc_line}: high .* < low")
            m = re.search(r"quality MSFTSPIKE 1d: (\S+) \(([\d.]+)\) over 249 bars:.*price_jump 2", err)
            self.assertIsNotNone(m, err)
            self.assertNotEqual(m.group(1), "A+")
            self.assertLess(float(m.group(2)), 98.3, "the spike costs more than the sample's one jump")
            self.assertRegex(err, r"quality MSFTOHLC 1d: \S+ \([\d.]+\) over 248 bars:.*high_below_low 1")
            self.assertIn("validate-only: nothing was stored", err)
            self.assertIn("0 stored", err)
            q = run_cli("query", "MSFTSPIKE", "--db", db, check=False)
            self.assertNotEqual(q.returncode, 0, q.stdout)
            self.assertEqual(faults["MSFTSPIKE"][1], "price_jump")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class QualityConfig(unittest.TestCase):
    """Weights and grade thresholds come from the configuration; bad values stop the agent."""

    def load_grade(self, *extra):
        tmp = tempfile.mkdtemp(prefix="md-qconf-")
        try:
            p = run_cli("load", os.path.join(SAMPLE, "MSFT.csv"), "--validate-only",
                        "--db", f"sqlite:{tmp}/c.db", *extra)
            m = re.search(r"quality MSFT 1d: (\S+) \(([\d.]+)\)", p.stderr)
            self.assertIsNotNone(m, p.stderr)
            return m.group(1), float(m.group(2))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_weights_and_grades_are_configurable(self):
        grade, score = self.load_grade()
        self.assertEqual(grade, "A+", "one jump; the 2001 closure is no gap on XNYS")
        g2, s2 = self.load_grade("--set", "quality.weight_completeness=0")
        self.assertLess(s2, score, "a complete series' completeness no longer lifts the score")
        g3, s3 = self.load_grade("--set", "quality.grades=99.5,99,98,97,96,95,94,93,92,91,90")
        self.assertEqual(s3, score)
        self.assertEqual(g3, "A-", "98.3 is above the 98 asked for A-")
        g4, s4 = self.load_grade("--set", "quality.jump_sigma=100")
        self.assertGreater(s4, score, "no jump is flagged at 100 sigma")

    def test_bad_values_are_usage_errors(self):
        for kv, words in (("quality.grades=97,93", "quality.grades"),
                          ("quality.grades=97,93,95,87,83,80,77,73,70,67,60", "descend"),
                          ("quality.weight_accuracy=2", "quality.weight_accuracy"),
                          ("quality.jump_sigma=abc", "quality.jump_sigma")):
            p = run_cli("load", os.path.join(SAMPLE, "MSFT.csv"), "--validate-only", "--set", kv,
                        check=False)
            self.assertEqual(p.returncode, 2, (kv, p.stderr))
            self.assertIn(words, p.stderr, kv)
        zero = [f"quality.weight_{d}=0" for d in sorted(DIMS)]
        args = [a for kv in zero for a in ("--set", kv)]
        p = run_cli("load", os.path.join(SAMPLE, "MSFT.csv"), "--validate-only", *args, check=False)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("weight", p.stderr)


if __name__ == "__main__":
    unittest.main()
