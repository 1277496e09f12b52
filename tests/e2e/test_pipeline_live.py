"""End to end: live indicators on the stream (ind.<spec>@<interval>, pipeline/live.c).

A day of ticks with trade sizes is replayed through POST /ingest/quotes; the agent builds live
bars from them, and a WebSocket client subscribed to indicator channels at several intervals
receives a value at each bar close. Every value pushed is compared with the REST answer
(/analytics/{symbol}/indicators) for the same bar, exactly. A second client subscribing to
other specs after that day warms them up from the stored history, and a second day's values
are checked the same way. Then two agents sharing PostgreSQL and Redis: a client on each gets
each value once, computed by its own agent (indicators are never relayed)."""
import asyncio
import json
import math
import random
import time
import unittest
import uuid

from mdtest import Agent, drop_pg_db, fresh_pg_db, services
from test_stream import HDRS, KEY, Client, ingest

DAY1 = 1709303400  # 2024-03-01T14:30:00Z, a Friday's open in New York
DAY2 = DAY1 + 3 * 86400  # the Monday after
MINUTES = 390  # 6.5 hours


def day_ticks(symbol, t0, seed):
    """A trading day of ticks: 2 to 6 a minute, prices on a random walk, sizes 1..500."""
    rnd = random.Random(seed)
    price = 100.0 + seed % 50
    out = []
    for m in range(MINUTES):
        n = rnd.randint(2, 6)
        secs = sorted(rnd.sample(range(60), n))
        for s in secs:
            price = round(price * (1 + rnd.gauss(0, 0.0015)), 2)
            out.append({"symbol": symbol, "price": price, "timestamp": t0 + m * 60 + s,
                        "volume": rnd.randint(1, 500)})
    return out


