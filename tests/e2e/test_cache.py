"""End to end: the answer cache over HTTP. L1 hits (and their X-Cache / "cache" field),
invalidation on ingest (never a stale price after a newer one was accepted), TTL expiry,
the memory bound, /cache/stats, /cache/clear, warming; L2 in the test services' Redis shared
by two agents; and a private Redis killed and restarted under a running agent."""
import calendar
import json
import os
import shutil
import signal
import subprocess
import time
import unittest

from mdtest import Agent, AgentTest, SAMPLE, curl, free_port, services

KEY = "cache-test-key-1"
AUTH = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}


def redis_url(db=6):
    url = services().get("MDTEST_REDIS_URL")
    return url.rsplit("/", 1)[0] + f"/{db}" if url else None


def prefix(name):
    return f"e2e:{os.getpid()}:{name}:"


def post_quote(agent, symbol, price, ts):
    doc = {"quotes": [{"symbol": symbol, "price": price, "timestamp": ts}]}
    r = agent.post("/ingest/quotes", json.dumps(doc), headers=AUTH)
    assert r.status == 200 and r.json()["accepted"] == 1, r
    return r


def wait_for(pred, timeout=10.0, step=0.02):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


class CacheL1(AgentTest):
    # the TTL is CacheTTLAndBound's subject; here an answer must not expire between a write
    # and the read after it on a loaded CI machine (a stale price is cached for the TTL).
    # No live bars: each quote below opens a new minute, and the closed 1m bar the live-bar
    # timer writes a moment later refreshes the symbol's answers too - a read in between is
    # a correct miss, which made "written through" flaky (seen in a fresh-clone check)
    env = {"MDAGENT_API_KEYS": KEY, "MDAGENT_CACHE_QUOTE_TTL_MS": "120000"}
    args = ("--set", "stream.live_bars=false")

    def price(self, sym):
        r = self.get(f"/price/{sym}")
        self.assertEqual(r.status, 200, r)
        return r, r.json()

    def test_price_is_a_miss_then_an_l1_hit(self):
        r1, p1 = self.price("FTSE")
        self.assertEqual(p1["cache"], "miss")
        self.assertEqual(r1.headers.get("x-cache"), "miss")
        r2, p2 = self.price("ftse")
        self.assertEqual(p2["cache"], "l1")
        self.assertEqual(r2.headers.get("x-cache"), "l1")
        self.assertEqual(r2.headers.get("content-type"), "application/json")
        p1.pop("cache"), p2.pop("cache")
        self.assertEqual(p1, p2, "the cached answer is the same answer")

    def test_historical_json_and_csv_are_cached_separately(self):
        q = "/historical/CAC?interval=1w&start=1998-01-01&end=1998-06-01"
        a, b = self.get(q), self.get(q)
        self.assertEqual((a.headers["x-cache"], b.headers["x-cache"]), ("miss", "l1"))
        self.assertEqual(a.body, b.body)
        self.assertGreater(a.json()["count"], 10)
        # the same range written differently is the same answer
        c = self.get("/historical/cac?interval=1w&start=883612800&end=1998-06-01T00:00:00Z")
        self.assertEqual(c.headers["x-cache"], "l1")
        csv1, csv2 = self.get(q + "&format=csv"), self.get(q + "&format=csv")
        self.assertEqual((csv1.headers["x-cache"], csv2.headers["x-cache"]), ("miss", "l1"))
        self.assertTrue(csv2.headers["content-type"].startswith("text/csv"))
        self.assertEqual(csv1.body, csv2.body)
        self.assertTrue(csv2.body.startswith("timestamp,open"))

    def test_errors_are_not_cached(self):
        for _ in range(2):
            self.assert_error("/price/NOPE", 404, "not_found")
            self.assert_error("/price/bad%20sym", 400, "invalid_symbol")
            self.assert_error("/historical/MSFT?interval=7m", 400, "invalid_interval")

    def test_never_a_stale_price_after_an_ingest(self):
        self.price("SMI")
        self.assertEqual(self.price("SMI")[1]["cache"], "l1")
        base = int(time.time()) - 3600
        for i in range(25):
            price = 7000 + i + 0.25
            ts = base + i * 60
            post_quote(self.agent, "SMI", price, ts)
            _, p = self.price("SMI")
            self.assertEqual(p["price"], price, f"stale price after ingest {i}: {p}")
            # written through: the answer after the write is already cached
            self.assertEqual(p["cache"], "l1", p)
        # an OLDER quote is not accepted as the latest, and the answer does not change
        doc = {"quotes": [{"symbol": "SMI", "price": 1.5, "timestamp": base}]}
        self.agent.post("/ingest/quotes", json.dumps(doc), headers=AUTH)
        self.assertEqual(self.price("SMI")[1]["price"], 7024.25)

    def test_a_quote_leaves_cached_bars_alone(self):
        q = "/historical/DAX?interval=1mo&limit=6"
        self.get(q)
        self.assertEqual(self.get(q).headers["x-cache"], "l1")
        post_quote(self.agent, "DAX", 7123.5, int(time.time()) - 120)
        self.assertEqual(self.price("DAX")[1]["price"], 7123.5)
        self.assertEqual(self.get(q).headers["x-cache"], "l1", "a quote does not change bars")

    def test_bars_ingest_refreshes_cached_history(self):
        q = "/historical/XTSSIM?interval=1d&limit=3&order=desc"
        before = self.get(q).json()
        self.assertEqual(self.get(q).headers["x-cache"], "l1")
        last = before["bars"][0]
        # a new daily bar after the last one
        ts = calendar.timegm(time.strptime(last["timestamp"], "%Y-%m-%dT%H:%M:%SZ"))
        new_ts = ts + 86400 * 3
        bar = {"symbol": "XTSSIM", "interval": "1d", "timestamp": new_ts, "open": 10, "high": 12,
               "low": 9, "close": 11.5, "volume": 1000}
        r = self.agent.post("/ingest/bars", json.dumps({"bars": [bar]}), headers=AUTH)
        self.assertEqual(r.json()["accepted"], 1, r)
        after = self.get(q)
        self.assertEqual(after.json()["bars"][0]["close"], 11.5, after)
        self.assertEqual(after.headers["x-cache"], "l1", "the hot answer was written through")
        # the price follows the newest bar too
        _, p = self.price("XTSSIM")
        self.assertEqual(p["price"], 11.5)

    def test_written_through_pages_are_the_pages_asked(self):
        """A write re-renders the cached pages from the store alone, and each is still byte for
        byte the answer to its request: its next page without cached_only, with its adjust."""
        for q in ("/historical/CAC?limit=2&start=1998-08-01",
                  "/historical/CAC?limit=2&start=1998-08-01&adjust=none"):
            first = self.get(q)
            self.assertEqual(first.headers["x-cache"], "miss", first)
            self.assertEqual(self.get(q).headers["x-cache"], "l1")
        bar = {"symbol": "CAC", "interval": "1d", "timestamp": "1998-08-17", "open": 3500,
               "high": 3510, "low": 3490, "close": 3505, "volume": 0}
        r = self.agent.post("/ingest/bars", json.dumps({"bars": [bar]}), headers=AUTH)
        self.assertEqual(r.json()["accepted"], 1, r)
        hot = {q: self.get(q) for q in ("/historical/CAC?limit=2&start=1998-08-01",
                                        "/historical/CAC?limit=2&start=1998-08-01&adjust=none")}
        self.assertEqual(self.agent.post("/cache/clear", "", headers=AUTH).status, 200)
        for q, after in hot.items():
            self.assertEqual(after.headers["x-cache"], "l1", "written through")
            self.assertNotIn("cached_only", after.headers["link"])
            self.assertEqual(after.headers["link"], f'<{after.json()["next"]}>; rel="next"')
            self.assertEqual(("adjust=none" in after.headers["link"]), ("adjust=none" in q))
            fresh = self.get(q)
            self.assertEqual(fresh.headers["x-cache"], "miss")
            self.assertEqual((after.body, after.headers["link"]), (fresh.body, fresh.headers["link"]))

    def test_stats_clear_and_metrics(self):
        self.price("DAX")
        self.price("DAX")
        s = self.get_json("/cache/stats")
        self.assertTrue(s["enabled"])
        self.assertEqual(s["status"], "ok")
        l1 = s["levels"]["l1"]
        for k in ("hits", "misses", "hit_ratio", "entries", "bytes", "max_bytes", "evictions"):
            self.assertIn(k, l1)
        self.assertGreaterEqual(l1["hits"], 1)
        self.assertGreaterEqual(l1["entries"], 1)
        self.assertGreater(l1["bytes"], 0)
        self.assertLessEqual(l1["bytes"], l1["max_bytes"])
        self.assertTrue(0 < s["hit_ratio"] <= 1)
        self.assertFalse(s["levels"]["l2"]["enabled"])
        # clearing needs an API key
        self.assert_error("/cache/clear", 401, "unauthorized", method="POST", data="")
        self.assert_error("/cache/clear?level=l9", 400, "invalid_parameter", method="POST",
                          data="", headers=AUTH)
        r = curl(self.agent.url + "/cache/clear?level=L1", method="POST", data="", headers=AUTH)
        self.assertEqual((r.status, r.json()["cleared"]), (200, ["l1"]), r)  # in any case
        for lv in ("l2", "all"):  # no Redis here: only L1 was cleared, and the answer says so
            r = curl(self.agent.url + "/cache/clear?level=" + lv, method="POST", data="",
                     headers=AUTH)
            self.assertEqual((r.status, r.json()["cleared"]), (200, ["l1"]), r)
        r = curl(self.agent.url + "/cache/clear", method="POST", data="", headers=AUTH)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.get_json("/cache/stats")["levels"]["l1"]["entries"], 0)
        self.assertEqual(self.price("DAX")[1]["cache"], "miss")
        self.assertEqual(self.get("/cache/stats").status, 200)
        m = self.get("/metrics").body
        self.assertIn('mdagent_cache_requests_total{level="l1",result="hit"}', m)
        self.assertIn('mdagent_cache_entries{level="l1"}', m)
        self.assertIn('mdagent_cache_bytes{level="l1"}', m)
        h = self.get_json("/health")
        self.assertEqual(h["components"]["cache"]["status"], "ok")

    def test_prices_batch_uses_the_cache(self):
        self.price("MSFT")
        doc = self.get_json("/prices?symbols=MSFT,CAC")
        caches = {p["symbol"]: p["cache"] for p in doc["prices"]}
        self.assertEqual(caches["MSFT"], "l1")
        self.assertIn(caches["CAC"], ("miss", "l1"))


