"""End to end: the source manager against the fake provider server (tests/fakeprovider),
real binary, real HTTP. One provider is broken on purpose (the server's /_mode/<SCENARIO>
base URLs: 500, 503, slow past the timeout, truncated JSON, HTML, 429 with Retry-After)
while another answers from its fixtures: failover, circuit breaker, Retry-After, the rate
limit refusing requests without calling the provider, backfill on read, and API keys
never shown in logs, /sources or /metrics."""
import csv
import json
import os
import subprocess
import tempfile
import unittest
import urllib.request

from mdtest import SRC, Agent, AgentTest, curl, run_cli

FINNHUB_KEY = "fh-secret-key-4242"
POLYGON_KEY = "pg-secret-key-5151"


class FakeProvider:
    def __init__(self, slow_ms=3000):
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", os.path.join(SRC, "tests", "fakeprovider", "server.py"),
             "--slow-ms", str(slow_ms)], stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            raise AssertionError("fake provider did not start: " + line)
        self.port = int(line.split()[1])

    def url(self, provider, mode=None):
        base = f"http://127.0.0.1:{self.port}/{provider}"
        return base + (f"/_mode/{mode}" if mode else "")

    def requests(self, prefix):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_requests", timeout=10) as r:
            return [p for p in json.loads(r.read()) if p.startswith(prefix)]

    def stop(self):
        self.proc.kill()
        self.proc.wait()


class ProviderTest(AgentTest):
    """An agent whose providers point at a fake server started for the class."""
    providers = {}      # name -> scenario mode or None
    priority = ""
    extra_args = ()
    slow_ms = 3000

    @classmethod
    def setUpClass(cls):
        cls.fake = FakeProvider(cls.slow_ms)
        env = {"MDAGENT_SOURCES_PRIORITY": cls.priority, "MDAGENT_LOG_LEVEL": "debug",
               "FINNHUB_API_KEY": FINNHUB_KEY, "POLYGON_API_KEY": POLYGON_KEY,
               "ALPHA_VANTAGE_API_KEY": "av-secret-key-6161", "TWELVE_DATA_API_KEY": "td-secret-key-7171"}
        for name, mode in cls.providers.items():
            env[f"MDAGENT_{name.upper()}_URL"] = cls.fake.url(name, mode)
        cls.env = env
        cls.args = ("--set", "sources.retry_base_ms=10", "--set", "sources.retry_max_ms=20",
                    "--set", "sources.timeout_ms=400", *cls.extra_args)
        super().setUpClass()  # AgentTest stops cls.fake with the agent

    def source(self, name):
        for s in self.get_json("/sources")["sources"]:
            if s["name"] == name:
                return s
        raise AssertionError(name)

    def assert_no_secrets(self, text, where):
        for k in (FINNHUB_KEY, POLYGON_KEY, "av-secret-key-6161", "td-secret-key-7171"):
            self.assertNotIn(k, text, f"API key in {where}")


