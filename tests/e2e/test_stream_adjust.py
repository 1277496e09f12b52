"""End to end: bars on the stream carry the adjustment their subscription asked for.

Apple's 4-for-1 split of 2020-08-31 (ticker AAPL20, the as-traded bars of the Polygon fixture
of test_actions.py) is recorded with POST /ingest/actions; three WebSocket clients subscribe
to AAPL20's daily bars - raw (the default), "adjust":"splits" and "adjust":"all" - and the
bars around the split are ingested. The raw client gets the prices as traded; the adjusted
ones get them divided by 4 before the ex-date (volumes times 4), computed here from the
definition, and every adjusted message says its mode and what it rested on."""
import asyncio
import json
import unittest

from test_actions import polygon_raw
from test_stream import Client, KEY, StreamTest, ingest

SPLIT = {"symbol": "AAPL20", "type": "split", "ex_date": "2020-08-31", "numerator": 4,
         "denominator": 1}


class StreamAdjust(StreamTest):
    async def test_bars_follow_the_subscriptions_adjustment(self):
        await self.ingest("actions", [SPLIT])
        raw_c, split_c, all_c = [await Client.connect(self.agent) for _ in range(3)]
        sub = await raw_c.subscribe(["AAPL20"], ["bar.1d"])
        self.assertEqual(sub["channels"], ["bar.1d"])
        await split_c.send({"op": "subscribe", "symbols": ["AAPL20"], "channels": ["bar.1d"],
                            "adjust": "splits"})
        sub = await split_c.until("subscribed")
        self.assertEqual(sub["channels"], ["bar.1d@splits"])
        all_sub = await all_c.subscribe(["AAPL20"], ["bar.1d@all"])  # the channel named directly
        self.assertEqual(all_sub["channels"], ["bar.1d@all"])

        raw = polygon_raw().loc["2020-08-26":"2020-09-02"]
        bars = [{"symbol": "AAPL20", "interval": "1d", "timestamp": d, "open": r.open,
                 "high": r.high, "low": r.low, "close": r.close, "volume": r.volume}
                for d, r in raw.iterrows()]
        await self.ingest("bars", bars)
        n = len(bars)
        got_raw = await raw_c.collect("bar", n)
        got_split = await split_c.collect("bar", n)
        got_all = await all_c.collect("bar", n)

        for b, (d, r) in zip(got_raw, raw.iterrows()):
            self.assertEqual(b["timestamp"][:10], d)
            self.assertEqual((b["close"], b["volume"]), (r.close, r.volume), d)
            self.assertNotIn("adjust", b, "raw bars are as traded and say nothing more")
        for got, mode in ((got_split, "splits"), (got_all, "all")):
            for b, (d, r) in zip(got, raw.iterrows()):
                ratio = 4 if d < "2020-08-31" else 1  # no later split, no dividend recorded
                self.assertEqual(b["timestamp"][:10], d)
                self.assertEqual(b["channel"], f"bar.1d@{mode}")
                self.assertEqual(b["interval"], "1d")
                self.assertEqual(b["adjust"], mode)
                self.assertEqual(b["adjustment"]["mode"], mode)
                self.assertEqual(b["adjustment"]["applied"], 1)
                for k in ("open", "high", "low", "close"):
                    self.assertAlmostEqual(b[k], getattr(r, k) / ratio, places=9, msg=f"{d} {k}")
                self.assertAlmostEqual(b["volume"], r.volume * ratio, places=3, msg=d)
        # the adjusted closes are continuous across the split, the raw ones are not
        pre, post = [b for b in got_split if b["timestamp"] < "2020-08-31"][-1], \
            [b for b in got_split if b["timestamp"] >= "2020-08-31"][0]
        self.assertLess(abs(post["close"] / pre["close"] - 1), 0.1)
        for c in (raw_c, split_c, all_c):
            await c.close()

    async def test_a_replay_says_when_nobody_read_the_adjusted_channel(self):
        """Adjusted bars are computed only while someone reads them: a since_seq replay over a
        while nobody did is not complete (it said complete and replayed nothing); over a
        while someone did, the adjusted bars are replayed and it is complete."""
        await self.ingest("actions", [dict(SPLIT, symbol="AAPL21")])
        bar = {"symbol": "AAPL21", "interval": "1d", "open": 500.0, "high": 510.0, "low": 490.0,
               "close": 505.0, "volume": 1000}
        # a bar after the split first: the factors are anchored at the newest stored bar
        await self.ingest("bars", [dict(bar, timestamp="2020-09-01", open=126.0, high=128.0,
                                        low=125.0, close=127.0)])
        c = await Client.connect(self.agent)
        sub = await c.subscribe(["AAPL21"], ["bar.1d@all"])
        last = sub["seq"]
        await c.close()  # nobody reads AAPL21's bar.1d@all now
        await self.ingest("bars", [dict(bar, timestamp="2020-08-27")])
        c = await Client.connect(self.agent)
        sub = await c.subscribe(["AAPL21"], ["bar.1d@all"], since=last)
        self.assertFalse(sub["replay_complete"], sub)
        # now c reads it throughout: another client's replay from here is complete and whole
        last = sub["seq"]
        await self.ingest("bars", [dict(bar, timestamp="2020-08-28")])
        self.assertEqual((await c.collect("bar", 1))[0]["close"], 505.0 / 4)
        d = await Client.connect(self.agent)
        sub = await d.subscribe(["AAPL21"], ["bar.1d@all"], since=last)
        self.assertTrue(sub["replay_complete"], sub)
        self.assertEqual(sub["replayed"], 1, sub)
        got = await d.collect("bar", 1)
        self.assertEqual((got[0]["timestamp"][:10], got[0]["close"]), ("2020-08-28", 505.0 / 4))
        for x in (c, d):
            await x.close()

    async def test_unsubscribe_and_errors(self):
        c = await Client.connect(self.agent)
        await c.send({"op": "subscribe", "symbols": ["A"], "channels": ["bar.1d"],
                      "adjust": "dividends"})
        m = await c.until("error")
        self.assertEqual(m["code"], "invalid_parameter")
        await c.send({"op": "subscribe", "symbols": ["A"], "channels": ["bar.1d@raw"]})
        m = await c.until("error")
        self.assertEqual(m["code"], "invalid_channel")
        # adjust none is the plain channel
        sub = await c.subscribe(["UNADJ"], ["bar.1d@none"])
        self.assertEqual(sub["channels"], ["bar.1d"])
        await c.send({"op": "subscribe", "symbols": ["UNADJ"], "channels": ["bar.1d"],
                      "adjust": "splits"})
        await c.until("subscribed")
        await c.send({"op": "unsubscribe", "symbols": ["UNADJ"], "channels": ["bar.1d"],
                      "adjust": "splits"})
        m = await c.until("unsubscribed")
        self.assertEqual(m["channels"], ["bar.1d@splits"])
        self.assertEqual(m["subscriptions"], 1)  # the raw one stays
        await c.close()


if __name__ == "__main__":
    unittest.main()