class CacheTTLAndBound(AgentTest):
    env = {"MDAGENT_CACHE_QUOTE_TTL_MS": "1500", "MDAGENT_CACHE_MAX_BYTES": "65536"}

    def test_price_expires_after_its_ttl(self):
        self.get("/price/CAC")
        self.assertEqual(self.get_json("/price/CAC")["cache"], "l1")
        time.sleep(1.6)
        self.assertEqual(self.get_json("/price/CAC")["cache"], "miss", "expired after 1.5 s")
        self.assertGreaterEqual(self.get_json("/cache/stats")["levels"]["l1"]["expirations"], 1)

    def test_max_age_parameter_bounds_the_cached_answer(self):
        self.get("/price/SMI")
        self.assertEqual(self.get_json("/price/SMI?max_age=0")["cache"], "miss")

    def test_memory_bound_holds_under_many_answers(self):
        for year in range(1990, 2010):
            r = self.get(f"/historical/MSFT?interval=1d&start={year}-01-01&end={year + 1}-01-01")
            self.assertEqual(r.status, 200, r)
            s = self.get_json("/cache/stats")["levels"]["l1"]
            self.assertLessEqual(s["bytes"], 65536, s)
        self.assertGreater(s["evictions"], 0, s)


class CacheWarm(AgentTest):
    env = {"MDAGENT_CACHE_WARM_SYMBOLS": "msft,FTSE,NOSUCH"}

    def test_watchlist_is_cached_at_start(self):
        self.assertEqual(self.get_json("/price/MSFT")["cache"], "l1")
        self.assertEqual(self.get_json("/price/FTSE")["cache"], "l1")
        # the default warm query (interval=1d) is the plain /historical/SYMBOL request
        self.assertEqual(self.get("/historical/FTSE").headers["x-cache"], "l1")
        self.assertEqual(self.get("/historical/FTSE?limit=5").headers["x-cache"], "miss")
        self.assertEqual(self.get_json("/price/CAC")["cache"], "miss")
        self.assert_error("/price/NOSUCH", 404, "not_found")


