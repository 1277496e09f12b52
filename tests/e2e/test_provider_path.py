"""End to end: the provider path against the fake provider server (tests/fakeprovider) and a
real Redis - a provider that hangs does not stall the requests that need none (bulkheads),
a request has one time budget and is hedged to the next source, an empty range fails over,
a refused endpoint opens its own circuit only, budgets hold across restarts and between
agents (and multi-request operations stay within them), daily limits pause until the
provider's day ends, symbols are spelled as each provider wants them, errors leak neither
keys nor upstream addresses, and deployments on one Redis keep their streams apart while
an offline feed runs on one agent of a deployment at a time."""
import datetime
import http.client
import json
import os
import tempfile
import threading
import time
import unittest
import urllib.parse
import uuid
import zoneinfo

import mdtest
from mdtest import SRC, Agent, AgentTest, curl, services
from test_sources_failover import FakeProvider
from wsclient import RawWs

FINNHUB_KEY = "fh-secret-key-4242"
POLYGON_KEY = "pg-secret-key-5151"
AV_KEY = "av-secret-key-6161"
TD_KEY = "td-secret-key-7171"


def get(port, path, timeout=30):
    """One GET on a fresh connection; (status, json or text, seconds)."""
    t0 = time.monotonic()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        body = r.read().decode()
        status = r.status
    finally:
        c.close()
    took = time.monotonic() - t0
    try:
        return status, json.loads(body), took
    except ValueError:
        return status, body, took


def p99(samples):
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * 0.99))]


class PathTest(AgentTest):
    """An agent whose providers point at a fake server started for the class."""
    providers = {}      # name -> scenario mode or None
    priority = ""
    extra_args = ()
    extra_env = {}
    keys = {"FINNHUB_API_KEY": FINNHUB_KEY, "POLYGON_API_KEY": POLYGON_KEY,
            "ALPHA_VANTAGE_API_KEY": AV_KEY, "TWELVE_DATA_API_KEY": TD_KEY}

    @classmethod
    def provider_env(cls):
        env = {"MDAGENT_SOURCES_PRIORITY": cls.priority, **cls.keys, **cls.extra_env}
        for name, mode in cls.providers.items():
            env[f"MDAGENT_{name.upper()}_URL"] = cls.fake.url(name, mode)
        return env

    @classmethod
    def setUpClass(cls):
        cls.fake = FakeProvider()
        cls.env = cls.provider_env()
        cls.args = ("--set", "sources.retry_base_ms=10", "--set", "sources.retry_max_ms=20",
                    "--set", "sources.max_retries=0", *cls.extra_args)
        super().setUpClass()  # AgentTest stops cls.fake with the agent

    def source(self, name, agent=None):
        for s in json.loads((agent or self.agent).get("/sources").body)["sources"]:
            if s["name"] == name:
                return s
        raise AssertionError(name)

    def asked(self, prefix):
        return len(self.fake.requests(prefix))

    def asked_path(self, part):
        """Requests whose path holds `part` (a mode's base URL has /_mode/<MODE> in it)."""
        return len([r for r in self.fake.requests("/") if part in r])


# -- never stall -------------------------------------------------------------------------------

