"""End to end: corporate actions in the quality grade.

1. Apple's as-traded bars around its 4-for-1 split of 2020-08-31 (the Polygon fixture of
   test_actions.py, ticker AAPL20): without the split recorded, /quality finds
   possible_unrecorded_split on 2020-08-31 and no price_jump there; once the split is
   ingested, the ex-date is no finding at all.
2. Two providers disagreeing: an agent whose only source is Finnhub records its splits of
   DISAGREE, a second agent on the same database whose only source is Twelve Data records
   its own (one ratio differs, one ex-date is a day off, one agrees): /quality lists an
   action_disagreement for each disagreement and none for the agreement."""
import json
import os
import time
import unittest

from mdtest import Agent, AgentTest
from test_actions import polygon_raw
from test_sources_failover import FakeProvider

KEY = "actions-quality-key-1"
HDRS = {"X-API-Key": KEY, "Content-Type": "application/json"}


def ingest(agent, kind, items):
    r = agent.post(f"/ingest/{kind}", json.dumps({kind: items}), headers=HDRS)
    if r.status != 200 or r.json()["accepted"] != len(items):
        raise AssertionError(f"ingest {kind}: {r}")


def issues(agent, symbol, rule, query):
    r = agent.get(f"/quality/{symbol}?interval=1d&issues=1000&{query}")
    if r.status != 200:
        raise AssertionError(f"/quality: {r}")
    return [i for i in r.json()["issues"] if i["rule"] == rule]


class UnrecordedSplit(AgentTest):
    env = {"MDAGENT_API_KEYS": KEY}
    load_sample = False
    RANGE = "start=2020-08-01&end=2020-09-05"

    def test_a_split_sized_jump_is_a_finding_until_the_split_is_recorded(self):
        raw = polygon_raw()
        ingest(self.agent, "bars", [
            {"symbol": "AAPL20", "interval": "1d", "timestamp": d, "open": r.open, "high": r.high,
             "low": r.low, "close": r.close, "volume": r.volume} for d, r in raw.iterrows()])
        found = issues(self.agent, "AAPL20", "possible_unrecorded_split", self.RANGE)
        self.assertEqual([i["timestamp"][:10] for i in found], ["2020-08-31"], found)
        self.assertIn("4:1", found[0]["message"])
        self.assertIn("no split is recorded on 2020-08-31", found[0]["message"])
        jumps = issues(self.agent, "AAPL20", "price_jump", self.RANGE)
        self.assertNotIn("2020-08-31", [i["timestamp"][:10] for i in jumps])

        ingest(self.agent, "actions", [{"symbol": "AAPL20", "type": "split",
                                        "ex_date": "2020-08-31", "numerator": 4,
                                        "denominator": 1}])
        for rule in ("possible_unrecorded_split", "price_jump", "volume_outlier"):
            on_split = [i for i in issues(self.agent, "AAPL20", rule, self.RANGE)
                        if i["timestamp"].startswith("2020-08-31")]
            self.assertEqual(on_split, [], f"{rule} on the ex-date of a recorded split")


class ProvidersDisagree(unittest.TestCase):
    def test_each_disagreement_is_a_finding(self):
        fake = FakeProvider()
        agents = []
        try:
            env = {"MDAGENT_API_KEYS": KEY, "FINNHUB_API_KEY": "fh-key-1",
                   "TWELVE_DATA_API_KEY": "td-key-1"}
            a = Agent(env=dict(env, MDAGENT_SOURCES_PRIORITY="finnhub",
                               MDAGENT_FINNHUB_URL=fake.url("finnhub")), name="disagree-a")
            agents.append(a)
            a.start()
            ingest(a, "bars", [{"symbol": "DISAGREE", "interval": "1d", "timestamp": d,
                                "open": 10, "high": 10.5, "low": 9.5, "close": 10 + i / 10,
                                "volume": 1000}
                               for i, d in enumerate(["2022-01-03", "2022-01-04", "2022-01-05"])])
            fh = a.get("/actions/DISAGREE").json()["actions"]
            self.assertEqual({x["source"] for x in fh}, {"finnhub"}, fh)
            a.stop()
            time.sleep(1.2)  # the second agent's refresh period (1 s) is over
            b = Agent(db=a.db, env=dict(env, MDAGENT_SOURCES_PRIORITY="twelvedata",
                                        MDAGENT_TWELVEDATA_URL=fake.url("twelvedata")),
                      args=("--set", "sources.actions_refresh_s=1"), name="disagree-b")
            agents.append(b)
            b.start()
            both = b.get("/actions/DISAGREE").json()["actions"]
            self.assertEqual({x["source"] for x in both}, {"finnhub", "twelvedata"}, both)
            found = issues(b, "DISAGREE", "action_disagreement", "start=2010-01-01&end=2023-01-01")
            by_day = {i["timestamp"][:10]: i for i in found}
            self.assertEqual(sorted(by_day), ["2014-06-10", "2020-08-31"], found)
            self.assertIn("another ex-date", by_day["2014-06-10"]["message"])
            m = by_day["2020-08-31"]["message"]
            self.assertIn("twelvedata reports a 2:1 split", m)
            self.assertIn("finnhub a 4:1 split", m)
            self.assertEqual(by_day["2020-08-31"]["dimension"], "consistency")
        finally:
            for x in agents:
                x.stop()
                x.cleanup()
            fake.stop()


if __name__ == "__main__":
    unittest.main()
