"""End to end: a symbol's calendar from the exchange its provider reports.

The Hang Seng index (^HSI) has no exchange suffix, so its spelling alone makes it a US
symbol (XNYS). The fake Yahoo answers its chart as Yahoo does, with meta.exchangeName "HKG"
(tests/fixtures/providers/yahoo/chart_^HSI_1d.json): three sessions in the week of
2024-04-01, when Hong Kong was closed for Easter Monday (04-01) and Ching Ming (04-04) and
New York was open every day. Once the agent has asked the sources about the symbol, its
calendar is XHKG "from the provider": /symbols says so, quality expects Hong Kong's sessions
(no gap on 04-04, which XNYS would count), and a restarted agent on the same store still
knows it. The configuration always wins over the provider. Agents sharing one store learn
each other's reports while they run (every 10 heartbeats), and drop the answers they cached
under the calendar before (daily bars built from intraday ones are its sessions)."""
import json
import time
import unittest

from mdtest import Agent, drop_pg_db, fresh_pg_db
from test_sources_failover import FakeProvider

RANGE = "start=2024-04-01&end=2024-04-06&interval=1d"
KEY = "calprov-key-123456"
LATE_BAR = {"symbol": "^HSI", "interval": "1h", "timestamp": "2024-04-12T12:00:00Z",
            "open": 16700, "high": 16750, "low": 16650, "close": 16720, "volume": 0}


class ProviderCalendar(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.fake = FakeProvider()

    @classmethod
    def tearDownClass(cls):
        cls.fake.stop()

    def agent(self, db=None, args=(), name="calprov"):
        env = {"MDAGENT_SOURCES_PRIORITY": "yahoo", "MDAGENT_YAHOO_URL": self.fake.url("yahoo")}
        ag = Agent(db=db, env=env, args=("--set", "sources.timeout_ms=2000", *args), name=name)
        ag.start()
        return ag

    def get_json(self, ag, path):
        r = ag.get(path)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def daily_labels(self, ag):
        hist = self.get_json(ag, "/historical/%5EHSI?start=2024-04-08&end=2024-04-16&interval=1d")
        return [b["timestamp"][:10] for b in hist["bars"]]

    def test_the_reported_exchange_is_the_calendar_until_the_configuration_says_otherwise(self):
        first = self.agent()
        try:
            sym = self.get_json(first, "/symbols/%5EHSI")
            self.assertEqual((sym["calendar"], sym["calendar_from"], sym["exchange"]),
                             ("XNYS", "default", None), sym)
            hist = self.get_json(first, "/historical/%5EHSI?" + RANGE)
            days = [b["timestamp"][:10] for b in hist["bars"]]
            self.assertEqual(days, ["2024-04-02", "2024-04-03", "2024-04-05"], hist)
            sym = self.get_json(first, "/symbols/%5EHSI")
            self.assertEqual((sym["calendar"], sym["calendar_from"], sym["exchange"]),
                             ("XHKG", "provider", "HKG"), sym)
            q = self.get_json(first, "/quality/%5EHSI?" + RANGE)
            self.assertEqual((q["bars"], q["expected_bars"], q["missing_bars"]), (3, 3, 0), q)
            self.assertNotIn("gap", q["issue_counts"], q)
            db = first.db
        finally:
            first.stop()
        # the report is kept in the store: a new agent on it knows the calendar at once, with
        # no provider at all
        again = Agent(db=db, name="calprov-again")
        again.start()
        try:
            sym = self.get_json(again, "/symbols/%5EHSI")
            self.assertEqual((sym["calendar"], sym["calendar_from"]), ("XHKG", "provider"), sym)
            q = self.get_json(again, "/quality/%5EHSI?" + RANGE)
            self.assertEqual((q["expected_bars"], q["missing_bars"]), (3, 0), q)
        finally:
            self.assertIsNone(again.finish())
        # what the user configured wins: the same store, ^HSI pinned to New York, whose
        # calendar expects the Thursday Hong Kong did not trade
        pinned = Agent(db=db, args=("--set", "calendar.symbols=^HSI:XNYS"), name="calprov-pinned")
        pinned.start()
        try:
            sym = self.get_json(pinned, "/symbols/%5EHSI")
            self.assertEqual((sym["calendar"], sym["calendar_from"], sym["exchange"]),
                             ("XNYS", "config", "HKG"), sym)
            q = self.get_json(pinned, "/quality/%5EHSI?" + RANGE)
            self.assertEqual((q["expected_bars"], q["missing_bars"]), (4, 1), q)
        finally:
            self.assertIsNone(pinned.finish())
        first.cleanup()

    def test_an_agent_on_the_same_store_learns_the_report_while_it_runs(self):
        db = fresh_pg_db("calprov_shared")
        beat = ("--set", "cluster.heartbeat_ms=200")
        reporter = self.agent(db=db, args=beat, name="calprov-reporter")
        # the other agent has no provider at all: it can only learn the exchange from the store
        other = Agent(db=db, args=beat, env={"MDAGENT_API_KEYS": KEY}, name="calprov-other")
        other.start()
        try:
            sym = self.get_json(other, "/symbols/%5EHSI")
            self.assertEqual((sym["calendar"], sym["calendar_from"]), ("XNYS", "default"), sym)
            # an hourly bar on Friday 2024-04-12 at 12:00Z: New York's pre-market of that
            # Friday, but 20:00 in Hong Kong, after the close, so Monday's session there
            r = other.post("/ingest/bars", json.dumps({"bars": [LATE_BAR]}),
                           headers={"Authorization": "Bearer " + KEY,
                                    "Content-Type": "application/json"})
            self.assertEqual((r.status, r.json()["accepted"]), (200, 1), r)
            self.assertEqual(self.daily_labels(other), ["2024-04-12"])
            self.get_json(reporter, "/historical/%5EHSI?" + RANGE)
            self.assertEqual(self.get_json(reporter, "/symbols/%5EHSI")["calendar"], "XHKG")
            deadline = time.monotonic() + 15
            while True:
                # asked again and again, so the other agent caches the answer of the old
                # calendar right up to the moment it learns the new one
                labels = self.daily_labels(other)
                sym = self.get_json(other, "/symbols/%5EHSI")
                if sym["calendar"] != "XNYS" or time.monotonic() > deadline:
                    break
                self.assertEqual(labels, ["2024-04-12"])
                time.sleep(0.05)
            self.assertEqual((sym["calendar"], sym["calendar_from"], sym["exchange"]),
                             ("XHKG", "provider", "HKG"), sym)
            # the cached daily bars of New York's sessions went with the calendar
            self.assertEqual(self.daily_labels(other), ["2024-04-15"])
            q = self.get_json(other, "/quality/%5EHSI?" + RANGE)
            self.assertEqual((q["bars"], q["expected_bars"], q["missing_bars"]), (3, 3, 0), q)
        finally:
            ends = [other.finish(), reporter.finish()]
            drop_pg_db(db)
        self.assertEqual(ends, [None, None])


if __name__ == "__main__":
    unittest.main()