class Bulkheads(PathTest):
    """Four requests wait on a provider that hangs; the requests that need no provider
    answer as if it did not exist."""
    providers = {"yahoo": "HANG", "finnhub": None}
    priority = "yahoo,finnhub"
    extra_args = ("--set", "sources.deadline_ms=8000", "--set", "sources.hedge_ms=0")

    def test_store_and_cache_requests_never_wait_behind_a_hanging_provider(self):
        results = []

        def hang(i):
            results.append(get(self.agent.port, f"/price/HUNG{i}?source=yahoo"))

        threads = [threading.Thread(target=hang, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 5
        while self.source("yahoo")["in_flight"] < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertEqual(self.source("yahoo")["in_flight"], 4, "four calls hang on yahoo")
        paths = ["/sources", "/health", "/symbols", "/symbols/EURUSD",
                 "/historical/MSFT?interval=1d&cached_only=true&limit=50"]
        for path in paths:
            took = []
            for _ in range(60):
                status, body, t = get(self.agent.port, path)
                self.assertEqual(status, 200, (path, body))
                took.append(t)
            self.assertLess(p99(took), 0.100, f"{path}: p99 {p99(took) * 1000:.1f} ms")
        self.assertEqual(self.source("yahoo")["in_flight"], 4, "still hanging while measured")
        for t in threads:
            t.join(30)
        self.assertEqual([r[0] for r in results], [504] * 4, results)
        for status, body, took in results:
            self.assertEqual(body["error"]["code"], "timeout", body)
            self.assertLess(took, 9.5, "the request's time budget ended them")


class DeadlineAndHedging(PathTest):
    providers = {"yahoo": "HANG", "finnhub": None, "polygon": "E503"}
    priority = "yahoo,finnhub"
    extra_args = ("--set", "sources.deadline_ms=1500", "--set", "sources.hedge_ms=200",
                  "--set", "sources.circuit.failures=1000", "--set", "sources.circuit.failure_ratio=0")

    def test_a_hanging_primary_is_hedged_to_the_next_source(self):
        y0 = self.asked("/yahoo/")
        status, p, took = get(self.agent.port, "/price/AAPL?max_age=0")
        self.assertEqual(status, 200, p)
        self.assertEqual(p["source"], "finnhub")
        self.assertGreaterEqual(took, 0.2, "the hedge delay first")
        self.assertLess(took, 1.0, f"{took:.3f} s")
        self.assertEqual(self.asked("/yahoo/") - y0, 1, "the primary was asked, then cancelled")
        # the losing call is cancelled after the answer went out: its outcome lands a moment later
        last = None
        for _ in range(100):
            last = self.source("yahoo")["last_error"]
            if last:
                break
            time.sleep(0.05)
        self.assertIn("another source answered", last or "")

    def test_an_adjusted_history_asks_the_actions_within_the_deadline(self):
        # adjust=splits (the default) asks the sources for the symbol's actions first when
        # they were never asked: the hanging primary's actions call has the request's budget
        # too (it had the 10 s HTTP timeout), and the bars still come from the next source
        status, body, took = get(self.agent.port, "/historical/AAPL?interval=1d&start=2024-03-01&end=2024-03-09")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["count"], 5, body)
        self.assertLess(took, 2.5, f"the 1.5 s budget, not the HTTP timeout: {took:.3f} s")

    def test_symbols_left_when_the_budget_ran_out_are_timeouts(self):
        # finnhub does not know them at once and yahoo hangs: each waits on yahoo (side by side)
        # until the one 1.5 s budget ends, which is 504 timeout, not a broken source
        status, body, took = get(self.agent.port, "/prices?symbols=NOPE0,NOPE1,NOPE2")
        self.assertEqual(status, 200, body)
        self.assertLess(took, 4.0, f"one 1.5 s budget for the three: {took:.3f} s {body}")
        self.assertEqual([e["symbol"] for e in body["errors"]], ["NOPE0", "NOPE1", "NOPE2"], body)
        self.assertEqual({e["code"] for e in body["errors"]}, {"timeout"}, body)

    def test_one_source_alone_stops_at_the_deadline(self):
        status, body, took = get(self.agent.port, "/price/AAPL?source=yahoo")
        self.assertEqual(status, 504, body)
        self.assertEqual(body["error"]["code"], "timeout")
        self.assertGreaterEqual(took, 1.4)
        self.assertLess(took, 2.5, f"{took:.3f} s")
        self.assertNotIn("127.0.0.1", body["error"]["message"])
        # the source still asked when the budget ran out is named, with its reason
        self.assertIn("yahoo: no answer within", body["error"]["message"])

    def test_retries_count_against_the_deadline(self):
        agent = Agent(env={**self.env, "MDAGENT_SOURCES_PRIORITY": "polygon"},
                      args=("--set", "sources.deadline_ms=1500", "--set", "sources.max_retries=10",
                            "--set", "sources.polygon.per_minute=1000",
                            "--set", "sources.retry_base_ms=400", "--set", "sources.retry_max_ms=400",
                            "--set", "sources.circuit.failures=1000"),
                      name="retries").start()
        try:
            p0 = self.asked("/polygon/")
            status, body, took = get(agent.port, "/price/AAPL?source=polygon")
            self.assertIn(status, (503, 504), body)
            self.assertLess(took, 2.0, f"ten retries of 200-400 ms would take seconds: {took:.3f}")
            n = self.asked("/polygon/") - p0
            self.assertGreaterEqual(n, 2)
            # each wait is drawn from [200, 400] ms (half the backoff to all of it), and a retry
            # is made only when it can start before the 1.5 s budget ends: at most 1 + 7 asks
            # (six short waits fit 1.5 s about once in fifty runs, so 6 was not a bound), where
            # retries that ignored the budget would ask 11 times
            self.assertLessEqual(n, 8, "retries stop when the budget could not cover the next")
        finally:
            agent.cleanup()


class SymbolsSideBySide(PathTest):
    """The symbols of one request are fetched side by side: one symbol that hangs on every
    source (the fake's HANG..., nothing stored for HANG, a series for HANGS) spends the
    request's budget alone, while the others are asked at once and answered."""
    providers = {"yahoo": None, "finnhub": None}
    priority = "yahoo,finnhub"
    extra_args = ("--set", "sources.deadline_ms=3000", "--set", "sources.hedge_ms=200",
                  "--set", "sources.circuit.failures=1000", "--set", "sources.circuit.failure_ratio=0")
    # yahoo answers these from its fixtures (chart meta); no unit conversion (GBp) among them
    others = ["AAPL", "^GSPC", "BTC-USD", "7203.T"]

    @classmethod
    def setUpClass(cls):
        # HANGS's daily closes are stored (MSFT's series under its name): a cross-symbol
        # request can answer its part from the store while its sources hang
        cls.tmp = tempfile.TemporaryDirectory()
        with open(os.path.join(SRC, "data", "sample", "MSFT.csv")) as f:
            series = f.read()
        cls.hang_csv = os.path.join(cls.tmp.name, "HANGS.csv")
        with open(cls.hang_csv, "w") as f:
            f.write(series)
        super().setUpClass()
        cls.agent.stop()
        cls.agent.load(cls.hang_csv)
        cls.agent.start()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.tmp.cleanup()

    def yahoo_price(self, sym):
        with open(os.path.join(SRC, "tests", "fixtures", "providers", "yahoo", f"chart_{sym}_1d.json")) as f:
            return json.load(f)["chart"]["result"][0]["meta"]["regularMarketPrice"]

    def yahoo_asked(self, sym, since):
        """Whether yahoo was asked for sym after the first `since` requests of the fake."""
        paths = [urllib.parse.unquote(p) for p in self.fake.requests("/")[since:]]
        return any(p.startswith("/yahoo/") and f"/chart/{sym}?" in p for p in paths)

    def run_while_watching(self, path, syms):
        """GETs path in a thread; returns (status, body, seconds, seconds until yahoo had
        been asked for every symbol of syms, or None)."""
        since = len(self.fake.requests("/"))
        out = {}
        t = threading.Thread(target=lambda: out.update(r=get(self.agent.port, path)))
        t0 = time.monotonic()
        t.start()
        asked_after = None
        while t.is_alive() and asked_after is None:
            if all(self.yahoo_asked(s, since) for s in syms):
                asked_after = time.monotonic() - t0
            time.sleep(0.02)
        t.join(30)
        status, body, took = out["r"]
        return status, body, took, asked_after

    def test_a_symbol_hanging_on_every_source_does_not_hold_the_others(self):
        syms = ["HANG"] + self.others
        path = "/prices?max_age=0&symbols=" + urllib.parse.quote(",".join(syms))
        status, body, took, asked_after = self.run_while_watching(path, self.others)
        self.assertEqual(status, 200, body)
        # one after another, HANG spent the 3 s budget first: the others were not even asked
        self.assertIsNotNone(asked_after, f"the others were asked only after HANG: {body}")
        self.assertLess(asked_after, 1.0, "the others are asked at once, beside HANG")
        self.assertEqual([p["symbol"] for p in body["prices"]], self.others, body)
        for p in body["prices"]:
            self.assertEqual(p["source"], "yahoo", p)
            self.assertAlmostEqual(p["price"], self.yahoo_price(p["symbol"]), places=2, msg=p)
        self.assertEqual(len(body["errors"]), 1, body)
        e = body["errors"][0]
        self.assertEqual((e["symbol"], e["code"]), ("HANG", "timeout"), body)
        self.assertIn("yahoo: no answer within", e["message"])
        self.assertIn("finnhub: no answer within", e["message"])
        self.assertGreaterEqual(took, 2.9, "HANG had the whole budget")
        self.assertLess(took, 4.5, f"one 3 s budget for all of them: {took:.3f} s")
        # the same symbols without HANG: the answers HANG did not delay, from the sources again
        status, quick, took, _ = self.run_while_watching(
            "/prices?max_age=0&symbols=" + urllib.parse.quote(",".join(self.others)), [])
        self.assertEqual((status, quick["errors"]), (200, []), quick)
        self.assertEqual([p["price"] for p in quick["prices"]], [p["price"] for p in body["prices"]])
        self.assertLess(took, 1.0, f"{took:.3f} s")

    def test_cross_symbol_analytics_fetch_beside_a_hanging_symbol(self):
        # HANGS's series ends in 2001: the rest of the range is asked of the sources, which
        # hang; AAPL has nothing stored and must be fetched. One after another, HANGS spent the
        # budget and AAPL, never asked, failed the request with 504
        path = ("/analytics/returns?symbols=HANGS,AAPL&interval=1d&start=2001-09-01"
                "&end=2024-03-09&align=outer")
        status, body, took, asked_after = self.run_while_watching(path, ["AAPL"])
        self.assertEqual(status, 200, body)
        self.assertIsNotNone(asked_after, body)
        self.assertLess(asked_after, 1.0, "AAPL is asked at once, beside HANG")
        self.assertLess(took, 4.5, f"one 3 s budget: {took:.3f} s")
        stored = self.get_json("/historical/AAPL?interval=1d&start=2024-03-01&end=2024-03-09"
                               "&cached_only=true")
        self.assertGreater(stored["count"], 0, "AAPL's bars were fetched and stored")


class ActionsWhenEverySourceHangs(PathTest):
    providers = {"yahoo": "HANG"}
    priority = "yahoo"
    extra_args = ("--set", "sources.deadline_ms=1000")

    def test_nothing_stored_and_no_answer_is_the_timeout_not_404(self):
        status, body, took = get(self.agent.port, "/actions/NOPEACT")
        self.assertEqual(status, 504, body)  # it said 404 "no data for symbol"
        self.assertEqual(body["error"]["code"], "timeout")
        self.assertIn("yahoo", body["error"]["message"])
        self.assertLess(took, 2.5, f"{took:.3f} s")
        # without asking the sources, nothing is known of it: 404
        status, body, _ = get(self.agent.port, "/actions/NOPEACT2?cached_only=true")
        self.assertEqual(status, 404, body)


class HostileBodies(PathTest):
    """Providers that misbehave after the status line: an endless body, a redirect loop, a
    body cut mid-way, a body dripped one byte a second. Each ?source= call ends with its
    documented error within the budget, and failover answers from the healthy source."""
    providers = {"yahoo": "ENDLESS", "alphavantage": "REDIRECTLOOP", "polygon": "CLOSEMID",
                 "twelvedata": "DRIP", "finnhub": None}
    priority = "yahoo,alphavantage,polygon,twelvedata,finnhub"
    extra_args = ("--set", "sources.deadline_ms=1500", "--set", "sources.hedge_ms=200",
                  "--set", "sources.max_body_bytes=1048576")

    def test_each_hostile_answer_ends_with_its_error_and_failover_answers(self):
        cases = {"yahoo": (502, "malformed_response", "larger than 1048576 bytes"),
                 "alphavantage": (503, "source_unavailable", "redirects"),
                 "polygon": (503, "source_unavailable", "cut short"),
                 "twelvedata": (504, "timeout", "twelvedata: no answer within")}
        for name, (code, err, words) in cases.items():
            status, body, took = get(self.agent.port, f"/price/IBM?source={name}")
            self.assertEqual((status, body["error"]["code"]), (code, err), (name, body))
            self.assertIn(words, body["error"]["message"], name)
            self.assertLess(took, 2.5, f"{name}: {took:.3f} s")
        status, body, took = get(self.agent.port, "/price/AAPL?max_age=0")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["source"], "finnhub")
        self.assertLess(took, 2.5, f"{took:.3f} s")
        self.assertLess(mdtest.rss_mib(self.agent.proc.pid), 200, "bodies are bounded")