class FailoverOn500(ProviderTest):
    providers = {"yahoo": "E500", "finnhub": None, "polygon": "E500"}
    priority = "yahoo,polygon,finnhub"
    extra_args = ("--set", "sources.circuit.failures=100", "--set", "sources.circuit.failure_ratio=0",
                  "--set", "sources.max_retries=1")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # daily AAPL bars before the fixtures' week, as if loaded earlier
        cls.tmp = tempfile.mkdtemp(dir=os.environ.get("MDTEST_TMP"))
        path = os.path.join(cls.tmp, "AAPL.csv")
        with open(path, "w") as f:
            f.write("date,open,high,low,close,volume\n")
            for d, c in (("2024-02-26", 181.2), ("2024-02-27", 182.6), ("2024-02-28", 181.4),
                         ("2024-02-29", 180.8), ("2024-03-01", 179.7)):
                f.write(f"{d},{c},{c + 1},{c - 1},{c},1000000\n")
        cls.agent.load(path)

    def test_price_fails_over_past_the_broken_providers(self):
        y0 = len(self.fake.requests("/yahoo/"))
        p = self.get_json("/price/AAPL?max_age=0")
        self.assertEqual(p["source"], "finnhub")
        self.assertEqual(p["price"], 170.73)
        self.assertEqual(len(self.fake.requests("/yahoo/")) - y0, 2, "one try and one retry of the 500")
        y = self.source("yahoo")
        self.assertGreaterEqual(y["failures"], 2)
        self.assertIn("source_unavailable", y["last_error"])
        self.assertLess(y["health_score"], 1)
        self.assertEqual(y["circuit"], "closed")
        f = self.source("finnhub")
        self.assertIsNotNone(f["last_success"])
        self.assertEqual(f["failures"], 0)

    def test_historical_backfills_the_missing_end_as_mixed(self):
        h = self.get_json("/historical/AAPL?interval=1d&start=2024-02-26&end=2024-03-09")
        self.assertEqual(h["from"], "mixed")
        self.assertEqual([b["timestamp"][:10] for b in h["bars"]],
                         ["2024-02-26", "2024-02-27", "2024-02-28", "2024-02-29", "2024-03-01",
                          "2024-03-04", "2024-03-05", "2024-03-06", "2024-03-07", "2024-03-08"])
        self.assertEqual({b["source"] for b in h["bars"][5:]}, {"finnhub"})
        self.assertEqual({b["source"] for b in h["bars"][:5]}, {"csv"})
        again = self.get_json("/historical/AAPL?interval=1d&start=2024-03-04&end=2024-03-09")
        self.assertEqual(again["from"], "store")
        self.assertEqual(again["bars"], h["bars"][5:])

    def test_historical_fetches_a_range_nothing_covers(self):
        h = self.get_json("/historical/AAPL?interval=5m&start=2024-03-08T20:00:00Z&end=2024-03-08T21:00:00Z")
        self.assertEqual(h["from"], "sources")
        self.assertEqual(h["count"], 3)
        self.assertEqual(h["bars"][0]["timestamp"], "2024-03-08T20:30:00Z")

    def test_cached_only_never_asks(self):
        n0 = len(self.fake.requests("/finnhub/"))
        h = self.get_json("/historical/AAPL?interval=1h&start=2024-03-08&end=2024-03-09&cached_only=true")
        self.assertEqual(h["from"], "store")
        self.assertEqual(len(self.fake.requests("/finnhub/")), n0)

    def test_keys_never_appear_in_logs_sources_or_metrics(self):
        self.get("/price/AAPL?max_age=0")
        self.get("/price/AAPL?source=polygon")
        self.assertTrue(self.fake.requests("/polygon/"), "polygon was asked (its key went out)")
        self.assertTrue(any(FINNHUB_KEY in r for r in self.fake.requests("/finnhub/")),
                        "the key reached the provider")
        self.assert_no_secrets(self.get("/sources").body, "/sources")
        self.assert_no_secrets(self.get("/metrics").body, "/metrics")
        self.assert_no_secrets(self.agent.logs(), "the log")

    def test_historical_from_one_named_source_stores_what_it_returns(self):
        n0 = len(self.fake.requests("/finnhub/stock/candle"))
        h = self.get_json("/historical/AAPL?interval=1w&start=2024-02-19&end=2024-03-11&source=finnhub")
        self.assertEqual(h["from"], "sources")
        self.assertEqual([b["timestamp"][:10] for b in h["bars"]], ["2024-02-19", "2024-02-26", "2024-03-04"])
        self.assertEqual([b["close"] for b in h["bars"]], [182.52, 179.66, 170.73])
        self.assertEqual(len(self.fake.requests("/finnhub/stock/candle")), n0 + 1)
        stored = self.get_json("/historical/AAPL?interval=1w&start=2024-02-19&end=2024-03-11&cached_only=true")
        self.assertEqual(stored["bars"], h["bars"])
        self.assert_error("/historical/AAPL?interval=1w&start=2024-02-19&end=2024-03-11&source=yahoo",
                          503, "source_unavailable")

    def test_explicit_source_returns_its_own_error(self):
        body = self.assert_error("/price/AAPL?source=yahoo", 503, "source_unavailable")
        self.assertIn("yahoo", body["error"]["message"])
        p = self.get_json("/price/AAPL?source=finnhub")
        self.assertEqual(p["source"], "finnhub")