def replay(agent, ticks):
    """Posts the ticks an hour at a time (whole minutes and whole 5m..1h buckets per post)."""
    by_hour = {}
    for t in ticks:
        by_hour.setdefault(t["timestamp"] // 3600, []).append(t)
    for h in sorted(by_hour):
        ingest(agent, "quotes", by_hour[h])


def closes(msgs):
    """The number of closed-bar indicator values per channel."""
    n = {}
    for m in msgs:
        if m.get("type") == "indicator" and not m["partial"]:
            n[m["channel"]] = n.get(m["channel"], 0) + 1
    return n


async def drain(client, quiet_s=4.0, timeout=240, want=None):
    """Messages until none came for quiet_s seconds; with want ({channel: closes}), first
    until that many closed values came on each channel (the pipeline may lag behind the
    ingest on a loaded machine: late is fine, lost is not), then until quiet_s of quiet."""
    out = []
    deadline = time.monotonic() + timeout
    while want and time.monotonic() < deadline:
        got = closes(out)
        if all(got.get(ch, 0) >= n for ch, n in want.items()):
            break
        try:
            out.append(await client.next(timeout=max(0.1, deadline - time.monotonic())))
        except asyncio.TimeoutError:
            break
    if want and any(closes(out).get(ch, 0) < n for ch, n in want.items()):
        lagged = [m for m in out if m.get("type") == "lagged"]
        raise AssertionError(f"after {timeout} s: {closes(out)}, want {want}; lagged: {lagged}")
    while time.monotonic() < deadline:
        try:
            out.append(await client.next(timeout=quiet_s))
        except asyncio.TimeoutError:
            return out
    raise AssertionError("the stream never went quiet")


def rest(agent, symbol, interval, spec, start, end):
    r = agent.get(f"/analytics/{symbol}/indicators?interval={interval}&names={spec}"
                  f"&start={start}&end={end}&limit=100000")
    assert r.status == 200, r
    body = r.json()
    ind = body["indicators"][spec]
    return {ts: i for i, ts in enumerate(body["timestamps"])}, ind


def same(live, want, what):
    if want is None:
        assert live is None, f"{what}: want null, got {live!r}"
    else:
        assert live is not None and live == want, f"{what}: live {live!r} rest {want!r}"


def check(testcase, agent, msgs, symbol, start, end):
    """Compares every closed-bar indicator value of msgs with the REST answer; returns the
    number of values per (channel)."""
    counts, answers, seen = {}, {}, set()
    for m in msgs:
        if m.get("type") != "indicator" or m["partial"]:
            continue
        key = (m["channel"], m["timestamp"])
        testcase.assertNotIn(key, seen, f"{key} pushed twice")
        seen.add(key)
        spec, iv = m["indicator"], m["interval"]
        if (spec, iv) not in answers:
            answers[(spec, iv)] = rest(agent, symbol, iv, spec, start, end)
        index, ind = answers[(spec, iv)]
        testcase.assertIn(m["timestamp"], index, f"{m['channel']}: no REST bar at {m['timestamp']}")
        k = index[m["timestamp"]]
        what = f"{m['channel']} at {m['timestamp']}"
        if "value" in m:
            same(m["value"], ind[k], what)
        else:
            for out, v in m["values"].items():
                same(v, ind[out][k], f"{what} {out}")
        counts[m["channel"]] = counts.get(m["channel"], 0) + 1
    return counts


class LiveIndicators(unittest.IsolatedAsyncioTestCase):
    @classmethod
    def setUpClass(cls):
        cls.agent = Agent(env={"MDAGENT_API_KEYS": KEY}, name="LiveInd",
                          args=("--set", "pipeline.partial_interval_ms=0")).start()

    @classmethod
    def tearDownClass(cls):
        rc = cls.agent.stop()
        logs = cls.agent.logs()
        cls.agent.cleanup()
        if "ERROR: AddressSanitizer" in logs or "runtime error:" in logs or rc not in (0, None):
            raise AssertionError(f"agent exit {rc} or sanitizer report:\n{logs[-4000:]}")

    async def test_a_replayed_day_pushes_every_close_with_the_rest_value(self):
        sym = "LIVE1"
        a = await Client.connect(self.agent)
        day1 = ["ind.rsi:14@1m", "ind.macd:12:26:9@5m", "ind.bbands:20:2@15m", "ind.sma:5@1h",
                "ind.vwap@1m", "ind.stoch:14:3:3@5m"]
        sub = await a.subscribe([sym], day1)
        self.assertEqual(sub["channels"], day1)
        await asyncio.to_thread(replay, self.agent, day_ticks(sym, DAY1, 1))
        msgs = await drain(a, quiet_s=1, want={c: n for c, n in zip(day1, (MINUTES, 78, 26, 7, MINUTES, 78))})
        counts = check(self, self.agent, msgs, sym, DAY1 - 86400, DAY2 + 86400)
        # every bar of the day closed once: 390 minutes, 78 x 5m, 26 x 15m, 7 hours (14:00 to
        # 20:00, the first and last partly covered)
        self.assertEqual(counts.get("ind.rsi:14@1m"), MINUTES, counts)
        self.assertEqual(counts.get("ind.vwap@1m"), MINUTES, counts)
        self.assertEqual(counts.get("ind.macd:12:26:9@5m"), 78, counts)
        self.assertEqual(counts.get("ind.stoch:14:3:3@5m"), 78, counts)
        self.assertEqual(counts.get("ind.bbands:20:2@15m"), 26, counts)
        self.assertEqual(counts.get("ind.sma:5@1h"), 7, counts)
        self.assertTrue(any(m["type"] == "bar" for m in msgs) is False, "only what was asked")

        # a second client, on specs nobody computed yet: warmed up from day 1's stored bars
        b = await Client.connect(self.agent)
        day2 = ["ind.ema:50@1m", "ind.adx:14@5m", "ind.rsi:14@1m"]
        await b.subscribe([sym], day2, )
        await b.send({"op": "subscribe", "symbols": [sym], "channels": ["ind.cci:20@15m"],
                      "partial": True})
        await asyncio.sleep(1)
        await asyncio.to_thread(replay, self.agent, day_ticks(sym, DAY2, 2))
        mb = await drain(b, quiet_s=1, want={"ind.ema:50@1m": MINUTES, "ind.rsi:14@1m": MINUTES,
                                             "ind.adx:14@5m": 78, "ind.cci:20@15m": 26})
        ma = await drain(a, quiet_s=1, want={"ind.rsi:14@1m": MINUTES})
        counts_b = check(self, self.agent, mb, sym, DAY1 - 86400, DAY2 + 86400)
        counts_a = check(self, self.agent, ma, sym, DAY1 - 86400, DAY2 + 86400)
        # day 1's last bar of each interval closed before b came: b starts with day 2's
        self.assertEqual(counts_b.get("ind.ema:50@1m"), MINUTES, counts_b)
        self.assertEqual(counts_b.get("ind.rsi:14@1m"), MINUTES, counts_b)
        self.assertEqual(counts_b.get("ind.adx:14@5m"), 78, counts_b)
        self.assertEqual(counts_b.get("ind.cci:20@15m"), 26, counts_b)
        self.assertEqual(counts_a.get("ind.rsi:14@1m"), MINUTES, "a shares rsi:14 with b")
        partial = [m for m in mb if m.get("type") == "indicator" and m["partial"]]
        self.assertTrue(partial, "forming-bar values were asked for")
        self.assertTrue(all(m["channel"] == "ind.cci:20@15m" for m in partial))
        self.assertFalse(any(m.get("partial") for m in ma if m.get("type") == "indicator"),
                         "a did not ask for partial values")
        # the day's values start where the history left them: ema:50 has a value at day 2's
        # first minute (warmed up over day 1), which it could not have from day 2 alone
        first = min((m for m in mb if m.get("channel") == "ind.ema:50@1m"),
                    key=lambda m: m["timestamp"])
        self.assertEqual(first["timestamp"], "2024-03-04T14:30:00Z")
        self.assertIsNotNone(first["value"])
        health = self.agent.get("/health").json()["components"]["pipeline"]
        self.assertEqual(health["live_indicators"], 9, health)
        await a.close()
        await b.close()
        for _ in range(100):
            health = self.agent.get("/health").json()["components"]["pipeline"]
            if health["live_indicators"] == 0:
                break
            await asyncio.sleep(0.05)
        self.assertEqual(health["live_indicators"], 0, "freed with their last reader")

    async def test_a_bar_of_the_current_minute_is_not_a_close(self):
        """An ingested 1m bar of the minute in progress is partial; the live value at it is
        not published as final ("partial": false) before its minute is over; and a live bar
        closed by a tick of the next minute, stamped ahead of the agent's clock, is whole."""
        if 60 - time.time() % 60 < 8:  # the minute must not end during the test
            await asyncio.sleep(60 - time.time() % 60 + 1)
        now = int(time.time())
        cur = now - now % 60
        sym, live = "BRX", "LBP"
        c = await Client.connect(self.agent)
        await c.subscribe([sym], ["ind.sma:2@1m", "bar.1m"])
        await c.subscribe([live], ["bar.1m"])
        ingest(self.agent, "bars", [
            {"symbol": sym, "interval": "1m", "timestamp": t, "open": 10 + i, "high": 11 + i,
             "low": 9 + i, "close": 10 + i, "volume": 100} for i, t in
            enumerate((cur - 180, cur - 120, cur - 60, cur))])
        # a tick in this minute, then one stamped at the next minute's start: it closes the
        # live bar of this minute before the agent's clock gets there
        ingest(self.agent, "quotes", [{"symbol": live, "price": 50, "timestamp": now}])
        ingest(self.agent, "quotes", [{"symbol": live, "price": 51, "timestamp": cur + 60}])
        msgs = await drain(c, quiet_s=2.0, timeout=30)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(cur))
        values = [m for m in msgs if m.get("type") == "indicator" and m["symbol"] == sym]
        self.assertTrue(values, msgs)
        self.assertFalse([m for m in values if m["timestamp"] == stamp],
                         "a value at the minute in progress was sent as a close")
        bars = {m["timestamp"]: m for m in msgs if m.get("type") == "bar" and m["symbol"] == sym}
        self.assertTrue(bars[stamp]["partial"], bars)
        lbars = [m for m in msgs if m.get("type") == "bar" and m["symbol"] == live]
        self.assertEqual([(m["timestamp"], m["partial"]) for m in lbars], [(stamp, False)],
                         "the live bar published at its close is whole")
        await c.close()

    async def test_a_split_mid_stream_feeds_the_history_again_adjusted(self):
        """The REST answer's default is adjust=splits: once a recorded split is in effect (a
        bar past its ex-date is stored), the live values are those of the adjusted series,
        not of raw prices mixing both sides of the split (an sma:5 halfway between)."""
        sym, day = "LSPLIT", 86400
        t0 = (int(time.time()) // day - 60) * day

        def bar(i, c):
            return {"symbol": sym, "interval": "1d", "timestamp": t0 + i * day, "open": c,
                    "high": c * 1.01, "low": c * 0.99, "close": c, "volume": 1000 + i}

        closes = [100 + (i % 7) for i in range(30)]
        ingest(self.agent, "bars", [bar(i, c) for i, c in enumerate(closes)])
        c = await Client.connect(self.agent)
        await c.subscribe([sym], ["ind.sma:5@1d", "ind.obv@1d"])
        await asyncio.sleep(0.5)
        ex = time.strftime("%Y-%m-%d", time.gmtime(t0 + 31 * day))
        r = self.agent.post("/ingest/actions", json.dumps({"actions": [
            {"symbol": sym, "type": "split", "ex_date": ex, "numerator": 2, "denominator": 1}]}),
            headers=HDRS)
        self.assertEqual(r.status, 200, r)
        for i in range(30, 36):  # day 30 before the ex-date, then 2:1 prices
            ingest(self.agent, "bars", [bar(i, closes[i - 30] / (2 if i >= 31 else 1))])
            await asyncio.sleep(0.2)
        msgs = await drain(c, quiet_s=2.0, timeout=60)
        after = [m for m in msgs if m.get("type") == "indicator"
                 and m["timestamp"] >= f"{ex}T00:00:00Z"]
        self.assertEqual(len(after), 2 * 5, msgs)
        counts = check(self, self.agent, after, sym, t0, t0 + 40 * day)
        self.assertEqual(counts, {"ind.sma:5@1d": 5, "ind.obv@1d": 5})
        # the first close past the ex-date: four halved closes and its own, averaged
        first = next(m for m in after if m["channel"] == "ind.sma:5@1d")
        want = (sum(c / 2 for c in closes[27:30]) + closes[0] / 2 + closes[1] / 2) / 5
        self.assertAlmostEqual(first["value"], want, places=9)
        await c.close()

    async def test_errors_for_channels_that_cannot_be_live(self):
        c = await Client.connect(self.agent)
        self.assertIn("ind.<indicator>@<interval>", c.welcome["channel_patterns"])
        await c.send({"op": "subscribe", "symbols": ["X"], "channels": ["ind.psar@1m"]})
        m = await c.until("error")
        self.assertEqual(m["code"], "invalid_channel")
        self.assertIn("cannot be computed live", m["message"])
        await c.send({"op": "subscribe", "symbols": ["X"], "channels": ["ind.rsi:14@7m"]})
        self.assertEqual((await c.until("error"))["code"], "invalid_channel")
        await c.send({"op": "subscribe", "channels": ["screen.nope"]})
        m = await c.until("error")
        self.assertEqual(m["code"], "invalid_channel")
        self.assertIn("no screen named 'nope'", m["message"])
        await c.close()


class LiveIndicatorLimit(unittest.IsolatedAsyncioTestCase):
    @classmethod
    def setUpClass(cls):
        cls.agent = Agent(env={"MDAGENT_API_KEYS": KEY}, name="LiveLimit",
                          args=("--set", "pipeline.max_live_indicators=2")).start()

    @classmethod
    def tearDownClass(cls):
        cls.agent.stop()
        cls.agent.cleanup()

    async def test_the_agent_wide_limit_has_its_own_error(self):
        a, b = await Client.connect(self.agent), await Client.connect(self.agent)
        await a.subscribe(["A"], ["ind.sma:5@1m", "ind.ema:5@1m"])
        await b.subscribe(["A"], ["ind.sma:5@1m"])  # shared: no new series
        await b.send({"op": "subscribe", "symbols": ["B"], "channels": ["ind.sma:5@1m"]})
        m = await b.until("error")
        self.assertEqual(m["code"], "too_many_live_indicators")
        self.assertIn("pipeline.max_live_indicators", m["message"])
        await a.send({"op": "unsubscribe", "channels": ["ind.ema:5@1m"]})
        await a.until("unsubscribed")
        await b.subscribe(["B"], ["ind.sma:5@1m"])
        await a.close()
        await b.close()


@unittest.skipUnless(services().get("MDTEST_REDIS_URL") and services().get("MDTEST_PG_URL"),
                     "no test Redis or PostgreSQL")
class LiveIndicatorsAcrossInstances(unittest.IsolatedAsyncioTestCase):
    """Two agents, one PostgreSQL and one Redis: ticks ingested on A are relayed to B, each
    builds its live bars and computes its clients' indicators itself."""

    @classmethod
    def setUpClass(cls):
        cls.db = fresh_pg_db("LiveAcross")
        channel = f"mdtest:stream:{uuid.uuid4().hex}"
        # one deployment: the same namespace (the harness gives each agent a cache prefix
        # of its own, and the default namespace derives from it)
        args = ("--redis", services()["MDTEST_REDIS_URL"], "--set",
                f"stream.redis_channel={channel}", "--set", f"redis.namespace={channel}")
        env = {"MDAGENT_API_KEYS": KEY}
        cls.a = Agent(db=cls.db, env=env, args=args, name="LiveA").start()
        cls.b = Agent(db=cls.db, env=env, args=args, name="LiveB").start()

    @classmethod
    def tearDownClass(cls):
        logs = ""
        for agent in (cls.a, cls.b):
            rc = agent.stop()
            logs += agent.logs()
            agent.cleanup()
            if rc not in (0, None):
                logs += f"\nexit {rc}"
        drop_pg_db(cls.db)
        if "ERROR: AddressSanitizer" in logs or "runtime error:" in logs or "\nexit" in logs:
            raise AssertionError(logs[-4000:])

    async def test_each_client_gets_each_value_once_from_its_own_agent(self):
        for agent in (self.a, self.b):
            for _ in range(200):
                relay = agent.get("/health").json()["components"]["stream"].get("relay", {})
                if relay.get("status") == "connected":
                    break
                await asyncio.sleep(0.05)
        sym = "XLIVE"
        ca, cb = await Client.connect(self.a), await Client.connect(self.b)
        for c in (ca, cb):
            await c.subscribe([sym], ["ind.sma:3@1m", "ind.rsi:5@5m"])
        ticks = [t for t in day_ticks(sym, DAY1, 7) if t["timestamp"] < DAY1 + 3600]
        await asyncio.to_thread(replay, self.a, ticks)
        want = {"ind.sma:3@1m": 60, "ind.rsi:5@5m": 12}
        ma, mb = await drain(ca, quiet_s=1, want=want), await drain(cb, quiet_s=1, want=want)
        counts_a = check(self, self.a, ma, sym, DAY1 - 3600, DAY1 + 7200)
        counts_b = check(self, self.b, mb, sym, DAY1 - 3600, DAY1 + 7200)
        self.assertEqual(counts_a, {"ind.sma:3@1m": 60, "ind.rsi:5@5m": 12}, counts_a)
        self.assertEqual(counts_b, counts_a, "B computes the same values from the same bars")
        va = {(m["channel"], m["timestamp"]): m.get("value") for m in ma if m["type"] == "indicator"}
        vb = {(m["channel"], m["timestamp"]): m.get("value") for m in mb if m["type"] == "indicator"}
        self.assertEqual(va, vb)
        relay_b = self.b.get("/health").json()["components"]["stream"]["relay"]
        self.assertEqual(relay_b["received"], len(ticks), "only the ticks crossed Redis")
        await ca.close()
        await cb.close()


if __name__ == "__main__":
    unittest.main()