# -- an empty answer is not the end ------------------------------------------------------------

class EmptyRangesFailOver(PathTest):
    """Finnhub "no_data", Polygon's empty results and Twelve Data's "Data not found" are
    empty ranges: the next source is asked, and has the bars."""
    providers = {"finnhub": "EMPTYRANGE", "polygon": "EMPTYRANGE", "twelvedata": None}
    priority = "finnhub,polygon,twelvedata"
    load_sample = False

    def test_the_source_after_two_empty_answers_has_the_bars(self):
        h = self.get_json("/historical/AAPL?interval=1d&start=2024-03-06&end=2024-03-09")
        self.assertEqual([b["timestamp"][:10] for b in h["bars"]],
                         ["2024-03-06", "2024-03-07", "2024-03-08"])
        self.assertEqual({b["source"] for b in h["bars"]}, {"twelvedata"})
        self.assertEqual(self.asked_path("/stock/candle"), 1)
        self.assertEqual(self.asked_path("/range/"), 1)
        # no circuit opens for an empty range
        self.assertEqual(self.source("finnhub")["failures"], 0)


class DataNotFoundFailsOver(PathTest):
    providers = {"twelvedata": "EMPTYRANGE", "finnhub": None}
    priority = "twelvedata,finnhub"
    load_sample = False

    def test_twelve_data_data_not_found_is_an_empty_range(self):
        h = self.get_json("/historical/AAPL?interval=1d&start=2024-03-04&end=2024-03-09")
        self.assertEqual(h["count"], 5)
        self.assertEqual({b["source"] for b in h["bars"]}, {"finnhub"})
        self.assertEqual(self.source("twelvedata")["failures"], 0)


