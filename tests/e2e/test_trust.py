"""End to end, issue 13 ("answers a quant can trust"): nothing is cut without saying so, partial
bars are marked, a price says how old it is, quotes never become bars.

- Paging: a 2,000,000-bar 1m series loaded once with `mdagent load`; following the `next`
  links (JSON body and Link header, pages of 200,000) returns every bar exactly once, in order;
  aggregated pages continue from the next bucket; order=desc walks backwards; indicator pages
  equal one long answer; the summary and `mdagent query` cover the whole range.
- Partial bars: buckets cut by start or end, or still forming, say "partial": true (JSON) and
  true in the CSV column; partial=exclude leaves them out. Values are checked against an
  aggregation written here from the generated bars, not against our own code.
- Unknown parameters are 400 invalid_parameter naming them; volumes above 2^53 are integers.
- /price: as_of, age_s, stale; an old close is no current A+ price.
- /validate and /quality pages.
- Regression (fake provider): a /price fetch stores no bar of any interval, and a later
  /historical?interval=1d asks the provider for daily bars and returns them."""
import calendar
import json
import os
import re
import subprocess
import tempfile
import time
import unittest

from mdtest import SRC, TMP, AgentTest, curl, run_cli
from test_sources_failover import ProviderTest

KEY = "trust-test-key-1"
AUTH = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}

T0 = 1262563200  # 2010-01-04T00:00:00Z, a Monday
N = 2_000_000
PAGE = 200_000


def bar(i):
    """The generated 1m bar i: a pure function of i (the tests recompute any bar)."""
    o = 1000 + (i * 7919) % 997
    c = 1000 + ((i + 1) * 7919) % 997
    return (T0 + 60 * i, o, max(o, c) + i % 5, min(o, c) - i % 3, c, (i * 37) % 1000 + 1)


def write_csv(path, n, first=0):
    with open(path, "w") as f:
        f.write("timestamp,open,high,low,close,volume\n")
        for k in range(first, first + n, 100_000):
            f.write("".join("%d,%d,%d,%d,%d,%d\n" % bar(i) for i in range(k, min(k + 100_000, first + n))))


def aggregate(bars, length, start=None, end=None):
    """Buckets of `length` seconds from T0-aligned 1m bars (epoch-aligned: the test's
    intervals divide a day), from the bars inside [start, end): open first, high max, low min,
    close last, volume sum."""
    out = {}
    for t, o, h, l, c, v in bars:
        if (start is not None and t < start) or (end is not None and t >= end):
            continue
        b = t - t % length
        if b not in out:
            out[b] = [b, o, h, l, c, v]
        else:
            x = out[b]
            x[2], x[3], x[4], x[5] = max(x[2], h), min(x[3], l), c, x[5] + v
    return [tuple(out[k]) for k in sorted(out)]


def ts(s):
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def follow(path_or_url, agent, use_link=False):
    """Every page of a paged answer, following "next" (or the Link header): [(response, doc)]."""
    url = path_or_url if path_or_url.startswith("http") else agent.url + path_or_url
    pages = []
    while url:
        r = curl(url, timeout=120)
        assert r.status == 200, r
        doc = r.json() if r.headers.get("content-type", "").startswith("application/json") else None
        pages.append((r, doc))
        link = r.headers.get("link")
        nxt = doc.get("next") if doc is not None else None
        if doc is not None:
            assert doc["truncated"] == (nxt is not None), doc.get("truncated")
            assert (link is None) == (nxt is None), (link, nxt)
        if link:
            m = re.fullmatch(r'<([^>]+)>; rel="next"', link)
            assert m, link
            assert not nxt or m.group(1) == nxt, (link, nxt)
            assert m.group(1).startswith("http://"), link
            link = m.group(1)
        url = link if use_link else nxt
        assert len(pages) < 1000
    return pages


