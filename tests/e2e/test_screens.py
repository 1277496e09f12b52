"""End to end: scheduled screens (pipeline.jobs in mdagent.yaml, pipeline/screen.c).

The agent refuses to start on a bad job, naming the file, the line and the column; a screen
over the sample data matches the symbols an independent computation from the CSV says it
should, with the values the REST indicators answer gives; clients on screen.<name> get enter
and leave events; a restart keeps the result and does not replay enter events; two agents on
one PostgreSQL and Redis run each slot once between them and a client on either sees each
event once."""
import asyncio
import csv
import json
import os
import time
import unittest
import uuid

from mdtest import SAMPLE, Agent, drop_pg_db, fresh_pg_db, run_cli, services
from test_stream import KEY, Client

HDRS = {"X-API-Key": KEY, "Content-Type": "application/json"}


def config(agent, text):
    path = os.path.join(agent.dir, "mdagent.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


def sma_last(symbol, n):
    with open(os.path.join(SAMPLE, f"{symbol}.csv")) as f:
        c = [float(r["close"]) for r in csv.DictReader(f)]
    return c[-1], sum(c[-n:]) / n


def wait_run(agent, name, after=None, timeout=30):
    """The screen's result once it has a run (newer than `after`, an "at")."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        doc = agent.get(f"/analytics/screens/{name}").json()
        run = doc.get("last_run")
        if run and (after is None or run["at"] > after):
            return doc
        time.sleep(0.1)
    raise AssertionError(f"screen {name} did not run: {doc}")


def ingest_bar(agent, symbol, day, close):
    bar = {"symbol": symbol, "interval": "1d", "timestamp": day, "open": close, "high": close,
           "low": close, "close": close, "volume": 1}
    r = agent.post("/ingest/bars", json.dumps({"bars": [bar]}), headers=HDRS)
    assert r.status == 200 and r.json()["accepted"] == 1, r


class ScreenConfigErrors(unittest.TestCase):
    def test_a_bad_job_stops_the_start_naming_file_line_and_column(self):
        agent = Agent(name="ScreenBad")
        try:
            path = config(agent, "pipeline:\n  jobs:\n    oversold:\n      schedule: every 5m\n"
                                 "      symbols: [MSFT]\n"
                                 "      condition: rsi:14 < 30 and close > smma:200\n")
            p = run_cli("serve", "--config", path, "--db", agent.db, "--create", "--listen", "127.0.0.1:0",
                        check=False, timeout=30)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn(f"{path}:6: pipeline.jobs.oversold.condition: column 25: unknown name "
                          "'smma'", p.stderr)
            # the bad job is reported before anything is opened: a missing store is not the news
            missing = agent.db.replace(".db", "-missing.db")
            p = run_cli("serve", "--config", path, "--db", missing, "--listen", "127.0.0.1:0",
                        check=False, timeout=30)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn("pipeline.jobs.oversold.condition: column 25", p.stderr)
            self.assertNotIn("no store", p.stderr)
            path = config(agent, "pipeline:\n  jobs:\n    x:\n      schedule: every 5 minutes\n"
                                 "      condition: close > 1\n")
            p = run_cli("serve", "--config", path, "--db", agent.db, "--create", check=False, timeout=30)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn(f"{path}:4: pipeline.jobs.x.schedule:", p.stderr)
            p = run_cli("serve", "--config", path, "--print-config", check=False)
            self.assertEqual(p.returncode, 2, "--print-config reads the same file")
        finally:
            agent.cleanup()


class Screens(unittest.IsolatedAsyncioTestCase):
    @classmethod
    def setUpClass(cls):
        cls.agent = Agent(env={"MDAGENT_API_KEYS": KEY}, name="Screens")
        cls.path = config(cls.agent, """
pipeline:
  jobs:
    above:
      schedule: every 2s
      symbols: [MSFT, DAX, SMI, CAC, FTSE, XTSSIM, NODATA]
      interval: 1d
      condition: close > sma:20 and rsi:14 >= 0
    hourly:
      schedule: every 1h
      symbols: all
      condition: close > 0
""")
        cls.agent.args = ["--config", cls.path]
        cls.agent.load(SAMPLE)
        cls.agent.start()

    @classmethod
    def tearDownClass(cls):
        rc = cls.agent.stop()
        logs = cls.agent.logs()
        cls.agent.cleanup()
        if "ERROR: AddressSanitizer" in logs or "runtime error:" in logs or rc not in (0, None):
            raise AssertionError(f"agent exit {rc} or sanitizer report:\n{logs[-4000:]}")

    async def test_matches_events_and_restart(self):
        agent = self.agent
        doc = await asyncio.to_thread(wait_run, agent, "above")
        want = sorted(s for s in ["MSFT", "DAX", "SMI", "CAC", "FTSE", "XTSSIM"]
                      if sma_last(s, 20)[0] > sma_last(s, 20)[1])
        got = [m["symbol"] for m in doc["matches"]]
        self.assertEqual(got, want, doc)
        self.assertEqual(doc["count"], len(want))
        self.assertEqual(doc["last_run"]["symbols"], 7)
        self.assertEqual(doc["last_run"]["no_data"], 1, "NODATA has no bars")
        for m in doc["matches"]:
            r = agent.get(f"/analytics/{m['symbol']}/indicators?names=sma:20,rsi:14&limit=1&order=desc").json()
            self.assertEqual(m["timestamp"], r["timestamps"][-1])
            self.assertEqual(m["values"]["sma:20"], r["indicators"]["sma:20"][-1])
            self.assertEqual(m["values"]["rsi:14"], r["indicators"]["rsi:14"][-1])
            self.assertEqual(m["values"]["close"], r["close"][-1])
        listing = agent.get("/analytics/screens").json()["screens"]
        self.assertEqual([s["name"] for s in listing], ["above", "hourly"])
        self.assertEqual(listing[0]["channel"], "screen.above")
        self.assertEqual(listing[0]["canonical"], "((close > sma:20) and (rsi:14 >= 0))")
        hourly = await asyncio.to_thread(wait_run, agent, "hourly")
        self.assertEqual(hourly["count"], 6 + 0, "every stored symbol")
        self.assertEqual(agent.get("/analytics/screens/nope").status, 404)

        # events: a new close far below (or above) the average moves a symbol out (or in)
        c = await Client.connect(agent)
        await c.send({"op": "subscribe", "channels": ["screen.above"]})
        self.assertEqual((await c.until("subscribed"))["channels"], ["screen.above"])
        leaving = want[0]
        entering = next(s for s in ["MSFT", "DAX", "SMI", "CAC", "FTSE", "XTSSIM"] if s not in want)
        ingest_bar(agent, leaving, "2020-01-02T00:00:00Z", 0.01)
        ingest_bar(agent, entering, "2020-01-02T00:00:00Z", 1e7)
        events = {}
        while len(events) < 2:
            m = await c.until("screen", timeout=30)
            events[m["symbol"]] = m
        self.assertEqual(events[leaving]["event"], "leave")
        self.assertEqual(events[entering]["event"], "enter")
        self.assertEqual(events[entering]["screen"], "above")
        self.assertEqual(events[entering]["channel"], "screen.above")
        self.assertEqual(events[entering]["values"]["close"], 1e7)
        self.assertEqual(events[entering]["timestamp"], "2020-01-02T00:00:00Z")
        await c.close()
        before = agent.get("/analytics/screens/above").json()
        since = {m["symbol"]: m["since"] for m in before["matches"]}

        # a restart: the result is there at once, and nobody enters again
        agent.stop()
        agent.start()
        doc = agent.get("/analytics/screens/above").json()
        self.assertEqual([m["symbol"] for m in doc["matches"]], sorted(since))
        c = await Client.connect(agent)
        await c.send({"op": "subscribe", "channels": ["screen.above"]})
        await c.until("subscribed")
        after = doc["last_run"]["at"]
        doc = await asyncio.to_thread(wait_run, agent, "above", after)
        doc = await asyncio.to_thread(wait_run, agent, "above", doc["last_run"]["at"])
        self.assertEqual({m["symbol"]: m["since"] for m in doc["matches"]}, since,
                         "the symbols kept the time they entered")
        with self.assertRaises(asyncio.TimeoutError):
            await c.until("screen", timeout=1)
        await c.close()


@unittest.skipUnless(services().get("MDTEST_REDIS_URL") and services().get("MDTEST_PG_URL"),
                     "no test Redis or PostgreSQL")
class ScreensAcrossAgents(unittest.IsolatedAsyncioTestCase):
    """Two agents on one PostgreSQL and Redis: a slot runs on one of them."""

    @classmethod
    def setUpClass(cls):
        cls.db = fresh_pg_db("ScreensAcross")
        tag = uuid.uuid4().hex[:12]
        env = {"MDAGENT_API_KEYS": KEY, "MDAGENT_REDIS": services()["MDTEST_REDIS_URL"],
               "MDAGENT_CACHE_PREFIX": f"e2e:{tag}:", "MDAGENT_STREAM_REDIS_CHANNEL": f"e2e:{tag}:s"}
        cls.a = Agent(db=cls.db, env=env, name="ScreenA")
        cls.b = Agent(db=cls.db, env=env, name="ScreenB")
        text = ("pipeline:\n  jobs:\n    big:\n      schedule: every 1s\n      symbols: [MSFT, DAX]\n"
                "      condition: close > 1000\n")
        for ag in (cls.a, cls.b):
            ag.args = ["--config", config(ag, text)]
        cls.a.load(SAMPLE)
        cls.a.start()
        cls.b.start()

    @classmethod
    def tearDownClass(cls):
        logs = ""
        for ag in (cls.a, cls.b):
            rc = ag.stop()
            logs += ag.logs()
            ag.cleanup()
            if rc not in (0, None):
                logs += f"\nexit {rc}"
        drop_pg_db(cls.db)
        if "ERROR: AddressSanitizer" in logs or "runtime error:" in logs or "\nexit" in logs:
            raise AssertionError(logs[-4000:])

    def runs(self, agent, result):
        for line in agent.get("/metrics").body.splitlines():
            if line.startswith(f'mdagent_pipeline_screen_runs_total{{screen="big",result="{result}"}}'):
                return float(line.split()[-1])
        return 0.0

    async def test_each_slot_runs_once_and_events_reach_both_agents(self):
        ca, cb = await Client.connect(self.a), await Client.connect(self.b)
        for c in (ca, cb):
            await c.send({"op": "subscribe", "channels": ["screen.big"]})
            await c.until("subscribed")
        await asyncio.sleep(1.5)
        t0 = time.time()
        await asyncio.sleep(5)
        ran = self.runs(self.a, "ran") + self.runs(self.b, "ran")
        skipped = self.runs(self.a, "skipped") + self.runs(self.b, "skipped")
        slots = int(time.time()) - int(t0) + 3
        self.assertLessEqual(ran, slots + 2, (ran, skipped))
        self.assertGreaterEqual(skipped, 3, "the other agent held the slot's lease")
        self.assertEqual(self.runs(self.a, "failed") + self.runs(self.b, "failed"), 0)
        doc_a = self.a.get("/analytics/screens/big").json()
        doc_b = self.b.get("/analytics/screens/big").json()
        self.assertEqual(doc_a["matches"], doc_b["matches"], "one stored result")
        # DAX's closes are above 1000, MSFT's below; push MSFT above: one enter event, seen by
        # the clients of both agents once, whichever agent ran the slot
        ingest_bar(self.a, "MSFT", "2020-01-02T00:00:00Z", 5000)
        for c in (ca, cb):
            m = await c.until("screen", timeout=20)
            self.assertEqual((m["symbol"], m["event"]), ("MSFT", "enter"))
        for c in (ca, cb):
            with self.assertRaises(asyncio.TimeoutError):
                m = await c.until("screen", timeout=2.5)
        await ca.close()
        await cb.close()


if __name__ == "__main__":
    unittest.main()