class InvalidInterval(PathTest):
    providers = {"twelvedata": "BADINTERVAL"}
    priority = "twelvedata"
    load_sample = False

    def test_twelve_data_invalid_interval_is_400(self):
        body = self.assert_error("/historical/AAPL?interval=1h&start=2024-03-04&end=2024-03-09"
                                 "&source=twelvedata", 400, "invalid_interval")
        self.assertIn("twelvedata", body["error"]["message"])
        self.assert_error("/historical/AAPL?interval=1h&start=2024-03-01&end=2024-03-09",
                          400, "invalid_interval")
        self.assertEqual(self.source("twelvedata")["failures"], 0, "an answer, not a sick source")


# -- circuits per endpoint ---------------------------------------------------------------------

class CircuitPerEndpoint(PathTest):
    """Finnhub refuses candles to a free key (403); its quotes go on."""
    providers = {"finnhub": "FORBIDCANDLES"}
    priority = "finnhub"
    extra_args = ("--set", "sources.circuit.failures=2", "--set", "sources.circuit.cooldown_ms=600000")
    load_sample = False

    def test_a_403_on_candles_leaves_the_quote_endpoint_closed(self):
        for start, end in (("2024-03-04", "2024-03-09"), ("2024-02-05", "2024-02-10")):
            self.assert_error(f"/historical/AAPL?interval=1d&start={start}&end={end}&source=finnhub",
                              502, "source_unauthorized")
        body = self.assert_error("/historical/AAPL?interval=1d&start=2024-01-08&end=2024-01-13"
                                 "&source=finnhub", 503, "no_healthy_source")
        self.assertIn("circuit open for daily calls", body["error"]["message"])
        self.assertEqual(self.asked_path("/stock/candle"), 2, "no call into the open circuit")
        p = self.get_json("/price/AAPL?source=finnhub")
        self.assertEqual(p["source"], "finnhub")
        self.assertEqual(p["price"], 170.73)
        f = self.source("finnhub")
        self.assertEqual(f["circuits"]["daily"], "open")
        self.assertEqual(f["circuits"]["quote"], "closed")
        self.assertEqual(f["circuits"]["intraday"], "closed")