class PagingTwoMillion(AgentTest):
    """One 2,000,000-bar series, loaded once."""
    load_sample = False
    # a synthetic series that trades every minute of every day: its calendar is 24/7, so its
    # days are UTC days (an exchange's sessions would leave its weekends out)
    env = {"MDAGENT_CALENDAR_SYMBOLS": "BIG:24/7"}

    @classmethod
    def setUpClass(cls):
        os.makedirs(TMP, exist_ok=True)
        cls.tmp = tempfile.mkdtemp(prefix="md-trust-", dir=TMP)
        path = os.path.join(cls.tmp, "BIG.csv")
        write_csv(path, N)
        super().setUpClass()
        cls.agent.stop()
        cls.agent.load(path, extra=("--interval", "1m"))
        os.unlink(path)
        cls.agent.start()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        subprocess.run(["rm", "-rf", cls.tmp])

    def test_next_links_return_every_bar_once_in_order(self):
        pages = follow(f"/historical/BIG?interval=1m&limit={PAGE}", self.agent)
        self.assertEqual(len(pages), N // PAGE)
        i = 0
        for k, (r, doc) in enumerate(pages):
            last = k == len(pages) - 1
            self.assertEqual(doc["truncated"], not last)
            self.assertEqual(doc["count"], len(doc["bars"]))
            if not last:
                self.assertEqual(r.headers["link"], f'<{doc["next"]}>; rel="next"')
            else:
                self.assertNotIn("next", doc)
                self.assertNotIn("link", r.headers)
            got = [(b["timestamp"], b["open"], b["high"], b["low"], b["close"], b["volume"],
                    b["partial"]) for b in doc["bars"]]
            want = [(iso(x[0]),) + x[1:] + (False,) for x in map(bar, range(i, i + len(got)))]
            if got != want:
                k = next(j for j in range(len(got)) if got[j] != want[j])
                self.fail(f"bar {i + k}: {got[k]}, want {want[k]}")
            i += len(got)
        self.assertEqual(i, N, "every bar exactly once")

    def test_aggregated_pages_continue_from_the_next_bucket(self):
        # CSV, through the Link header, from a start inside a day: the first day is partial
        start = T0 + 3 * 86400 + 7 * 3600 + 17 * 60
        end = T0 + 400 * 86400 + 3600
        first_page = f"/historical/BIG?interval=1d&format=csv&limit=60&start={iso(start)}&end={iso(end)}"
        pages = follow(first_page, self.agent, use_link=True)
        self.assertEqual(len(pages), 7)
        rows = [line.split(",") for r, _ in pages for line in r.body.strip().split("\n")[1:]]
        whole = curl(self.agent.url + first_page.replace("limit=60", "limit=5000"))
        self.assertNotIn("link", whole.headers)
        self.assertEqual(rows, [line.split(",") for line in whole.body.strip().split("\n")[1:]])
        days = aggregate((bar(i) for i in range((start - T0) // 60, (end - T0) // 60)), 86400)
        self.assertEqual(len(rows), len(days))
        for row, d in zip(rows, days):
            self.assertEqual(row[0], iso(d[0]))
            self.assertEqual([float(x) for x in row[1:6]], [float(x) for x in d[1:6]], row)
        # the first day is cut by start, the last by end; the days between are whole
        self.assertEqual([r[-1] for r in rows], ["true"] + ["false"] * (len(rows) - 2) + ["true"])

    def test_desc_pages_walk_backwards(self):
        pages = follow("/historical/BIG?interval=1w&limit=50&order=desc", self.agent)
        got = [b["timestamp"] for _, d in pages for b in d["bars"]]
        asc = self.get_json("/historical/BIG?interval=1w&limit=10000")
        self.assertFalse(asc["truncated"])
        self.assertEqual(got, [b["timestamp"] for b in reversed(asc["bars"])])
        self.assertEqual(len(set(got)), len(got))

    def test_indicator_pages_equal_one_answer(self):
        q = "/analytics/BIG/indicators?interval=1d&names=ema:20,rsi:14,macd&start=2011-02-03T05:30:00Z"
        one = self.get_json(q + "&limit=100000")
        self.assertFalse(one["truncated"])
        pages = follow(q + "&limit=250", self.agent)
        self.assertGreater(len(pages), 2)
        joined = {"timestamps": [], "ema:20": [], "rsi:14": [], "macd": []}
        for _, d in pages:
            joined["timestamps"] += d["timestamps"]
            joined["ema:20"] += d["indicators"]["ema:20"]
            joined["rsi:14"] += d["indicators"]["rsi:14"]
            joined["macd"] += d["indicators"]["macd:12:26:9"]["macd"]
        self.assertEqual(joined["timestamps"], one["timestamps"])
        self.assertEqual(joined["ema:20"], one["indicators"]["ema:20"])
        self.assertEqual(joined["rsi:14"], one["indicators"]["rsi:14"])
        self.assertEqual(joined["macd"], one["indicators"]["macd:12:26:9"]["macd"])
        # a start inside a day takes the whole day: values do not depend on the start
        self.assertEqual(one["timestamps"][0], "2011-02-03T00:00:00Z")
        self.assertFalse(any(one["partial"]))

    def test_summary_covers_the_whole_range(self):
        s = self.get_json("/analytics/BIG/summary?interval=1m")
        self.assertEqual(s["count"], N)
        self.assertEqual(s["start"], iso(T0))
        self.assertEqual(s["end"], iso(bar(N - 1)[0]))
        self.assertEqual(s["first_close"], bar(0)[4])
        self.assertEqual(s["last_close"], bar(N - 1)[4])
        hi, lo, vol = 0, 10 ** 9, 0
        for i in range(N):
            _, _, h, l, _, v = bar(i)
            hi, lo, vol = max(hi, h), min(lo, l), vol + v
        self.assertEqual((s["high"], s["low"]), (hi, lo))
        self.assertAlmostEqual(s["average_volume"], vol / N, places=6)
        # a start inside a day: that day aggregates the minutes from the start on
        start = T0 + 86400 + 600
        d = self.get_json(f"/analytics/BIG/summary?interval=1d&start={iso(start)}")
        days = aggregate((bar(i) for i in range(10 + 1440, N)), 86400)
        self.assertEqual(d["count"], len(days))
        self.assertEqual(d["first_close"], days[0][4])
        e = self.get_json(f"/analytics/BIG/summary?interval=1d&start={iso(start)}&partial=exclude")
        self.assertEqual(e["count"], len(days) - 1, "the first day is partial (the last ended)")
        self.assertEqual(e["first_close"], days[1][4])

    def test_cli_query_writes_the_whole_range_and_limit_says_so(self):
        env = dict(self.agent.env)
        start, n = 100_000, 300_000  # more than one of the CLI's pages (65536)
        p = run_cli("query", "BIG", "--interval", "1m", "--start", iso(T0 + 60 * start), "--end",
                    iso(T0 + 60 * (start + n)), "--db", self.agent.db, env=env, timeout=300)
        lines = p.stdout.rstrip("\n").split("\n")
        self.assertEqual(lines[0], "timestamp,open,high,low,close,volume,source,quality,partial")
        self.assertEqual(len(lines) - 1, n)
        for k in (1, 65536, 65537, n):
            t, o, h, l, c, v = bar(start + k - 1)
            self.assertEqual(lines[k].split(",")[:6], [iso(t), str(o), str(h), str(l), str(c), str(v)])
        self.assertNotIn("goes on", p.stderr, "the whole range, no limit")
        p = run_cli("query", "BIG", "--interval", "1d", "--limit", "3", "--format", "json",
                    "--db", self.agent.db, env=env)
        doc = json.loads(p.stdout)
        self.assertEqual(doc["count"], 3)
        self.assertTrue(doc["truncated"])
        self.assertIn("the range goes on: --start 2010-01-07T00:00:00Z", p.stderr)


class Partials(AgentTest):
    """Three days of 1m bars, ingested bars of the current hour, and the sample data."""
    env = {"MDAGENT_API_KEYS": KEY}

    @classmethod
    def setUpClass(cls):
        os.makedirs(TMP, exist_ok=True)
        cls.tmp = tempfile.mkdtemp(prefix="md-trust-", dir=TMP)
        path = os.path.join(cls.tmp, "MIN.csv")
        write_csv(path, 3 * 1440)
        super().setUpClass()
        cls.agent.stop()
        cls.agent.load(path, extra=("--interval", "1m"))
        cls.agent.start()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        subprocess.run(["rm", "-rf", cls.tmp])

    def post(self, path, doc):
        r = self.agent.post(path, json.dumps(doc), headers=AUTH)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def test_buckets_cut_by_the_range_are_returned_and_marked(self):
        bars = [bar(i) for i in range(3 * 1440)]
        start, end = T0 + 3600 + 25 * 60, T0 + 5 * 3600 + 40 * 60
        doc = self.get_json(f"/historical/MIN?interval=1h&start={iso(start)}&end={iso(end)}")
        want = aggregate(bars, 3600, start, end)
        got = [(ts(b["timestamp"]), b["open"], b["high"], b["low"], b["close"], b["volume"])
               for b in doc["bars"]]
        self.assertEqual(got, want)
        self.assertEqual([b["partial"] for b in doc["bars"]], [True, False, False, False, True])
        self.assertEqual(doc["bars"][0]["timestamp"], iso(T0 + 3600), "the bucket's own start")
        ex = self.get_json(f"/historical/MIN?interval=1h&start={iso(start)}&end={iso(end)}&partial=exclude")
        self.assertEqual([b["timestamp"] for b in ex["bars"]], [b["timestamp"] for b in doc["bars"][1:4]])
        csv = self.get(f"/historical/MIN?interval=1h&start={iso(start)}&end={iso(end)}&format=csv").body
        self.assertEqual([line.split(",")[-1] for line in csv.strip().split("\n")],
                         ["partial", "true", "false", "false", "false", "true"])
        # stored bars of the asked interval are whole whatever the range
        m = self.get_json(f"/historical/MIN?interval=1m&start={iso(start)}&end={iso(start + 120)}")
        self.assertEqual([b["partial"] for b in m["bars"]], [False, False])
        self.assert_error(f"/historical/MIN?interval=1h&partial=maybe", 400, "invalid_parameter")

    def test_a_bar_whose_period_has_not_ended_is_partial(self):
        now = int(time.time())
        minute = now - now % 60
        hour = now - now % 3600
        rows = [{"symbol": "LIVE", "interval": "1m", "timestamp": t, "open": 10, "high": 11,
                 "low": 9, "close": 10.5, "volume": 7} for t in (hour - 120, hour - 60, minute)]
        self.assertEqual(self.post("/ingest/bars", {"bars": rows})["accepted"], 3)
        doc = self.get_json(f"/historical/LIVE?interval=1h&start={iso(hour - 7200)}")
        self.assertEqual(doc["bars"][-1]["timestamp"], iso(hour))
        self.assertTrue(doc["bars"][-1]["partial"], "the current hour is still forming")
        self.assertFalse(doc["bars"][0]["partial"])
        ex = self.get_json(f"/historical/LIVE?interval=1h&start={iso(hour - 7200)}&partial=exclude")
        self.assertEqual([b["timestamp"] for b in ex["bars"]], [iso(hour - 3600)])
        day = self.get_json("/historical/LIVE?interval=1d")
        self.assertTrue(day["bars"][-1]["partial"])

    def test_unknown_parameters_are_refused_by_name(self):
        for path in ("/historical/MSFT?limt=5", "/price/MSFT?maxage=5", "/prices?symbols=MSFT&x=1",
                     "/analytics/MSFT/summary?limit=5", "/analytics/MSFT/indicators?names=sma&nmes=x",
                     "/validate/MSFT?issues=3", "/quality/MSFT?limit=3", "/symbols?all=1",
                     "/quality/report?symbol=MSFT", "/sources?verbose=1"):
            r = self.get(path)
            self.assertEqual(r.status, 400, (path, r))
            err = r.json()["error"]
            self.assertEqual(err["code"], "invalid_parameter", path)
            name = re.search(r"[?&]([a-z_]+)=[^&]*$", path).group(1)
            self.assertIn(f"'{name}'", err["message"], path)
        self.assertEqual(self.get("/historical/MSFT?limit=5&order=asc&partial=include").status, 200)

    def test_volumes_above_2_pow_53_are_integers(self):
        big = 2 ** 60
        rows = [{"symbol": "HUGE", "interval": "1d", "timestamp": f"2020-01-0{d}", "open": 1,
                 "high": 1, "low": 1, "close": 1, "volume": big} for d in (6, 7)]
        self.assertEqual(self.post("/ingest/bars", {"bars": rows})["accepted"], 2)
        body = self.get("/historical/HUGE").body
        self.assertIn(f'"volume":{big},', body)
        self.assertNotRegex(body, r'"volume":[0-9.]+e')
        csv = self.get("/historical/HUGE?format=csv").body
        self.assertEqual(csv.split("\n")[1].split(",")[5], str(big))
        week = self.get("/historical/HUGE?interval=1w").body
        self.assertIn(f'"volume":{2 * big},', week)

    def test_a_price_says_how_old_it_is(self):
        now = int(time.time())
        self.post("/ingest/quotes", {"quotes": [{"symbol": "FRESH", "price": 12.5, "timestamp": now - 5}]})
        p = self.get_json("/price/FRESH")
        self.assertEqual(p["as_of"], iso(now - 5))
        self.assertGreaterEqual(p["age_s"], 5)
        self.assertLess(p["age_s"], 60)
        self.assertFalse(p["stale"])
        self.assertEqual(p["quality"]["grade"], "A+")
        q = self.get_json("/price/FRESH?max_age=1")
        self.assertTrue(q["stale"], "older than the max_age asked")
        # an old close: its age, stale, and no current A+ price
        m = self.get_json("/price/MSFT")
        self.assertEqual(m["timestamp"], "2001-09-27T00:00:00Z")
        self.assertEqual(m["as_of"], "2001-09-28T00:00:00Z", "a daily close is true at the day's end")
        self.assertGreater(m["age_s"], 20 * 365 * 86400)
        self.assertTrue(m["stale"])
        self.assertNotIn(m["quality"]["grade"], ("A+", "A", "A-"))
        many = self.get_json("/prices?symbols=FRESH,MSFT")["prices"]
        self.assertEqual([x["stale"] for x in many], [False, True])
        self.assertTrue(all("as_of" in x and "age_s" in x for x in many))

    def test_validate_pages_cover_every_failure_once(self):
        # MSFT's closure is no gap on its exchange calendar: SMI's August 1991 has two jumps
        rng = "start=1991-08-01&end=1991-09-01"
        whole = self.get_json(f"/validate/SMI?limit=1000&{rng}")
        self.assertFalse(whole["truncated"])
        pages = follow(f"/validate/SMI?limit=1&{rng}", self.agent)
        self.assertGreater(len(pages), 1)
        got = [(f["timestamp"], f["rule"]) for _, d in pages for f in d["failures"]]
        self.assertEqual(got, [(f["timestamp"], f["rule"]) for f in whole["failures"]])
        self.assertEqual(sum(d["checked"] for _, d in pages), whole["checked"])
        self.assertEqual(sum(d["failed"] for _, d in pages), whole["failed"])


class QualityPages(AgentTest):
    args = ("--set", "quality.max_bars=100")

    def test_a_grade_of_part_of_the_range_links_the_rest(self):
        r = self.get("/quality/MSFT")
        g = r.json()
        self.assertTrue(g["truncated"])
        self.assertEqual(g["bars"], 100)
        self.assertIn(f"end={g['first']}", g["next"])
        self.assertEqual(r.headers["link"], f'<{g["next"]}>; rel="next"')
        older = curl(g["next"]).json()
        self.assertEqual(older["bars"], 100)
        self.assertLess(older["last"], g["first"])
        self.assertIn("issues_total", g)


class QuotesNeverBecomeBars(ProviderTest):
    """Regression: a /price fetch stored a 1m bar with the day's volume; /historical?interval=1d
    then aggregated it into one made-up daily bar and asked the providers for 1m history."""
    providers = {"yahoo": None}
    priority = "yahoo"
    load_sample = False
    extra_args = ("--set", "stream.live_bar_delay_ms=0")

    def test_a_fetched_quote_stores_no_bar(self):
        p = self.get_json("/price/AAPL")
        self.assertEqual(p["source"], "yahoo")
        self.assertEqual(p["volume"], 76114600, "the day's volume so far")
        time.sleep(2.5)  # past the live-bar timer: a bar built from the quote would be stored now
        syms = {s["symbol"]: s for s in self.get_json("/symbols")["symbols"]}
        self.assertNotIn("AAPL", syms, f"a quote became a bar: {syms.get('AAPL')}")
        y0 = len(self.fake.requests("/yahoo/"))
        h = self.get_json("/historical/AAPL?interval=1d&start=2024-03-01&end=2024-03-09")
        asked = self.fake.requests("/yahoo/")[y0:]
        self.assertTrue(any("interval=1d" in a and "period1" in a for a in asked), asked)
        # (interval=1mo&...events=div,splits is the adjustment asking for AAPL's actions)
        self.assertFalse(any("interval=1m&" in a for a in asked), asked)
        self.assertEqual(h["from"], "sources")
        # the provider's daily bars (the fixture's, its null row left out), not one made-up bar
        with open(os.path.join(SRC, "tests", "fixtures", "providers", "yahoo", "chart_AAPL_1d.json")) as f:
            r = json.load(f)["chart"]["result"][0]
        q = r["indicators"]["quote"][0]
        want = [(iso(t - t % 86400), round(c, 2), v) for t, c, v in zip(r["timestamp"], q["close"], q["volume"])
                if c is not None]  # prices at the provider's priceHint (2)
        self.assertEqual([(b["timestamp"], b["close"], b["volume"]) for b in h["bars"]], want)
        self.assertTrue(all(b["high"] > b["low"] for b in h["bars"]), h["bars"])
        syms = {s["symbol"]: s for s in self.get_json("/symbols")["symbols"]}
        self.assertEqual([i["interval"] for i in syms["AAPL"]["intervals"]], ["1d"])


if __name__ == "__main__":
    unittest.main()
