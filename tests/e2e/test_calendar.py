"""End to end: GET /calendars, /calendars/{mic} and /calendars/{mic}/status, checked against
sources independent of mdagent:

- the holidays npm packages give for 1990-2030 (tests/calendar/reference.mjs: nyse-holidays,
  date-holidays, @holiday-jp/holiday_jp; installed by scripts/install-deps.sh), mapped to
  what each exchange closes on - the mapping and every expected difference is written out
  below with its reason;
- real daily history: the NYSE Composite's trading dates 1990-2002 (R package fBasics,
  Debian r-cran-fbasics) and a year of Microsoft daily bars (data/sample/MSFT.csv) must be
  exactly the XNYS sessions of their range: no missing session, no extra one;
- session times at DST changes and early closes, computed here with Python's zoneinfo.
"""
import csv
import datetime as dt
import json
import os
import shutil
import subprocess
import unittest
from zoneinfo import ZoneInfo

from mdtest import SAMPLE, SRC, AgentTest

REF_DIR = os.path.join(SRC, "tests", "calendar")


def utc(s):
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


def local(zone, date, hhmm):
    """The UTC instant of a wall-clock time of a zone, as the API writes it."""
    h, m = divmod(hhmm, 100)
    t = dt.datetime(*map(int, date.split("-")), h, m, tzinfo=ZoneInfo(zone))
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def weekday(d):
    return dt.date.fromisoformat(d).weekday() < 5