# -- quotas that hold across processes ---------------------------------------------------------

class QuotaAcrossRestarts(unittest.TestCase):
    """Three restarts within a minute never send more than Alpha Vantage's 5 a minute."""

    def test_restarts_share_one_budget_through_the_store(self):
        fake = FakeProvider()
        first = Agent(name="avrestart")
        db = first.db
        env = {"MDAGENT_SOURCES_PRIORITY": "alphavantage", "ALPHA_VANTAGE_API_KEY": AV_KEY,
               "MDAGENT_ALPHAVANTAGE_URL": fake.url("alphavantage")}
        answers = []
        try:
            for restart in range(3):
                a = first if restart == 0 else Agent(db=db, name=f"avrestart{restart}")
                a.env.update(env)
                a.start()
                try:
                    for i in range(3):
                        status, body, _ = get(a.port, "/price/IBM?source=alphavantage")
                        answers.append(status)
                finally:
                    a.stop()
                    if a is not first:
                        a.cleanup()
            sent = len(fake.requests("/alphavantage/"))
            self.assertLessEqual(sent, 5, f"{sent} requests against 5 a minute")
            self.assertEqual(sent, 5, "the budget is used, not wasted")
            self.assertEqual(answers.count(200), 5, answers)
            self.assertEqual(answers.count(429), 4, answers)
        finally:
            first.cleanup()
            fake.stop()


@unittest.skipUnless(services().get("MDTEST_REDIS_URL"), "no test Redis (run under ctest)")
class QuotaSharedByAgents(unittest.TestCase):
    """Two agents on one Redis (same database and prefix) share Alpha Vantage's 5 a minute."""

    def test_two_agents_share_one_budget(self):
        fake = FakeProvider()
        redis = services()["MDTEST_REDIS_URL"].rsplit("/", 1)[0] + "/8"
        env = {"MDAGENT_SOURCES_PRIORITY": "alphavantage", "ALPHA_VANTAGE_API_KEY": AV_KEY,
               "MDAGENT_ALPHAVANTAGE_URL": fake.url("alphavantage"), "MDAGENT_REDIS": redis,
               "MDAGENT_CACHE_PREFIX": f"e2e:{uuid.uuid4().hex}:"}
        a = Agent(env=env, name="quotaA").start()
        b = Agent(env=env, name="quotaB").start()
        try:
            answers = []
            for i in range(4):
                for agent in (a, b):
                    answers.append(get(agent.port, "/price/IBM?source=alphavantage")[0])
            sent = len(fake.requests("/alphavantage/"))
            self.assertEqual(sent, 5, f"{sent} requests from two agents against 5 a minute")
            self.assertEqual(answers.count(200), 5, answers)
            src = [s for s in json.loads(b.get("/sources").body)["sources"]
                   if s["name"] == "alphavantage"][0]
            self.assertEqual(src["rate_limit"]["remaining"], 0, src)
            self.assertTrue(src["rate_limit"]["shared"], src)
        finally:
            a.cleanup()
            b.cleanup()
            fake.stop()


