"""End to end: two agents on one Redis share the watchlist's polls. Each agent's scheduler
claims a lease per symbol and polling slot (SET NX PX under the cache prefix), so between
them a symbol is fetched from the provider about once per interval, not once per agent."""
import os
import time
import unittest

from mdtest import Agent, services
from test_sources_failover import FakeProvider


def metric(agent, result):
    for line in agent.get("/metrics").body.splitlines():
        if line.startswith(f'mdagent_scheduler_polls_total{{result="{result}"}}'):
            return float(line.split()[-1])
    return 0.0


@unittest.skipUnless(services().get("MDTEST_REDIS_URL"), "no test Redis")
class SharedWatchlistPolls(unittest.TestCase):
    def setUp(self):
        self.fake = FakeProvider()
        redis = services()["MDTEST_REDIS_URL"].rsplit("/", 1)[0] + "/7"
        env = {"MDAGENT_SOURCES_PRIORITY": "finnhub", "FINNHUB_API_KEY": "fh-shared-key",
               "MDAGENT_FINNHUB_URL": self.fake.url("finnhub"), "MDAGENT_REDIS": redis,
               "MDAGENT_CACHE_PREFIX": f"e2e:{os.getpid()}:polls:", "MDAGENT_WATCHLIST": "AAPL",
               # polled at any hour: the test must not depend on New York's market hours
               "MDAGENT_CALENDAR_SYMBOLS": "AAPL:24/7"}
        args = ["--set", "sources.poll_interval_s=1", "--set", "sources.poll_bars=false"]
        self.a = Agent(env=env, args=args, name="polls-a")
        self.b = Agent(env=env, args=args, name="polls-b")
        self.agents = []
        try:
            for ag in (self.a, self.b):
                ag.start()
                self.agents.append(ag)
        except Exception:
            self.tearDown()
            raise

    def tearDown(self):
        for ag in self.agents:
            rc = ag.stop()
            logs = ag.logs()
            ag.cleanup()
            if "ERROR: AddressSanitizer" in logs or "runtime error:" in logs or rc not in (0, None):
                raise AssertionError(f"agent exit {rc}:\n{logs[-3000:]}")
        self.fake.stop()

    def test_a_symbol_is_polled_once_per_slot_between_the_agents(self):
        t0 = time.time()
        time.sleep(6)
        fetched = [metric(ag, "fetched") for ag in (self.a, self.b)]
        failed = [metric(ag, "failed") for ag in (self.a, self.b)]
        skipped = [metric(ag, "skipped") for ag in (self.a, self.b)]
        slots = int(time.time()) - int(t0) + 2  # one-second slots touched, with both ends
        self.assertEqual(sum(failed), 0, failed)
        self.assertGreaterEqual(sum(fetched), 3, fetched)
        # both agents poll every slot; one of them leaves it to the other
        self.assertGreaterEqual(sum(skipped), 3, (fetched, skipped))
        self.assertLessEqual(sum(fetched), slots, (fetched, skipped, slots))
        # and so does the provider (a poll may land between the two reads: +1)
        quotes = self.fake.requests("/finnhub/quote")
        self.assertLessEqual(len(quotes), slots + 1, quotes)


if __name__ == "__main__":
    unittest.main()