class HoleInsideTheStoredRange(ProviderTest):
    providers = {"finnhub": None}
    priority = "finnhub"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # daily AAPL bars on both sides of the fixtures' week (2024-03-04..08), none inside
        cls.tmp = tempfile.mkdtemp(dir=os.environ.get("MDTEST_TMP"))
        path = os.path.join(cls.tmp, "AAPL.csv")
        days = ("2024-02-20", "2024-02-21", "2024-02-22", "2024-02-23", "2024-02-26",
                "2024-02-27", "2024-02-28", "2024-03-11", "2024-03-12", "2024-03-13")
        with open(path, "w") as f:
            f.write("date,open,high,low,close,volume\n")
            for d in days:
                f.write(f"{d},180,181,179,180.5,1000000\n")
        cls.agent.load(path)

    def test_a_hole_between_stored_bars_is_fetched_and_answered_as_mixed(self):
        q = "/historical/AAPL?interval=1d&start=2024-02-20&end=2024-03-14"
        n0 = len(self.fake.requests("/finnhub/stock/candle"))
        h = self.get_json(q)
        self.assertEqual(h["from"], "mixed")
        got = [b["timestamp"][:10] for b in h["bars"]]
        self.assertEqual(got[:7], ["2024-02-20", "2024-02-21", "2024-02-22", "2024-02-23",
                                   "2024-02-26", "2024-02-27", "2024-02-28"])
        self.assertEqual(got[7:], ["2024-03-04", "2024-03-05", "2024-03-06", "2024-03-07",
                                   "2024-03-08", "2024-03-11", "2024-03-12", "2024-03-13"])
        self.assertEqual([b["close"] for b in h["bars"][7:12]], [175.1, 170.12, 169.12, 169, 170.73])
        self.assertEqual({b["source"] for b in h["bars"][7:12]}, {"finnhub"})
        asked = self.fake.requests("/finnhub/stock/candle")[n0:]
        self.assertEqual(len(asked), 1, asked)
        # the hole was asked, not the whole range: from the day after 02-28 to 03-11
        frm = int(asked[0].split("from=")[1].split("&")[0])
        to = int(asked[0].split("to=")[1].split("&")[0])
        # (the client pads a daily range by two days for exchange-local dates)
        self.assertGreaterEqual(frm, 1709164800 - 2 * 86400, asked)  # 2024-02-29 - 2 days
        self.assertLessEqual(to, 1710115200 + 2 * 86400, asked)      # 2024-03-11 + 2 days
        # stored now: the same range again comes from the store, without asking
        again = self.get_json(q)
        self.assertEqual(again["from"], "store")
        self.assertEqual(again["bars"], h["bars"])
        self.assertEqual(len(self.fake.requests("/finnhub/stock/candle")), n0 + 1)


class TimeoutAndGarbage(ProviderTest):
    providers = {"yahoo": "SLOW", "twelvedata": "TRUNC", "polygon": "HTML", "finnhub": None}
    priority = "yahoo,twelvedata,polygon,finnhub"
    extra_args = ("--set", "sources.max_retries=0")

    def test_fails_over_on_timeout_truncated_json_and_html(self):
        p = self.get_json("/price/AAPL")
        self.assertEqual(p["source"], "finnhub")
        self.assertIn("timeout", self.source("yahoo")["last_error"])
        self.assertIn("malformed_response", self.source("twelvedata")["last_error"])
        self.assertIn("malformed_response", self.source("polygon")["last_error"])


class CircuitOpens(ProviderTest):
    providers = {"yahoo": "E503", "finnhub": None}
    priority = "yahoo,finnhub"
    extra_args = ("--set", "sources.circuit.failures=2", "--set", "sources.max_retries=0",
                  "--set", "sources.circuit.cooldown_ms=600000")

    def test_circuit_opens_and_stops_the_calls(self):
        for _ in range(4):
            self.assertEqual(self.get_json("/price/AAPL?max_age=0")["source"], "finnhub")
        self.assertEqual(len(self.fake.requests("/yahoo/")), 2, "no call once the circuit is open")
        y = self.source("yahoo")
        self.assertEqual(y["circuit"], "open")
        self.assertEqual(y["failures"], 2)
        m = self.get("/metrics").body
        self.assertIn('mdagent_source_circuit_state{source="yahoo"} 2', m)
        self.assertIn('mdagent_source_requests_total{source="yahoo",result="source_unavailable"} 2', m)
        self.assertEqual(self.get_json("/health")["components"]["sources"]["circuits_open"], 1)