class Calendars(AgentTest):
    load_sample = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._docs = {}
        node = shutil.which("node") or shutil.which("nodejs")
        if not node or not os.path.isdir(os.path.join(REF_DIR, "node_modules")):
            raise AssertionError("tests/calendar/node_modules missing: run scripts/install-deps.sh")
        p = subprocess.run([node, "reference.mjs"], cwd=REF_DIR, capture_output=True, text=True,
                           timeout=120)
        if p.returncode != 0:
            raise AssertionError(f"reference.mjs failed: {p.stderr}")
        cls.ref = json.loads(p.stdout)

    def cal(self, mic, start="1990-01-01", end="2031-01-01"):
        key = (mic, start, end)
        if key not in self._docs:
            self._docs[key] = self.get_json(f"/calendars/{mic}?start={start}&end={end}")
        return self._docs[key]

    def closed_weekdays(self, mic, years=(1990, 2030)):
        doc = self.cal(mic)
        days = {c["date"] for c in doc["closed"]}
        # a weekday with no session is either listed in "closed" or a weekend of the calendar
        sessions = {s["date"] for s in doc["sessions"]}
        d, end = dt.date(years[0], 1, 1), dt.date(years[1], 12, 31)
        while d <= end:
            if d.weekday() < 5 and d.isoformat() not in sessions:
                self.assertIn(d.isoformat(), days, f"{mic}: {d} has no session and no reason")
            d += dt.timedelta(1)
        return {x for x in days if years[0] <= int(x[:4]) <= years[1] and weekday(x)}

    def compare(self, mic, only_ours=(), only_ref=(), years=(1990, 2030)):
        """Closed weekdays of mic against the reference: mapped holidays must be closed,
        closed days must be reference holidays (any type), except the listed days."""
        ours = self.closed_weekdays(mic, years)
        inside = lambda d: years[0] <= int(d[:4]) <= years[1] and weekday(d)
        mapped = {d for d in self.ref[mic]["mapped"] if inside(d)}
        every = {d for d in self.ref[mic]["all"] if inside(d)}
        self.assertEqual(sorted(mapped - ours), sorted(only_ref),
                         f"{mic}: reference holidays with a session")
        self.assertEqual(sorted(ours - every), sorted(only_ours),
                         f"{mic}: closures the reference does not know")

    # -- holidays against the npm references ---------------------------------------------

    NYSE_ONE_OFFS = ["1994-04-27", "2001-09-11", "2001-09-12", "2001-09-13", "2001-09-14",
                     "2004-06-11", "2007-01-02", "2012-10-29", "2012-10-30", "2018-12-05",
                     "2025-01-09"]

    def test_xnys_regular_holidays_match_nyse_holidays(self):
        # nyse-holidays has the regular holidays only; the one-off closures (mourning days,
        # 9/11, Sandy) are checked against real trading dates below
        self.compare("XNYS", only_ours=self.NYSE_ONE_OFFS)

    def test_xnas_closes_with_the_nyse(self):
        self.compare("XNAS", only_ours=self.NYSE_ONE_OFFS)
        a, b = self.cal("XNYS"), self.cal("XNAS")
        self.assertEqual(a["sessions"], b["sessions"])

    def test_xlon_matches_england_bank_holidays(self):
        # date-holidays keeps the regular date where a proclamation moved a bank holiday
        # (1995 VE Day, 2002 and 2012 jubilees) and lacks two one-off closures
        self.compare("XLON",
                     only_ours=["1995-05-08", "1999-12-31", "2002-06-03", "2002-06-04",
                                "2011-04-29", "2012-06-04"],
                     only_ref=["1995-05-01", "2002-05-27", "2012-05-28"])

    def test_xetr_closes_on_mapped_german_holidays(self):
        self.compare("XETR")

    def test_xpar_closes_on_mapped_french_holidays(self):
        # Good Friday and 26 December are Euronext's own closures: they are public
        # holidays only in Alsace-Moselle (date-holidays FR-67 is used for "all"); New
        # Year's Eve closed the Paris Bourse until 2001
        nye = [f"{y}-12-31" for y in range(1990, 2002) if weekday(f"{y}-12-31")]
        self.compare("XPAR", only_ours=nye)

    def test_xswx_matches_zurich_holidays(self):
        # SIX also closes on 24 and 31 December, which are not public holidays in Zürich
        eves = [f"{y}-12-{d}" for y in range(1990, 2031) for d in (24, 31)
                if weekday(f"{y}-12-{d}")]
        self.compare("XSWX", only_ours=eves)

    def test_xtks_matches_japanese_national_holidays(self):
        # every national holiday, substitute and citizens' holiday of @holiday-jp, plus the
        # year-end holidays; 2020-10-01 was the equity trading system failure
        self.compare("XTKS", only_ours=["2020-10-01"])

    def test_xhkg_matches_hong_kong_general_holidays(self):
        # date-holidays HK applies today's rules to every year, so it is compared from 1999
        # (Labour Day and Buddha's Birthday become general holidays). Its differences:
        # before the 2011 Substitution of Holidays amendment a Lunar New Year starting on a
        # Saturday gave its eve and a Sunday among its days gave no fourth day, and a day
        # after Mid-Autumn on a Sunday moved to the Saturday before; it lacks the "day
        # following" Easter Monday / National Day when two holidays met (1999, 2010, 2012,
        # 2015), the whole-day closures for typhoon signal 8 and black rainstorms, the
        # millennium and 2015-09-03.
        self.compare("XHKG", years=(1999, 2030),
                     only_ours=["1999-04-06", "1999-09-16", "1999-12-31", "2000-02-04",
                                "2001-07-06", "2001-07-25", "2003-01-31", "2008-08-06",
                                "2008-08-22", "2010-04-06", "2011-09-29", "2012-10-02",
                                "2013-08-14", "2015-04-07", "2015-09-03", "2016-08-02",
                                "2016-10-21", "2017-08-23", "2020-10-13", "2021-10-13",
                                "2023-07-17", "2023-09-08", "2024-09-06"],
                     only_ref=["2000-02-08", "2002-09-23", "2003-02-04", "2006-02-01",
                               "2007-02-21", "2009-10-05", "2010-02-17"])

    # -- real daily history --------------------------------------------------------------

    def sessions(self, mic, start, end):
        return [s["date"] for s in self.cal(mic, start, end)["sessions"]]

    def test_msft_daily_bars_are_exactly_the_xnys_sessions(self):
        with open(os.path.join(SAMPLE, "MSFT.csv")) as f:
            dates = [r["date"] for r in csv.DictReader(f)]
        end = (dt.date.fromisoformat(dates[-1]) + dt.timedelta(1)).isoformat()
        self.assertEqual(self.sessions("XNYS", dates[0], end), dates)
        self.assertNotIn("2001-09-11", dates)

    def test_nyse_composite_1990_2002_trading_dates_are_the_xnys_sessions(self):
        rscript = shutil.which("Rscript")
        self.assertTrue(rscript, "Rscript missing: run scripts/install-deps.sh")
        p = subprocess.run([rscript, "-e", "suppressMessages(library(fBasics)); data(nyse);"
                            "d <- as.character(nyse[[1]]); writeLines(d[d >= '1990-01-01'])"],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        dates = p.stdout.split()
        self.assertEqual(dates[0], "1990-01-02")
        self.assertEqual(dates[-1], "2002-12-31")
        self.assertEqual(self.sessions("XNYS", "1990-01-01", "2003-01-01"), dates)

    # -- session times -------------------------------------------------------------------

    def session(self, mic, date):
        end = (dt.date.fromisoformat(date) + dt.timedelta(1)).isoformat()
        s = self.cal(mic, date, end)["sessions"]
        self.assertEqual(len(s), 1, s)
        return s[0]

    def test_issue_example_session(self):
        doc = self.cal("XNYS", "2001-09-04", "2001-09-05")
        self.assertEqual(doc["calendar"], "XNYS")
        self.assertEqual(doc["timezone"], "America/New_York")
        s = doc["sessions"][0]
        self.assertEqual((s["date"], s["open"], s["close"]),
                         ("2001-09-04", "2001-09-04T13:30:00Z", "2001-09-04T20:00:00Z"))
        self.assertNotIn("early_close", s)

    def test_dst_edges_follow_each_zone(self):
        cases = [("XNYS", "America/New_York", "2024-03-08", 930, 1600),  # last EST day
                 ("XNYS", "America/New_York", "2024-03-11", 930, 1600),  # first EDT day
                 ("XNYS", "America/New_York", "2024-11-01", 930, 1600),
                 ("XNYS", "America/New_York", "2024-11-04", 930, 1600),
                 ("XLON", "Europe/London", "2024-03-29", 800, 1630),  # Good Friday: closed
                 ("XLON", "Europe/London", "2024-03-28", 800, 1630),  # last GMT day
                 ("XLON", "Europe/London", "2024-04-02", 800, 1630),  # BST
                 ("XETR", "Europe/Berlin", "2024-10-25", 900, 1730),
                 ("XETR", "Europe/Berlin", "2024-10-28", 900, 1730),
                 ("XSWX", "Europe/Zurich", "2024-03-29", 900, 1730),  # Good Friday: closed
                 ("XPAR", "Europe/Paris", "2024-04-02", 900, 1730)]
        for mic, zone, date, o, c in cases:
            end = (dt.date.fromisoformat(date) + dt.timedelta(1)).isoformat()
            got = self.cal(mic, date, end)["sessions"]
            if date == "2024-03-29":
                self.assertEqual(got, [], (mic, date))
                continue
            self.assertEqual((got[0]["open"], got[0]["close"]),
                             (local(zone, date, o), local(zone, date, c)), (mic, date))
        # the weeks when New York has moved to summer time and London has not
        self.assertEqual(self.session("XNYS", "2024-03-11")["open"], "2024-03-11T13:30:00Z")
        self.assertEqual(self.session("XLON", "2024-03-11")["open"], "2024-03-11T08:00:00Z")

    def test_early_closes_at_their_edges(self):
        for date in ("2024-07-03", "2024-11-29", "2024-12-24", "2019-07-03", "2013-07-03",
                     "2002-07-05", "1999-12-31"):
            s = self.session("XNYS", date)
            self.assertTrue(s.get("early_close"), s)
            self.assertEqual(s["close"], local("America/New_York", date, 1300), date)
            self.assertEqual(s["extended_close"], local("America/New_York", date, 1700), date)
        # 1992: early closes were at 2 p.m.
        self.assertEqual(self.session("XNYS", "1992-11-27")["close"],
                         local("America/New_York", "1992-11-27", 1400))
        # July 3 on a Friday is the observed holiday, on a Wednesday before 2013 a full day
        self.assertEqual(self.cal("XNYS", "2026-07-03", "2026-07-04")["sessions"], [])
        self.assertNotIn("early_close", self.session("XNYS", "2002-07-03"))
        self.assertNotIn("early_close", self.session("XNYS", "2024-07-05"))
        # London and Hong Kong half days; Hong Kong's has no afternoon (no break either)
        s = self.session("XLON", "2024-12-24")
        self.assertEqual(s["close"], local("Europe/London", "2024-12-24", 1230))
        s = self.session("XHKG", "2024-12-24")
        self.assertEqual(s["close"], local("Asia/Hong_Kong", "2024-12-24", 1200))
        self.assertNotIn("break_start", s)
        s = self.session("XETR", "2024-12-30")
        self.assertEqual(s["close"], local("Europe/Berlin", "2024-12-30", 1400))

    def test_lunch_breaks(self):
        s = self.session("XTKS", "2024-11-05")
        self.assertEqual((s["open"], s["break_start"], s["break_end"], s["close"]),
                         ("2024-11-05T00:00:00Z", "2024-11-05T02:30:00Z",
                          "2024-11-05T03:30:00Z", "2024-11-05T06:30:00Z"))
        s = self.session("XTKS", "2011-11-18")
        self.assertEqual((s["break_start"], s["close"]),
                         ("2011-11-18T02:00:00Z", "2011-11-18T06:00:00Z"))
        s = self.session("XHKG", "2024-03-05")
        self.assertEqual((s["open"], s["break_start"], s["break_end"], s["close"]),
                         ("2024-03-05T01:30:00Z", "2024-03-05T04:00:00Z",
                          "2024-03-05T05:00:00Z", "2024-03-05T08:00:00Z"))

    def test_fx_week_and_crypto_days(self):
        doc = self.cal("24/5", "2024-03-04", "2024-03-16")
        dates = [s["date"] for s in doc["sessions"]]
        self.assertEqual(dates, ["2024-03-04", "2024-03-05", "2024-03-06", "2024-03-07",
                                 "2024-03-08", "2024-03-11", "2024-03-12", "2024-03-13",
                                 "2024-03-14", "2024-03-15"])
        # Monday's session opens Sunday 17:00 New York; DST moves it an hour in UTC
        self.assertEqual(doc["sessions"][0]["open"], "2024-03-03T22:00:00Z")
        self.assertEqual(doc["sessions"][5]["open"], "2024-03-10T21:00:00Z")
        self.assertEqual(doc["sessions"][4]["close"], "2024-03-08T22:00:00Z")
        doc = self.cal("24/7", "2024-03-09", "2024-03-11")
        self.assertEqual([(s["open"], s["close"]) for s in doc["sessions"]],
                         [("2024-03-09T00:00:00Z", "2024-03-10T00:00:00Z"),
                          ("2024-03-10T00:00:00Z", "2024-03-11T00:00:00Z")])

    # -- list, status, errors ------------------------------------------------------------

    def test_list(self):
        doc = self.get_json("/calendars")
        mics = [c["calendar"] for c in doc["calendars"]]
        for mic in ("XNYS", "XNAS", "XLON", "XETR", "XPAR", "XSWX", "XTKS", "XHKG", "24/7", "24/5"):
            self.assertIn(mic, mics)
        for c in doc["calendars"]:
            self.assertLessEqual(c["valid_from"], "1990-01-01")
            self.assertGreaterEqual(c["valid_to"], "2030-12-31")
            self.assertTrue(c["timezone"])

    def test_status_phases(self):
        cases = [("2024-07-03T16:00:00Z", "open", "2024-07-05T13:30:00Z", "2024-07-03T17:00:00Z"),
                 ("2024-07-03T17:30:00Z", "post", "2024-07-05T13:30:00Z", "2024-07-05T20:00:00Z"),
                 ("2024-07-04T15:00:00Z", "closed", "2024-07-05T13:30:00Z", "2024-07-05T20:00:00Z"),
                 ("2024-07-05T12:00:00Z", "pre", "2024-07-05T13:30:00Z", "2024-07-05T20:00:00Z"),
                 ("2024-07-06T15:00:00Z", "closed", "2024-07-08T13:30:00Z", "2024-07-08T20:00:00Z")]
        for at, phase, nxt_open, nxt_close in cases:
            doc = self.get_json(f"/calendars/XNYS/status?at={at}")
            self.assertEqual((doc["status"], doc["next_open"], doc["next_close"]),
                             (phase, nxt_open, nxt_close), at)
            self.assertEqual(doc["is_open"], phase == "open")
        doc = self.get_json("/calendars/XTKS/status?at=2024-11-05T03:00:00Z")
        self.assertEqual(doc["status"], "break")
        doc = self.get_json("/calendars/XNYS/status")
        self.assertIn(doc["status"], ("open", "closed", "pre", "post"))
        self.assertGreater(utc(doc["next_open"]), utc(doc["at"]))

    def test_aliases_and_errors(self):
        self.assertEqual(self.get_json("/calendars/nyse/status?at=2024-01-02")["calendar"], "XNYS")
        self.assertEqual(self.get_json("/calendars/crypto?start=2024-01-01&end=2024-01-02")["calendar"], "24/7")
        self.assert_error("/calendars/XXXX", 404, "not_found")
        self.assert_error("/calendars/XNYS?start=1980-01-01&end=1981-01-01", 400, "invalid_time_range")
        self.assert_error("/calendars/XNYS?start=2024-02-01&end=2024-01-01", 400, "invalid_time_range")
        self.assert_error("/calendars/XNYS?start=yesterday", 400, "invalid_time_range")

    def test_one_end_of_the_range_alone(self):
        """start alone: the 31 days from it; end alone: the 31 days before it (not from today,
        which made a past end 'end must be after start')."""
        doc = self.get_json("/calendars/XNYS?end=2024-07-06")
        self.assertEqual(doc["sessions"][0]["date"], "2024-06-05")
        self.assertEqual(doc["sessions"][-1]["date"], "2024-07-05")
        self.assertEqual([c["date"] for c in doc["closed"]], ["2024-06-19", "2024-07-04"])
        doc = self.get_json("/calendars/XNYS?start=2024-06-05")
        self.assertEqual((doc["sessions"][0]["date"], doc["sessions"][-1]["date"]), ("2024-06-05", "2024-07-05"))

    def test_status_beyond_the_known_years_says_estimated(self):
        """After valid_to the calendar knows no holidays: 2031-01-01 (New Year's Day) is only
        a weekday pattern, and the answer says so; known sessions never do."""
        doc = self.get_json("/calendars/XNYS/status?at=2030-12-31T22:00:00Z")
        self.assertEqual((doc["status"], doc["session"]["date"]), ("post", "2030-12-31"))
        self.assertNotIn("estimated", doc["session"])
        doc = self.get_json("/calendars/XNYS/status?at=2031-01-01T12:00:00Z")
        self.assertEqual(doc["session"]["date"], "2031-01-01")
        self.assertIs(doc["session"]["estimated"], True)
        doc = self.get_json("/calendars/XNYS?start=2030-12-01&end=2031-01-01")
        self.assertFalse([s for s in doc["sessions"] if "estimated" in s])


if __name__ == "__main__":
    unittest.main()