class MultiRequestOperations(PathTest):
    """Polygon's free-plan quote is two requests (last trade refused, then /prev); Alpha
    Vantage's intraday history one request per month: neither sends more than the budget."""
    providers = {"polygon": None, "alphavantage": None}
    priority = "polygon,alphavantage"
    extra_args = ("--set", "sources.backfill_max_bars=200000")
    load_sample = False

    def test_polygon_fallbacks_stop_at_the_budget(self):
        statuses = [get(self.agent.port, f"/price/MSFT?source=polygon&max_age=0")[0]
                    for _ in range(3)]
        sent = self.asked("/polygon/")
        self.assertLessEqual(sent, 5, f"{sent} requests against 5 a minute")
        self.assertEqual(statuses[:2], [200, 200])
        self.assertEqual(statuses[2], 429)
        body = self.assert_error("/price/MSFT?source=polygon", 429, "rate_limited")
        self.assertIn("polygon", body["error"]["message"])

    def test_alpha_vantage_months_are_reserved_or_not_sent(self):
        a0 = self.asked("/alphavantage/")
        body = self.assert_error("/historical/IBM?interval=5m&start=2023-01-01&end=2023-09-01"
                                 "&source=alphavantage", 429, "rate_limited")
        sent = self.asked("/alphavantage/") - a0
        self.assertLessEqual(sent, 5, f"{sent} requests against 5 a minute")
        self.assertIn("alphavantage", body["error"]["message"])


class FinnhubPerSecond(PathTest):
    providers = {"finnhub": None}
    priority = "finnhub"
    extra_args = ("--set", "sources.finnhub.per_minute=1000", "--set", "sources.fetch_workers=16",
                  "--set", "sources.max_concurrent=16", "--set", "sources.max_queued=64")
    load_sample = False

    def test_no_second_holds_more_than_thirty_calls(self):
        self.assertEqual(self.source("finnhub")["rate_limit"]["per_second"], 30)
        statuses = []

        def ask(i):
            statuses.append(get(self.agent.port, f"/price/S{i}?source=finnhub")[0])

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(45)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        took = time.monotonic() - t0
        sent = self.asked("/finnhub/quote")
        if took < 1.0:  # all of them inside one second: at most 30 went out
            self.assertLessEqual(sent, 30, statuses)
            self.assertIn(429, statuses)
        self.assertLessEqual(sent, 30 * (int(took) + 1))


class DailyLimitPausesUntilReset(PathTest):
    """Alpha Vantage's "25 requests per day" notice pauses it until its day ends (midnight
    US/Eastern), not for a minute; the notice quotes the key, which never shows."""
    key = "av-" + "K" * 30 + "-0123456789abcdefghijklmnopqrstuvwxyz"  # 70 characters
    providers = {"alphavantage": "DAYLIMIT"}
    priority = "alphavantage"
    keys = {"ALPHA_VANTAGE_API_KEY": key}
    load_sample = False

    def test_the_daily_notice_pauses_until_midnight_new_york(self):
        body = self.assert_error("/price/IBM?source=alphavantage", 429, "rate_limited")
        now = datetime.datetime.now(zoneinfo.ZoneInfo("America/New_York"))
        midnight = (now + datetime.timedelta(days=1)).replace(hour=0, minute=0, second=0,
                                                               microsecond=0)
        want = (midnight - now).total_seconds()
        av = self.source("alphavantage")
        self.assertEqual(av["rate_limit"]["remaining"], 0)
        self.assertLess(abs(av["rate_limit"]["reset_s"] - want), 10, (av, want))
        self.assert_error("/price/IBM?source=alphavantage", 429, "rate_limited")
        self.assertEqual(self.asked("/alphavantage/"), 1, "paused: not asked again")
        for where, text in (("the error", json.dumps(body)), ("/sources", json.dumps(av)),
                            ("the log", self.agent.logs())):
            for i in range(len(self.key) - 8):
                self.assertNotIn(self.key[i:i + 8], text, f"a piece of the key in {where}")
        self.assertNotIn("alphavantage: alphavantage", body["error"]["message"])
        self.assertNotIn("alphavantage.co", body["error"]["message"], "no upstream address")


# -- symbols as each provider spells them ------------------------------------------------------