class CacheDisabled(AgentTest):
    env = {"MDAGENT_CACHE": "false"}

    def test_every_answer_comes_from_the_store(self):
        for _ in range(2):
            r = self.get("/price/MSFT")
            self.assertEqual(r.json()["cache"], "miss")
            self.assertNotIn("x-cache", r.headers)
        s = self.get_json("/cache/stats")
        self.assertFalse(s["enabled"])
        self.assertEqual(self.get_json("/health")["components"]["cache"]["status"], "disabled")


@unittest.skipUnless(redis_url(), "no test Redis (run through ctest)")
class CacheRedisShared(unittest.TestCase):
    """Two agents on one store and one Redis; a third with its own store on the same Redis."""

    @classmethod
    def setUpClass(cls):
        env = {"MDAGENT_API_KEYS": KEY, "MDAGENT_REDIS": redis_url(6),
               "MDAGENT_CACHE_PREFIX": prefix("shared")}
        cls.a = Agent(env=env, name="cache-a")
        cls.a.load(SAMPLE)
        cls.a.start()
        cls.b = Agent(db=cls.a.db, env=env, name="cache-b").start()
        cls.c = Agent(env=env, name="cache-c").start()  # empty store of its own
        # an agent answers before its pub/sub subscription is up (it then starts degraded
        # and clears its L1 when the subscription arrives): the tests start once all three
        # are subscribed, as agents in service are
        for ag in (cls.a, cls.b, cls.c):
            ok = wait_for(lambda: ag.get("/cache/stats").json()["levels"]["l2"].get("subscribed"))
            if not ok:
                raise AssertionError(f"{ag.dir}: never subscribed to Redis:\n{ag.logs()[-2000:]}")

    @classmethod
    def tearDownClass(cls):
        for ag in (cls.a, cls.b, cls.c):
            rc = ag.stop()
            logs = ag.logs()
            ag.cleanup()
            if "ERROR: AddressSanitizer" in logs or "runtime error:" in logs or rc not in (0, None):
                raise AssertionError(f"agent exit {rc}:\n{logs[-3000:]}")

    def cache_of(self, agent, path):
        r = agent.get(path)
        self.assertEqual(r.status, 200, r)
        return r.headers.get("x-cache")

    def test_levels_miss_l2_l1(self):
        self.assertEqual(self.a.get("/health").json()["components"]["cache"]["status"], "ok")
        self.assertEqual(self.a.get("/price/DAX").json()["cache"], "miss")
        self.assertEqual(self.b.get("/price/DAX").json()["cache"], "l2")
        self.assertEqual(self.b.get("/price/DAX").json()["cache"], "l1")
        q = "/historical/DAX?interval=1mo&limit=1000"  # one page: no "next" naming this agent
        self.assertEqual(self.cache_of(self.a, q), "miss")
        self.assertEqual(self.cache_of(self.a, q), "l1")
        self.assertEqual(self.cache_of(self.b, q), "l2")
        self.assertEqual(self.a.get(q).body, self.b.get(q).body)
        # after an L1-only clear the answer comes back from L2
        r = curl(self.a.url + "/cache/clear?level=l1", method="POST", data="", headers=AUTH)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.a.get("/price/DAX").json()["cache"], "l2")
        s = self.a.get("/cache/stats").json()
        self.assertTrue(s["levels"]["l2"]["enabled"])
        self.assertGreaterEqual(s["levels"]["l2"]["hits"], 1)
        self.assertGreaterEqual(s["levels"]["l2"]["entries"], 1)
        r = curl(self.a.url + "/cache/clear?level=l2", method="POST", data="", headers=AUTH)
        self.assertEqual((r.status, r.json()["cleared"]), (200, ["l1", "l2"]), r)
        self.assertEqual(self.a.get("/price/DAX").json()["cache"], "miss")
        self.assertTrue(s["levels"]["l2"]["subscribed"])
        m = self.a.get("/metrics").body
        self.assertIn('mdagent_cache_requests_total{level="l2",result="hit"}', m)

    def test_two_agents_stay_consistent_after_ingests(self):
        for ag in (self.a, self.b):
            ag.get("/price/CAC")
            self.assertIn(ag.get("/price/CAC").json()["cache"], ("l1", "l2"))
        base = int(time.time()) - 7200
        for i in range(10):
            writer, other = (self.a, self.b) if i % 2 == 0 else (self.b, self.a)
            price = 4000.5 + i
            post_quote(writer, "CAC", price, base + i * 60)
            # the agent that accepted it never answers the old price again
            self.assertEqual(writer.get("/price/CAC").json()["price"], price)
            # the other one hears of it over pub/sub
            got = wait_for(lambda: other.get("/price/CAC").json()["price"] == price)
            self.assertTrue(got, f"agent did not see price {price}")
            # and does not go back to an older one
            for _ in range(3):
                self.assertEqual(other.get("/price/CAC").json()["price"], price)

    def test_write_through_reaches_redis(self):
        # agent c has its own, empty store: it can only know this price from L2
        self.assertEqual(self.c.get("/price/WTHRU").status, 404)
        post_quote(self.a, "WTHRU", 12.5, int(time.time()) - 60)
        p = self.c.get("/price/WTHRU")
        self.assertEqual(p.status, 200, p)
        self.assertEqual(p.json()["price"], 12.5)
        self.assertEqual(p.json()["cache"], "l2")


