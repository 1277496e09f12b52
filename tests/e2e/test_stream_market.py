"""End to end: the market.<MIC> channels announce exchange session boundaries.

The agent runs with stream.market_clock_offset_s set so that its market clock stands 20 s
before a UTC midnight: the 24/7 calendar (one session per UTC day) closes and opens again
then. A real WebSocket client subscribes with "channels":["market"],"calendars":["crypto"]
and gets the status at once, then the close and the open at that instant; another names
market.XNYS directly and its status agrees with GET /calendars/XNYS/status at the same
instant."""
import calendar
import time
import unittest
from datetime import datetime, timedelta, timezone

from test_stream import HDRS, Client, StreamTest

LEAD_S = 20


def iso(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


class StreamMarket(StreamTest):
    @classmethod
    def setUpClass(cls):
        now = int(time.time())
        midnight = (now // 86400 + 1) * 86400
        cls.boundary = midnight
        cls.offset = midnight - LEAD_S - now  # the market clock at start: LEAD_S before it
        cls.args = ("--set", f"stream.market_clock_offset_s={cls.offset}")
        super().setUpClass()

    async def test_status_on_subscribe_then_close_and_open_at_the_boundary(self):
        c = await Client.connect(self.agent)
        await c.send({"op": "subscribe", "channels": ["market"], "calendars": ["crypto"]})
        sub = await c.until("subscribed")
        self.assertEqual(sub["channels"], ["market.24/7"])
        st = await c.next()
        self.assertEqual(st["type"], "market", st)
        self.assertEqual(st["channel"], "market.24/7")
        self.assertEqual(st["calendar"], "24/7")
        self.assertEqual(st["event"], "status")
        self.assertEqual(st["phase"], "open")
        self.assertNotIn("symbol", st)
        self.assertEqual(st["next_close"], iso(self.boundary))
        self.assertEqual(st["session"], iso(self.boundary - 86400)[:10])
        self.assertLess(st["at"], iso(self.boundary))

        t0 = time.monotonic()
        close = await c.until("market", timeout=LEAD_S + 30)
        opened = await c.until("market", timeout=10)
        waited = time.monotonic() - t0
        self.assertEqual((close["event"], opened["event"]), ("close", "open"))
        for m in (close, opened):
            self.assertEqual(m["at"], iso(self.boundary))
            self.assertEqual(m["channel"], "market.24/7")
        self.assertEqual(close["session"], iso(self.boundary - 86400)[:10])
        self.assertEqual(opened["session"], iso(self.boundary)[:10])
        self.assertEqual(opened["phase"], "open")
        self.assertEqual(opened["next_close"], iso(self.boundary + 86400))
        self.assertGreater(opened["seq"], close["seq"])
        self.assertGreater(close["seq"], sub["seq"])
        self.assertGreater(waited, 2, "the event came at the boundary, not at subscribe")
        await c.close()

    async def test_a_named_calendar_and_a_wrong_one(self):
        c = await Client.connect(self.agent)
        await c.send({"op": "subscribe", "channels": ["market.nyse"]})
        sub = await c.until("subscribed")
        self.assertEqual(sub["channels"], ["market.XNYS"])
        st = await c.next()
        self.assertEqual(st["event"], "status")
        at = calendar.timegm(datetime.strptime(st["at"], "%Y-%m-%dT%H:%M:%SZ").timetuple())
        r = self.get(f"/calendars/XNYS/status?at={st['at']}", headers=HDRS)
        self.assertEqual(r.status, 200, r)
        ref = r.json()
        self.assertEqual(st["phase"], ref["status"], (st, ref))
        self.assertEqual(st["next_open"], ref["next_open"])
        self.assertEqual(st["next_close"], ref["next_close"])
        self.assertLess(abs(at - (time.time() + self.offset)), 30, "the shifted clock")
        await c.send({"op": "subscribe", "channels": ["market.NOWHERE"]})
        err = await c.until("error")
        self.assertIn("NOWHERE", err["message"])
        await c.send({"op": "subscribe", "channels": ["market"]})
        err = await c.until("error")
        self.assertIn("calendars", err["message"])
        await c.close()

    async def test_unsubscribing_symbols_keeps_the_market_channel(self):
        """A market channel is no symbol's: an unsubscribe naming symbols only (every channel
        of those symbols) leaves it; naming it, or unsubscribing everything, drops it."""
        c = await Client.connect(self.agent)
        await c.send({"op": "subscribe", "channels": ["market.XNYS"]})
        await c.until("subscribed")
        await c.until("market")  # its status
        await c.subscribe(["AAPL", "MSFT"], ["quote", "bar.1m"])
        await c.send({"op": "unsubscribe", "symbols": ["AAPL"]})
        m = await c.until("unsubscribed")
        self.assertEqual(m["subscriptions"], 3, m)  # MSFT's two and market.XNYS
        await c.send({"op": "unsubscribe", "symbols": ["MSFT"], "channels": ["market.nyse"]})
        m = await c.until("unsubscribed")
        self.assertEqual(m["subscriptions"], 2, m)
        await c.send({"op": "subscribe", "channels": ["market.XNYS"]})
        await c.until("subscribed")
        await c.send({"op": "unsubscribe"})
        m = await c.until("unsubscribed")
        self.assertEqual(m["subscriptions"], 0, m)
        await c.close()


if __name__ == "__main__":
    unittest.main()