class Symbols(PathTest):
    providers = {"yahoo": None, "alphavantage": None, "polygon": None, "twelvedata": None,
                 "finnhub": None}
    priority = "alphavantage,yahoo,polygon,twelvedata"
    load_sample = False

    @classmethod
    def setUpClass(cls):
        cls.cfg = os.path.join(os.environ.get("MDTEST_TMP", "/tmp"), f"symbols-{os.getpid()}.yaml")
        os.makedirs(os.path.dirname(cls.cfg), exist_ok=True)
        with open(cls.cfg, "w") as f:
            f.write("symbols:\n"
                    "  BRK.B:\n"
                    "    polygon: BRK.B.OVR\n"
                    "  ^GSPC: {twelvedata: \"-\"}\n")
        cls.extra_args = ("--config", cls.cfg)
        super().setUpClass()

    def test_fx_is_asked_in_each_spelling_and_skipped_where_not_offered(self):
        p = self.get_json("/price/EURUSD?max_age=0")
        self.assertEqual(p["source"], "yahoo")
        self.assertEqual(p["symbol"], "EURUSD")
        self.assertEqual(p["price"], 1.0856)
        self.assertEqual(self.asked("/alphavantage/"), 0, "alphavantage offers no FX: skipped")
        self.assertTrue(self.fake.requests("/yahoo/v8/finance/chart/EURUSD=X?"))
        self.get_json("/price/EURUSD?source=twelvedata")
        self.assertTrue(self.fake.requests("/twelvedata/quote?symbol=EUR%2FUSD&"))
        p = self.get_json("/price/EURUSD?source=polygon")
        self.assertEqual(p["price"], 1.08564)
        self.assertTrue(self.fake.requests("/polygon/v2/aggs/ticker/C:EURUSD/prev"))
        body = self.assert_error("/price/EURUSD?source=alphavantage", 400, "invalid_parameter")
        self.assertIn("does not offer fx", body["error"]["message"])

    def test_an_index_and_an_override(self):
        p = self.get_json("/price/%5EGSPC?source=polygon")
        self.assertEqual(p["symbol"], "^GSPC")
        self.assertTrue(self.fake.requests("/polygon/v2/aggs/ticker/I:SPX/prev"))
        self.get_json("/price/%5EGSPC?source=yahoo")
        self.assertTrue(self.fake.requests("/yahoo/v8/finance/chart/%5EGSPC?"))
        s = self.get_json("/symbols/%5EGSPC")
        self.assertEqual(s["asset_class"], "index")
        self.assertEqual(s["providers"]["polygon"]["symbol"], "I:SPX")
        self.assertIsNone(s["providers"]["twelvedata"]["symbol"], "configured \"-\"")
        self.assertIsNone(s["providers"]["alphavantage"]["symbol"])
        s = self.get_json("/symbols/BRK.B")
        self.assertEqual(s["providers"]["polygon"]["symbol"], "BRK.B.OVR")
        self.assertTrue(s["configured"])
        self.assertEqual(s["providers"]["yahoo"]["symbol"], "BRK-B")

    def test_symbols_route_shows_canonical_class_and_spellings(self):
        s = self.get_json("/symbols/EUR/USD")
        self.assertEqual((s["symbol"], s["canonical"], s["asset_class"]), ("EUR/USD", "EURUSD", "fx"))
        want = {"yahoo": "EURUSD=X", "polygon": "C:EURUSD", "twelvedata": "EUR/USD",
                "finnhub": "OANDA:EUR_USD", "alphavantage": None}
        self.assertEqual({k: v["symbol"] for k, v in s["providers"].items()}, want)
        self.assertFalse(s["providers"]["finnhub"]["quotes"])
        self.assertTrue(s["providers"]["finnhub"]["bars"])
        s = self.get_json("/symbols/btc-usd")
        self.assertEqual(s["asset_class"], "crypto")
        self.assertEqual(s["providers"]["polygon"]["symbol"], "X:BTCUSD")
        self.assertEqual(s["providers"]["twelvedata"]["symbol"], "BTC/USD")
        self.assert_error("/symbols/A%20B", 400, "invalid_symbol")


# -- clean errors ------------------------------------------------------------------------------

class CleanErrors(PathTest):
    providers = {"yahoo": "E500", "finnhub": "HTML", "polygon": "SLOW"}
    priority = "yahoo,finnhub,polygon"
    extra_args = ("--set", "sources.timeout_ms=300")
    load_sample = False

    def test_client_errors_name_each_provider_once_and_no_upstream_address(self):
        body = self.assert_error("/price/NEWSYM", 503, "no_healthy_source")
        msg = body["error"]["message"]
        for name in ("yahoo", "finnhub", "polygon"):
            self.assertEqual(msg.count(f"{name}:"), 1, msg)
        for what in ("127.0.0.1", str(self.fake.port), "http", "/v8/", "/quote", "/v2/"):
            self.assertNotIn(what, msg)
        want = {"yahoo": (503, "source_unavailable"), "finnhub": (502, "malformed_response"),
                "polygon": (504, "timeout")}
        for name, (status, code) in want.items():
            body = self.assert_error(f"/price/NEWSYM?source={name}", status, code)
            m = body["error"]["message"]
            self.assertTrue(m.startswith(f"{name}: "), m)
            self.assertNotIn(f"{name}: {name}", m)
            self.assertNotIn("127.0.0.1", m)
            self.assertNotIn("127.0.0.1", self.source(name)["last_error"] or "")


# -- one deployment, one stream ----------------------------------------------------------------