@unittest.skipUnless(shutil.which("redis-server"), "redis-server not installed")
class CacheRedisOutage(unittest.TestCase):
    """A private Redis killed and restarted under a running agent."""

    def start_redis(self):
        self.redis = subprocess.Popen(
            ["redis-server", "--port", str(self.rport), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.agent.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ok = wait_for(lambda: subprocess.run(["redis-cli", "-p", str(self.rport), "ping"],
                                             capture_output=True).returncode == 0, 10)
        self.assertTrue(ok, "redis did not start")

    def setUp(self):
        self.rport = free_port()
        env = {"MDAGENT_API_KEYS": KEY, "MDAGENT_REDIS": f"redis://127.0.0.1:{self.rport}/0",
               "MDAGENT_CACHE_PREFIX": prefix("outage")}
        self.agent = Agent(env=env, name="cache-outage",
                           args=["--set", "redis.breaker_cooldown_ms=200"])
        self.agent.load(SAMPLE)
        self.start_redis()
        self.agent.start()

    def tearDown(self):
        rc = self.agent.stop()
        logs = self.agent.logs()
        self.agent.cleanup()
        if self.redis.poll() is None:
            self.redis.kill()
            self.redis.wait()
        if "ERROR: AddressSanitizer" in logs or "runtime error:" in logs or rc not in (0, None):
            raise AssertionError(f"agent exit {rc}:\n{logs[-3000:]}")

    def status(self):
        return self.agent.get("/health").json()["status"]

    def test_agent_keeps_answering_and_recovers(self):
        self.assertTrue(wait_for(lambda: self.status() == "ok"), "not ok with Redis up")
        self.assertEqual(self.agent.get("/price/MSFT").json()["cache"], "miss")
        self.assertEqual(self.agent.get("/price/MSFT").json()["cache"], "l1")

        self.redis.send_signal(signal.SIGKILL)
        self.redis.wait()
        self.assertTrue(wait_for(lambda: self.status() == "degraded"), "health not degraded")
        h = self.agent.get("/health")
        self.assertEqual(h.status, 200)
        self.assertEqual(h.json()["components"]["cache"]["status"], "degraded")
        # answers keep coming: from L1 and from the store
        for _ in range(5):
            self.assertEqual(self.agent.get("/price/MSFT").status, 200)
            r = self.agent.get("/historical/DAX?interval=1w&limit=10")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["count"], 10)
        # a write while Redis is away is still never followed by a stale answer
        post_quote(self.agent, "MSFT", 77.25, int(time.time()) - 30)
        self.assertEqual(self.agent.get("/price/MSFT").json()["price"], 77.25)
        s = self.agent.get("/cache/stats").json()["levels"]["l2"]
        self.assertEqual(s["status"], "down")

        self.start_redis()
        self.assertTrue(wait_for(lambda: self.status() == "ok"), "did not recover")
        # L2 works again: a miss is stored, and found there after an L1 clear
        self.assertEqual(self.agent.get("/price/FTSE").json()["cache"], "miss")
        curl(self.agent.url + "/cache/clear?level=l1", method="POST", data="", headers=AUTH)
        self.assertTrue(wait_for(lambda: self.agent.get("/price/FTSE").json()["cache"] == "l2"),
                        "no L2 hit after recovery")
        self.assertEqual(self.agent.get("/price/MSFT").json()["price"], 77.25)


if __name__ == "__main__":
    unittest.main()