class NoHealthySource(ProviderTest):
    providers = {"yahoo": "E500", "twelvedata": "HTML"}
    priority = "yahoo,twelvedata"
    extra_args = ("--set", "sources.max_retries=0", "--set", "sources.circuit.failures=2",
                  "--set", "sources.circuit.cooldown_ms=600000")

    def test_every_source_failing_is_503_with_reasons_or_the_stored_value(self):
        body = self.assert_error("/price/NEWSYM", 503, "no_healthy_source")
        self.assertIn("yahoo:", body["error"]["message"])
        self.assertIn("twelvedata:", body["error"]["message"])
        p = self.get_json("/price/MSFT")  # stored sample: the stored close is still an answer
        self.assertEqual(p["source"], "csv")
        body = self.assert_error("/price/OTHER", 503, "no_healthy_source")
        self.assertIn("circuit open", body["error"]["message"])
        h = self.get_json("/health")
        self.assertEqual(h["status"], "degraded")
        self.assertEqual(h["components"]["sources"]["status"], "degraded")


class RetryAfter(ProviderTest):
    providers = {"yahoo": "RATELIMIT", "finnhub": None}
    priority = "yahoo,finnhub"

    def test_429_pauses_the_source_until_retry_after(self):
        self.assertEqual(self.get_json("/price/AAPL?max_age=0")["source"], "finnhub")
        self.assertEqual(len(self.fake.requests("/yahoo/")), 1, "a 429 is not retried")
        y = self.source("yahoo")
        self.assertEqual(y["rate_limit"]["remaining"], 0)
        self.assertGreaterEqual(y["rate_limit"]["reset_s"], 1)
        self.assertLessEqual(y["rate_limit"]["reset_s"], 7)
        self.assertEqual(self.get_json("/price/AAPL?max_age=0")["source"], "finnhub")
        self.assertEqual(len(self.fake.requests("/yahoo/")), 1, "paused: not asked again")


class RateLimitRefuses(ProviderTest):
    providers = {"finnhub": None}
    priority = "finnhub"
    extra_args = ("--set", "sources.finnhub.per_minute=2")

    def test_over_the_limit_is_429_without_calling_the_provider(self):
        self.assertEqual(self.get_json("/price/AAPL?source=finnhub")["source"], "finnhub")
        self.assertEqual(self.get_json("/price/AAPL?source=finnhub")["source"], "finnhub")
        body = self.assert_error("/price/AAPL?source=finnhub", 429, "rate_limited")
        self.assertIn("finnhub", body["error"]["message"])
        self.assert_error("/price/NOTSTORED", 429, "rate_limited")
        self.assertEqual(len(self.fake.requests("/finnhub/quote")), 2)
        f = self.source("finnhub")
        self.assertEqual(f["rate_limit"]["remaining"], 0)
        self.assertGreater(f["rate_limit"]["reset_s"], 0)
        self.assertEqual(f["rate_limit"]["per_minute"], 2)
        # the stored quote is still served when no fresh one may be asked for
        self.assertEqual(self.get_json("/price/AAPL?max_age=0")["price"], 170.73)


class FetchCli(unittest.TestCase):
    def test_fetch_fails_over_and_stores_the_bars(self):
        fake = FakeProvider()
        a = Agent(name="fetchfake")  # for its store path; never started
        try:
            env = {"MDAGENT_SOURCES_PRIORITY": "yahoo,finnhub,polygon", "FINNHUB_API_KEY": FINNHUB_KEY,
                   "MDAGENT_YAHOO_URL": fake.url("yahoo", "E503"),
                   "MDAGENT_FINNHUB_URL": fake.url("finnhub"), "MDAGENT_LOG_LEVEL": "debug"}
            p = run_cli("fetch", "AAPL", "--interval", "1d", "--start", "2024-03-04", "--end", "2024-03-09",
                        "--set", "sources.max_retries=0", "--db", a.db, "--create", env=env)
            self.assertIn("AAPL 1d 2024-03-04T00:00:00Z..2024-03-09T00:00:00Z: 5 bars from finnhub, 5 stored",
                          p.stdout)
            self.assertNotIn(FINNHUB_KEY, p.stdout + p.stderr)
            q = run_cli("query", "AAPL", "--db", a.db, env=env)
            self.assertEqual(len(q.stdout.strip().splitlines()), 6)  # header + 5 bars
            p = run_cli("fetch", "AAPL", "--source", "yahoo", "--db", a.db, env=env, check=False)
            self.assertEqual(p.returncode, 1)
            self.assertIn("yahoo", p.stderr)
            p = run_cli("fetch", "AAPL", "--source", "polygon", "--db", a.db, env=env, check=False)
            self.assertEqual(p.returncode, 1, "polygon has no key here: disabled")
            self.assertIn("POLYGON_API_KEY", p.stderr)
        finally:
            fake.stop()
            a.cleanup()


if __name__ == "__main__":
    unittest.main()