@unittest.skipUnless(services().get("MDTEST_REDIS_URL"), "no test Redis (run under ctest)")
class Deployments(unittest.TestCase):
    """Two deployments on one Redis server (databases 3 and 4, the same prefix and channel):
    pub/sub ignores the database number, the namespace in the channel keeps them apart."""

    def test_a_deployment_never_hears_anothers_ticks(self):
        base = services()["MDTEST_REDIS_URL"].rsplit("/", 1)[0]
        tag = uuid.uuid4().hex
        common = {"MDAGENT_API_KEYS": "k", "MDAGENT_CACHE_PREFIX": f"e2e:{tag}:",
                  "MDAGENT_STREAM_REDIS_CHANNEL": f"e2e:{tag}:stream"}
        a = Agent(env={**common, "MDAGENT_REDIS": base + "/3"}, name="depA").start()
        b = Agent(env={**common, "MDAGENT_REDIS": base + "/4"}, name="depB").start()
        try:
            for agent in (a, b):
                wait_relay(agent)
            ra, rb = relay(a), relay(b)
            self.assertNotEqual(ra["channel"], rb["channel"])
            self.assertTrue(ra["channel"].endswith(f"@e2e:{tag}:db3"), ra)
            t0 = int(time.time()) - 120
            r = a.post("/ingest/quotes", json.dumps({"quotes": [
                {"symbol": "XDEP", "price": 10 + i, "timestamp": t0 + i} for i in range(5)]}),
                headers={"X-API-Key": "k", "Content-Type": "application/json"})
            self.assertEqual(r.status, 200, r)
            deadline = time.monotonic() + 10
            while relay(a).get("echoes", 0) < 5 and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual(relay(a)["echoes"], 5, "a heard its own ticks back")
            self.assertEqual(relay(b)["received"], 0, relay(b))
            self.assertEqual(b.get("/price/XDEP").status, 404, "nothing foreign stored in b")
        finally:
            a.cleanup()
            b.cleanup()


def relay(agent):
    return json.loads(agent.get("/health").body)["components"]["stream"].get("relay", {})


def wait_relay(agent):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if relay(agent).get("status") == "connected":
            return
        time.sleep(0.05)
    raise AssertionError(f"relay not connected: {relay(agent)}")


@unittest.skipUnless(services().get("MDTEST_REDIS_URL"), "no test Redis (run under ctest)")
class OfflineFeedUnderALease(unittest.TestCase):
    """Two agents of one deployment both list the simulator: it runs on one of them, the
    other gets its ticks through the relay, so a client on either sees each tick once; when
    the holder stops, the other takes over."""

    def test_each_tick_once_on_either_agent_and_a_takeover(self):
        redis = services()["MDTEST_REDIS_URL"].rsplit("/", 1)[0] + "/9"
        tag = uuid.uuid4().hex
        env = {"MDAGENT_REDIS": redis, "MDAGENT_CACHE_PREFIX": f"e2e:{tag}:",
               "MDAGENT_STREAM_REDIS_CHANNEL": f"e2e:{tag}:stream",
               "MDAGENT_SOURCES_PRIORITY": "simulator", "MDAGENT_SIMULATOR_SYMBOLS": "SIMX:100"}
        args = ("--set", "simulator.interval_ms=200", "--set", "sources.feed_lease_ms=1500",
                "--set", "stream.live_bars=false")
        a = Agent(env=env, args=args, name="feedA").start()
        b = Agent(env=env, args=args, name="feedB").start()
        try:
            wait_relay(a)
            wait_relay(b)
            ticks = {}
            for name, agent in (("a", a), ("b", b)):
                ws = RawWs(agent.port)
                ws.message()  # welcome
                ws.send({"op": "subscribe", "symbols": ["SIMX"], "channels": ["quote"]})
                ticks[name] = (ws, [])
            for name, (ws, seen) in ticks.items():
                t_end = time.monotonic() + 3.2  # the other client's ticks queue meanwhile
                while time.monotonic() < t_end:
                    ws.sock.settimeout(max(0.05, t_end - time.monotonic()))
                    try:
                        m = ws.message()
                    except (OSError, TimeoutError):
                        break
                    if m.get("type") == "quote":
                        seen.append((m["timestamp"], m["price"]))
            for name, (ws, seen) in ticks.items():
                # (a stored quote is one per second: the simulator's 5 a second become 1)
                self.assertGreaterEqual(len(seen), 2, f"client on {name} saw ticks")
                self.assertEqual(len(seen), len(set(seen)), f"client on {name} saw a tick twice")
                ws.close()
            logs = a.logs() + b.logs()
            self.assertEqual(logs.count("lease taken source=simulator"), 1, logs[-3000:])
            holder, other = (a, b) if "lease taken source=simulator" in a.logs() else (b, a)
            holder.stop()
            deadline = time.monotonic() + 6
            while "lease taken source=simulator" not in other.logs() and time.monotonic() < deadline:
                time.sleep(0.1)
            self.assertIn("lease taken source=simulator", other.logs(), "the other took over")
        finally:
            a.cleanup()
            b.cleanup()


if __name__ == "__main__":
    unittest.main()
