"""End to end, no network: the source manager with the offline sources. The simulator and
the replay source push live ticks through the writer; /price fetches through the manager
when the stored quote is stale and stores what it gets; /historical backfills missing
ranges (from = sources / mixed / store); /sources and the metrics show every source;
`mdagent fetch` takes the same path from the command line."""
import asyncio
import csv
import datetime
import json
import os
import time
import unittest

import websockets

from mdtest import SAMPLE, Agent, AgentTest, curl, run_cli


def day(offset):
    d = datetime.datetime.now(datetime.timezone.utc).date() + datetime.timedelta(days=offset)
    return d.isoformat()


def wait_for(fn, what, timeout=20):
    """Polls fn() until it returns a true value (a condition, not a timing assertion)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("gave up waiting for " + what)


def source_row(agent, name):
    r = agent.get("/sources")
    assert r.status == 200, r
    for s in r.json()["sources"]:
        if s["name"] == name:
            return s
    raise AssertionError(f"{name} not in /sources")


class Simulator(AgentTest):
    env = {"MDAGENT_SOURCES_PRIORITY": "simulator",
           "MDAGENT_SIMULATOR_SYMBOLS": "SIMA:100,simb:25.5"}
    # a volatile walk: at the default 30 % a year, cent-rounded prices can sit still for
    # many seconds, which made the "price moves" test wait in vain now and then
    args = ("--set", "simulator.volatility=5")

    def test_price_is_live_and_moves(self):
        first = self.get_json("/price/SIMA")
        self.assertEqual(first["source"], "simulator")
        self.assertEqual(first["symbol"], "SIMA")
        self.assertGreater(first["price"], 50)
        self.assertLess(first["price"], 200)
        moved = wait_for(lambda: (lambda p: p if p["price"] != first["price"] else None)(
            self.get_json("/price/SIMA")), "the simulated price to move", timeout=90)
        self.assertGreaterEqual(moved["timestamp"], first["timestamp"])
        self.assertEqual(self.get_json("/price/simb")["source"], "simulator")

    def test_sources_lists_every_source_without_secrets(self):
        body = self.get_json("/sources")
        names = [s["name"] for s in body["sources"]]
        self.assertEqual(names[0], "simulator")
        self.assertEqual(set(names), {"simulator", "yahoo", "alphavantage", "finnhub", "polygon",
                                      "twelvedata", "replay"})
        sim = body["sources"][0]
        self.assertEqual(sim["enabled"], True)
        self.assertEqual(sim["priority"], 1)
        self.assertEqual(sim["circuit"], "closed")
        self.assertEqual(sim["rate_limit"]["remaining"], None, "no limit on the simulator")
        for k in ("health_score", "requests", "failures", "last_error", "last_success"):
            self.assertIn(k, sim)
        av = next(s for s in body["sources"] if s["name"] == "alphavantage")
        self.assertEqual(av["enabled"], False)
        self.assertIsNone(av["priority"])
        self.assertEqual(av["rate_limit"]["per_minute"], 5)
        self.assertEqual(av["rate_limit"]["per_day"], 25)
        self.assertEqual(body["enabled"], 1)

    def test_historical_backfills_missing_ranges_then_serves_the_store(self):
        url = f"/historical/SIMA?interval=1d&start={day(-10)}&end={day(-2)}"
        h = self.get_json(url)
        self.assertEqual(h["from"], "sources")
        self.assertEqual(h["count"], 8)
        self.assertTrue(all(b["source"] == "simulator" for b in h["bars"]))
        for b in h["bars"]:
            self.assertLessEqual(b["low"], min(b["open"], b["close"]))
            self.assertGreaterEqual(b["high"], max(b["open"], b["close"]))
        again = self.get_json(url)
        self.assertEqual(again["from"], "store")
        self.assertEqual(again["bars"], h["bars"])
        wider = self.get_json(f"/historical/SIMA?interval=1d&start={day(-15)}&end={day(-2)}")
        self.assertEqual(wider["from"], "mixed")
        self.assertEqual(wider["count"], 13)
        self.assertEqual(wider["bars"][5:], h["bars"])

    def test_cached_only_never_asks_the_sources(self):
        # SIMB must be known to the store first (its first tick may not have arrived yet)
        wait_for(lambda: self.get("/price/SIMB?max_age=100000").status == 200, "SIMB to be stored")
        before = source_row(self.agent, "simulator")["requests"]
        h = self.get_json(f"/historical/SIMB?interval=1d&start={day(-40)}&end={day(-30)}&cached_only=true")
        self.assertEqual(h["count"], 0)
        self.assertEqual(h["from"], "store")
        self.assertEqual(source_row(self.agent, "simulator")["requests"], before)

    def test_unknown_to_the_sources_falls_back_to_the_store(self):
        p = self.get_json("/price/MSFT")
        self.assertEqual(p["source"], "csv")
        self.assertEqual(p["price"], 49.96)
        self.assert_error("/price/NOPE", 404, "not_found")
        self.assert_error("/price/MSFT?source=simulator", 404, "not_found")

    def test_explicit_source_errors(self):
        body = self.assert_error("/price/SIMA?source=yahoo", 503, "no_healthy_source")
        self.assertIn("not in sources.priority", body["error"]["message"])
        self.assert_error("/price/SIMA?source=bogus", 400, "invalid_parameter")
        self.assert_error("/historical/SIMA?source=csv", 400, "invalid_parameter")
        # several symbols: a source that cannot be asked is the request's error, as for one
        # symbol, not the same error listed once per symbol under a 200
        body = self.assert_error("/historical?symbols=SIMA,MSFT&source=yahoo", 503, "no_healthy_source")
        self.assertIn("not in sources.priority", body["error"]["message"])
        self.assert_error("/historical?symbols=SIMA,MSFT&source=yahoo&format=csv", 503, "no_healthy_source")
        # ... unless the store alone is asked
        d = self.get_json("/historical?symbols=MSFT&source=yahoo&cached_only=true&limit=1")
        self.assertEqual((d["count"], d["errors"]), (1, []))
        p = self.get_json("/price/SIMA?source=simulator")
        self.assertEqual(p["source"], "simulator")

    def test_metrics_show_sources(self):
        self.get_json("/price/SIMA?source=simulator")
        m = self.get("/metrics").body
        self.assertRegex(m, r'mdagent_source_requests_total\{source="simulator",result="ok"\} [1-9]')
        self.assertIn('mdagent_source_circuit_state{source="simulator"} 0', m)
        self.assertRegex(m, r'mdagent_source_health_score\{source="simulator"\} [01]')

    def test_simulated_ticks_reach_websocket_subscribers(self):
        async def run():
            async with websockets.connect(f"ws://127.0.0.1:{self.agent.port}/stream") as ws:
                welcome = json.loads(await asyncio.wait_for(ws.recv(), 20))
                self.assertEqual(welcome["type"], "welcome")
                await ws.send(json.dumps({"op": "subscribe", "symbols": ["SIMA"], "channels": ["quote"]}))
                got = []
                while len(got) < 2:
                    m = json.loads(await asyncio.wait_for(ws.recv(), 20))
                    if m["type"] == "quote":
                        got.append(m)
                return got
        got = asyncio.run(run())
        self.assertEqual({m["symbol"] for m in got}, {"SIMA"})
        self.assertEqual({m["source"] for m in got}, {"simulator"})
        self.assertLess(got[0]["seq"], got[1]["seq"])
        self.assertLess(got[0]["timestamp"], got[1]["timestamp"])

    def test_health_counts_enabled_sources(self):
        h = self.get_json("/health")
        self.assertEqual(h["components"]["sources"]["status"], "ok")
        self.assertEqual(h["components"]["sources"]["enabled"], 1)


class StalePrice(AgentTest):
    """A feed that ticks once an hour: the stored quote goes stale, /price fetches."""
    env = {"MDAGENT_SOURCES_PRIORITY": "simulator", "MDAGENT_SIMULATOR_SYMBOLS": "SLOW:40"}
    args = ("--set", "simulator.interval_ms=3600000")
    load_sample = False

    def test_stale_quote_is_fetched_stored_then_served_from_store(self):
        wait_for(lambda: self.get("/price/SLOW?max_age=3600").status == 200, "the first tick")
        n0 = source_row(self.agent, "simulator")["requests"]
        time.sleep(1.1)  # let the stored quote be at least a second old
        p = self.get_json("/price/SLOW?max_age=0")
        self.assertEqual(p["source"], "simulator")
        self.assertEqual(source_row(self.agent, "simulator")["requests"], n0 + 1)
        q = self.get_json("/price/SLOW?max_age=3600")
        self.assertEqual(q["timestamp"], p["timestamp"], "the fetched quote was stored")
        self.assertEqual(q["price"], p["price"])
        self.assertEqual(source_row(self.agent, "simulator")["requests"], n0 + 1, "served from the store")


class Replay(AgentTest):
    env = {"MDAGENT_SOURCES_PRIORITY": "replay"}
    args = ("--set", "replay.symbols=MSFT", "--set", "replay.speed=864000")

    def test_replay_plays_stored_bars_as_live_quotes(self):
        with open(os.path.join(SAMPLE, "MSFT.csv")) as f:
            prices = {float(r[k]) for r in csv.DictReader(f) for k in ("open", "high", "low", "close")}
        seen = set()

        def two_prices():
            p = self.get_json("/price/MSFT")
            if p["source"] == "replay":
                self.assertIn(p["price"], prices)
                seen.add(p["price"])
            return len(seen) >= 2
        wait_for(two_prices, "two replayed prices")
        h = self.get_json("/historical/MSFT?interval=1w&start=2001-01-01&end=2001-02-01&cached_only=true")
        self.assertEqual(h["from"], "store")


class ReplayFile(unittest.TestCase):
    def test_replay_file_plays_a_csv(self):
        a = Agent(name="replayfile", env={"MDAGENT_SOURCES_PRIORITY": "replay",
                                          "MDAGENT_REPLAY_FILE": os.path.join(SAMPLE, "XTSSIM.csv")},
                  args=("--set", "replay.speed=8640000"))
        try:
            a.start()
            p = wait_for(lambda: (lambda r: r.json() if r.status == 200 else None)(a.get("/price/XTSSIM")),
                         "a replayed XTSSIM quote")
            self.assertEqual(p["source"], "replay")
            self.assertGreater(p["price"], 40)
            self.assertLess(p["price"], 60)
            s = source_row(a, "replay")
            self.assertTrue(s["enabled"])
        finally:
            a.stop()
            logs = a.logs()
            a.cleanup()
        self.assertNotIn("ERROR: AddressSanitizer", logs)

    def test_bad_source_configuration_stops_serve(self):
        a = Agent(name="badsrc")
        bad_header = os.path.join(a.dir, "bad.csv")
        with open(bad_header, "w") as f:
            f.write("when,price\n2024-01-01,3\n")
        cases = [
            ({"MDAGENT_SOURCES_PRIORITY": "simulator,nosuch", "MDAGENT_SIMULATOR_SYMBOLS": "A"}, (), 2, "nosuch"),
            ({"MDAGENT_SOURCES_PRIORITY": "simulator,simulator", "MDAGENT_SIMULATOR_SYMBOLS": "A"}, (), 2, "twice"),
            ({"MDAGENT_SOURCES_PRIORITY": "simulator"}, (), 2, "simulator.symbols"),
            ({"MDAGENT_SOURCES_PRIORITY": "simulator", "MDAGENT_SIMULATOR_SYMBOLS": "A:zero"}, (), 2,
             "simulator.symbols"),
            ({"MDAGENT_SOURCES_PRIORITY": "replay", "MDAGENT_REPLAY_FILE": "/nonexistent/x.csv"}, (), 1,
             "replay.file"),
            ({"MDAGENT_SOURCES_PRIORITY": "replay", "MDAGENT_REPLAY_FILE": bad_header}, (), 1, "bad.csv"),
            ({"MDAGENT_SOURCES_PRIORITY": "replay"}, ("--set", "replay.interval=7x"), 2, "replay.interval"),
            ({"MDAGENT_WATCHLIST": "AAPL,not valid"}, (), 2, "sources.watchlist"),
        ]
        try:
            for env, args, code, text in cases:
                p = run_cli("serve", "--db", a.db, "--create", "--listen", "127.0.0.1:1", *args, env=env,
                            check=False)
                self.assertEqual(p.returncode, code, (env, p.stderr))
                self.assertIn(text, p.stderr, env)
        finally:
            a.cleanup()


class FetchCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.agent = Agent(name="fetchcli")  # only for its store path; never started
        cls.env = {"MDAGENT_SOURCES_PRIORITY": "simulator", "MDAGENT_SIMULATOR_SYMBOLS": "FETCHME:80"}
        # fetch makes a store only when asked (--create): every test may run first

    @classmethod
    def tearDownClass(cls):
        cls.agent.cleanup()

    def test_fetch_bars_stores_them(self):
        p = run_cli("fetch", "--create", "fetchme", "--interval", "1d", "--start", day(-6), "--end", day(-1),
                    "--db", self.agent.db, env=self.env)
        self.assertRegex(p.stdout, r"FETCHME 1d \S+\.\.\S+: 5 bars from simulator, 5 stored, 0 rejected")
        q = run_cli("query", "FETCHME", "--interval", "1d", "--db", self.agent.db, env=self.env)
        rows = list(csv.DictReader(q.stdout.splitlines()))
        self.assertEqual(len(rows), 5)
        self.assertEqual(rows[0]["timestamp"][:10], day(-6))

    def test_fetch_quote_stores_it(self):
        p = run_cli("fetch", "--create", "FETCHME", "--db", self.agent.db, env=self.env)
        self.assertRegex(p.stdout, r"^FETCHME quote [0-9.]+ at \S+Z from simulator: stored")
        p = run_cli("fetch", "--create", "FETCHME", "--source", "simulator", "--db", self.agent.db, env=self.env)
        self.assertIn("from simulator", p.stdout)

    def test_fetch_failures_and_usage(self):
        p = run_cli("fetch", "--create", "NOTSIMULATED", "--db", self.agent.db, env=self.env, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("NOTSIMULATED", p.stderr)
        p = run_cli("fetch", "--create", "--db", self.agent.db, env=self.env, check=False)
        self.assertEqual(p.returncode, 2)
        p = run_cli("fetch", "--create", "X", "--interval", "7x", "--db", self.agent.db, env=self.env, check=False)
        self.assertEqual(p.returncode, 2)
        p = run_cli("fetch", "--create", "X", "--start", "2024-02-01", "--end", "2024-01-01", "--db", self.agent.db,
                    env=self.env, check=False)
        self.assertEqual(p.returncode, 2)
        p = run_cli("fetch", "--create", "X", "--source", "nope", "--db", self.agent.db, env=self.env, check=False)
        self.assertEqual(p.returncode, 2)
        p = run_cli("fetch", "--create", "X", "--db", self.agent.db, check=False)  # no sources configured
        self.assertEqual(p.returncode, 1)
        self.assertIn("no sources", p.stderr)


if __name__ == "__main__":
    unittest.main()
