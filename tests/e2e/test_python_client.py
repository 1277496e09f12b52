"""End to end: the Python client (clients/python) against a real agent. History of one symbol
and of several compared with the sample CSV files it was loaded from, indicators compared
with pandas' own rolling mean, prices, quality, typed errors carrying the agent's codes,
ingest of a DataFrame, the stream (Debian's python3-websockets) resuming after a dropped
connection, after a gap longer than the agent holds and after an agent restart, and the
package installed with pip."""
import asyncio
import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

import pandas as pd

from mdtest import SAMPLE, SRC, Agent, AgentTest, redis_deployment_args

sys.path.insert(0, os.path.join(SRC, "clients", "python"))
import mdagent  # noqa: E402  (the package under test, from the source tree)
from mdagent import Client  # noqa: E402

KEY = "python-client-key-1"
T0 = (int(time.time()) // 3600) * 3600 - 7200  # two hours ago, on the hour


def sample(symbol):
    """The rows of data/sample/SYMBOL.csv, the file the agent was loaded from."""
    with open(os.path.join(SAMPLE, f"{symbol}.csv")) as f:
        return [{"timestamp": pd.Timestamp(r["date"], tz="UTC"), "close": float(r["close"]),
                 "open": float(r["open"]), "volume": float(r["volume"])} for r in csv.DictReader(f)]


class Proxy:
    """A TCP forwarder between the client and the agent: drop() cuts every connection (a
    network failure the agent did not cause) and target can move to a restarted agent."""

    def __init__(self, port):
        self.target = port
        self.conns = set()
        self.server = None

    async def start(self):
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, cr, cw):
        try:
            ar, aw = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            cw.close()  # the agent is down: the client sees a failed handshake and retries
            return
        pair = (cw, aw)
        self.conns.add(pair)

        async def pump(r, w):
            try:
                while data := await r.read(65536):
                    w.write(data)
                    await w.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                w.close()

        await asyncio.gather(pump(cr, aw), pump(ar, cw))
        self.conns.discard(pair)

    async def drop(self):
        for cw, aw in list(self.conns):
            aw.close()
            cw.close()
        for cw, aw in list(self.conns):
            for w in (aw, cw):
                try:
                    await w.wait_closed()
                except (ConnectionError, OSError):
                    pass

    async def close(self):
        await self.drop()
        self.server.close()


class ClientRest(AgentTest):
    env = {"MDAGENT_API_KEYS": KEY}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.md = Client(cls.agent.url)

    def test_history_of_one_symbol_is_the_loaded_file(self):
        want = [r for r in sample("DAX") if "1995-01-01" <= r["timestamp"].strftime("%Y-%m-%d") < "1996-01-01"]
        df = self.md.history("DAX", start="1995-01-01", end="1996-01-01")
        self.assertIsInstance(df, pd.DataFrame)
        self.assertEqual(df.index.name, "timestamp")
        self.assertEqual(str(df.index.tz), "UTC")
        self.assertEqual(list(df.index), [r["timestamp"] for r in want])
        self.assertEqual(list(df["close"]), [r["close"] for r in want])
        self.assertEqual(list(df.columns[:5]), ["open", "high", "low", "close", "volume"])
        # datetimes are sent as instants; limit keeps the newest bars of the range
        last = self.md.history("DAX", start=pd.Timestamp("1995-01-01", tz="UTC"),
                               end=pd.Timestamp("1996-01-01").to_pydatetime(), limit=3)
        self.assertEqual(list(last.index), [r["timestamp"] for r in want[-3:]])

    def test_history_and_indicators_follow_next_across_pages(self):
        want = [r for r in sample("DAX") if "1995-01-01" <= r["timestamp"].strftime("%Y-%m-%d") < "1996-01-01"]
        self.assertGreater(len(want), 200)
        paged = self.md.history("DAX", start="1995-01-01", end="1996-01-01", page_size=7)
        self.assertEqual(list(paged.index), [r["timestamp"] for r in want])
        self.assertEqual(list(paged["close"]), [r["close"] for r in want])
        # the newest 10 in pages of 4 (desc pages, put back in time order)
        last = self.md.history("DAX", start="1995-01-01", end="1996-01-01", limit=10, page_size=4)
        self.assertEqual(list(last.index), [r["timestamp"] for r in want[-10:]])
        self.assertEqual(list(last["close"]), [r["close"] for r in want[-10:]])
        whole = self.md.indicators("DAX", "sma:5,macd", start="1995-01-01", end="1996-01-01")
        self.assertEqual(list(whole.index), [r["timestamp"] for r in want])
        pages = self.md.indicators("DAX", ["sma:5", "macd"], start="1995-01-01", end="1996-01-01", page_size=9)
        pd.testing.assert_frame_equal(pages, whole)
        tail = self.md.indicators("DAX", "sma:5,macd", start="1995-01-01", end="1996-01-01", limit=6, page_size=4)
        pd.testing.assert_frame_equal(tail, whole.iloc[-6:])
        # sma:5 against its definition over the loaded closes (the series starts before 1995)
        closes = pd.Series([r["close"] for r in sample("DAX")], index=[r["timestamp"] for r in sample("DAX")])
        ref = closes.rolling(5).mean().loc[whole.index]
        self.assertLess(float((whole["sma:5"] - ref.values).abs().max()), 1e-9)

    def test_history_of_several_symbols_is_long_format(self):
        df = self.md.history(["SMI", "DAX"], start="1996-01-01", end="1996-03-01")
        self.assertEqual(list(df.columns[:7]), ["symbol", "timestamp", "open", "high", "low", "close", "volume"])
        for sym in ("SMI", "DAX"):
            want = [r for r in sample(sym) if "1996-01-01" <= r["timestamp"].strftime("%Y-%m-%d") < "1996-03-01"]
            self.assertGreater(len(want), 30)
            got = df[df["symbol"] == sym]
            self.assertEqual(list(got["timestamp"]), [r["timestamp"] for r in want], sym)
            self.assertEqual(list(got["close"]), [r["close"] for r in want], sym)
        self.assertEqual(len(df), len(df.drop_duplicates(["symbol", "timestamp"])))
        self.assertTrue(df["timestamp"].is_monotonic_increasing)
        wide = df.pivot(index="timestamp", columns="symbol", values="close")  # the README's notebook
        self.assertEqual(set(wide.columns), {"SMI", "DAX"})

    def routed(self, route):
        """How many /historical requests of route the agent answered (its metrics)."""
        text = self.agent.get("/metrics").body
        return sum(float(m) for m in re.findall(
            r'^mdagent_http_requests_total\{route="%s",status="200"\} (\S+)$' % re.escape(route), text, re.M))

    def test_history_of_several_symbols_uses_the_multi_symbol_route_and_its_pages(self):
        before_multi, before_one = self.routed("/historical"), self.routed("/historical/{symbol}")
        whole = self.md.history(["SMI", "DAX", "MSFT"], start="1996-01-01", end="1996-03-01")
        paged = self.md.history(["SMI", "DAX", "MSFT"], start="1996-01-01", end="1996-03-01", page_size=7)
        pd.testing.assert_frame_equal(paged, whole)
        n = len(whole)
        self.assertEqual(n, 2 * len([r for r in sample("DAX") if "1996-01-01" <= r["timestamp"].strftime("%Y-%m-%d") < "1996-03-01"]))
        # one request, then ceil(n / 7) pages (the last may be empty when the list ends with MSFT)
        self.assertGreaterEqual(self.routed("/historical") - before_multi, 1 + -(-n // 7))
        self.assertEqual(self.routed("/historical/{symbol}"), before_one)
        # an unknown symbol raises its typed error, or is listed with raise_errors=False
        with self.assertRaises(mdagent.NotFoundError) as cm:
            self.md.history(["DAX", "NOPE"], start="1996-01-01", end="1996-03-01")
        self.assertEqual(cm.exception.code, "not_found")
        df = self.md.history(["DAX", "NOPE"], start="1996-01-01", end="1996-03-01", raise_errors=False)
        self.assertEqual(set(df["symbol"]), {"DAX"})
        self.assertEqual([(e["symbol"], e["code"]) for e in df.attrs["errors"]], [("NOPE", "not_found")])
        # limit: the newest N bars of each symbol
        last = self.md.history(["SMI", "DAX"], start="1996-01-01", end="1996-03-01", limit=4)
        for sym in ("SMI", "DAX"):
            self.assertEqual(list(last[last["symbol"] == sym]["timestamp"]),
                             list(whole[whole["symbol"] == sym]["timestamp"])[-4:])

    def test_the_readme_notebook_example(self):
        with open(os.path.join(SRC, "clients", "python", "README.md")) as f:
            text = f.read()
        code = text.split("```python\n", 1)[1].split("```", 1)[0]
        self.assertLessEqual(len(code.strip().splitlines()), 5)
        ns = {}
        exec(code.replace("http://127.0.0.1:8080", self.agent.url), ns)
        corr = ns["wide"].pct_change().corr()
        self.assertEqual(corr.shape, (2, 2))
        self.assertGreater(corr.iloc[0, 1], 0.3)  # two European indexes in 1996 move together
        self.assertIn(len(ns["df"]), (2 * 52, 2 * 53))  # weekly bars of one year, each symbol

    def test_indicators_match_pandas(self):
        df = self.md.indicators("FTSE", ["sma:10", "macd"], start="1997-01-01", end="1997-06-01")
        closes = pd.Series({r["timestamp"]: r["close"] for r in sample("FTSE")})
        ref = closes.rolling(10).mean().loc[df.index]  # pandas as the independent reference
        self.assertGreater(len(df), 80)
        self.assertEqual(list(df["close"]), list(closes.loc[df.index]))
        self.assertLess((df["sma:10"] - ref).abs().max(), 1e-9)
        self.assertEqual({"macd:12:26:9.macd", "macd:12:26:9.signal", "macd:12:26:9.histogram"}
                         & set(df.columns), {"macd:12:26:9.macd", "macd:12:26:9.signal", "macd:12:26:9.histogram"})
        self.assertFalse(df["macd:12:26:9.signal"].isna().any())  # warmed up long before 1997
        first = self.md.indicators("FTSE", "sma:10", end="1991-07-20")
        self.assertTrue(first["sma:10"].iloc[:9].isna().all())  # warm-up is NaN
        self.assertFalse(pd.isna(first["sma:10"].iloc[9]))

    def test_prices_quality_symbols(self):
        p = self.md.price("SMI")
        self.assertEqual(p["symbol"], "SMI")
        self.assertEqual(p["price"], sample("SMI")[-1]["close"])
        ps = self.md.prices(["SMI", "CAC", "NOSUCH"])
        self.assertEqual(ps.loc["CAC", "price"], sample("CAC")[-1]["close"])
        self.assertIsNone(ps.loc["SMI", "error"])
        self.assertTrue(pd.isna(ps.loc["NOSUCH", "price"]))
        self.assertIsInstance(ps.loc["NOSUCH", "error"], str)
        with self.assertRaises(mdagent.MdagentError) as e:
            self.md.prices(["SMI", "NOSUCH"], raise_errors=True)
        self.assertEqual(e.exception.code, ps.loc["NOSUCH", "error"])
        q = self.md.quality("DAX", start="1995-01-01", end="1996-01-01")
        self.assertEqual(q["symbol"], "DAX")
        self.assertIn(q["grade"][0], "ABCDF")
        report = self.md.quality()
        self.assertEqual({r["symbol"] for r in report["symbols"]} >= {"DAX", "MSFT", "SMI"}, True)
        self.assertEqual({s["symbol"] for s in self.md.symbols()} >= {"CAC", "FTSE"}, True)
        s = self.md.summary("DAX", start="1995-01-01", end="1996-01-01")
        want = [r for r in sample("DAX") if r["timestamp"].year == 1995]
        self.assertAlmostEqual(s["return"], want[-1]["close"] / want[0]["close"] - 1, places=9)

    def test_every_read_parameter_reaches_the_agent(self):
        # each keyword is sent: the answer says the value asked, and a bad one is the
        # agent's own 400 (a keyword the client dropped would answer the default instead)
        rng = {"start": "1995-01-01", "end": "1996-01-01"}
        s = self.md.summary("DAX", adjust="none", partial="exclude", cached_only=True, **rng)
        self.assertEqual(s["adjust"], "none")
        self.assertEqual(s, self.md.get("/analytics/DAX/summary", adjust="none", partial="exclude",
                                        cached_only="true", **rng))
        df = self.md.indicators("DAX", "sma:5", adjust="none", cached_only=False, **rng)
        self.assertEqual(len(df), len([r for r in sample("DAX") if r["timestamp"].year == 1995]))
        calls = {
            "summary": lambda **kw: self.md.summary("DAX", **rng, **kw),
            "indicators": lambda **kw: self.md.indicators("DAX", "sma:5", **rng, **kw),
            "history": lambda **kw: self.md.history("DAX", **rng, **kw),
        }
        for name, call in calls.items():
            for kw in ({"adjust": "bogus"}, {"partial": "bogus"}, {"session": "bogus"}):
                with self.subTest(call=name, **kw), self.assertRaises(mdagent.MdagentError) as e:
                    call(**kw)
                self.assertEqual(e.exception.status, 400)
                self.assertIn(next(iter(kw)), str(e.exception))

    def test_errors_are_typed_and_carry_the_code(self):
        cases = [
            (lambda: self.md.history("DAX", interval="7x"), mdagent.InvalidIntervalError, "invalid_interval", 400),
            (lambda: self.md.history("DAX", start="1996-01-01", end="1995-01-01"),
             mdagent.InvalidTimeRangeError, "invalid_time_range", 400),
            (lambda: self.md.history("DAX", limit=0), mdagent.InvalidParameterError, "invalid_parameter", 400),
            (lambda: self.md.quality("NOSUCH"), mdagent.NotFoundError, "not_found", 404),
            (lambda: self.md.ingest_bars([{"symbol": "X", "timestamp": T0, "open": 1, "high": 1,
                                           "low": 1, "close": 1}]), mdagent.AuthError, "unauthorized", 401),
            (lambda: Client(self.agent.url, api_key="wrong").ingest_quotes(
                [{"symbol": "X", "price": 1, "timestamp": T0}]), mdagent.AuthError, "unauthorized", 401),
        ]
        for call, cls, code, status in cases:
            with self.subTest(code=code), self.assertRaises(cls) as e:
                call()
            self.assertEqual((e.exception.code, e.exception.status), (code, status))
            self.assertTrue(e.exception.message)
            self.assertIsInstance(e.exception, mdagent.MdagentError)
        with self.assertRaises(mdagent.MdagentError) as e:
            Client("http://127.0.0.1:9").symbols()  # nothing listens on the discard port
        self.assertEqual(e.exception.code, "unreachable")

    def test_ingest_a_dataframe(self):
        md = Client(self.agent.url, api_key=KEY)
        idx = pd.date_range("2020-01-06", periods=5, freq="D", tz="UTC")
        df = pd.DataFrame({"open": [10, 11, 12, 13, 14.0], "high": [11, 12, 13, 14, 15.0],
                           "low": [9, 10, 11, 12, 13.0], "close": [10.5, 11.5, 12.5, 13.5, 14.5],
                           "volume": [100, 200, 300, 400, 500]}, index=idx)
        df.loc[idx[2], "low"] = 99.0  # low above high: the agent rejects this row
        ans = md.ingest_bars(df, symbol="PYCL", batch=2)  # three requests; indexes stay the caller's
        self.assertEqual((ans["accepted"], ans["rejected"]), (4, 1), ans)
        self.assertEqual([e["index"] for e in ans["errors"]], [2], ans)
        got = md.history("PYCL", start="2020-01-01", end="2020-02-01")
        self.assertEqual(list(got.index), [t for t in idx if t != idx[2]])
        self.assertEqual(list(got["close"]), [10.5, 11.5, 13.5, 14.5])
        q = md.ingest_quotes([{"symbol": "PYCL", "price": 15.0, "timestamp": T0, "volume": float("nan")}])
        self.assertEqual(q["accepted"], 1, q)
        self.assertEqual(md.price("PYCL")["price"], 15.0)


class ClientStreamDeployment(unittest.IsolatedAsyncioTestCase):
    """With Redis the deployment numbers the messages, and what an agent derives itself (a
    live bar) carries the seq of the message before it: the client yields it all the same."""

    @classmethod
    def setUpClass(cls):
        cls.args = redis_deployment_args("pyclient")
        cls.agent = Agent(env={"MDAGENT_API_KEYS": KEY}, name="PyClientRedis", args=cls.args).start()

    @classmethod
    def tearDownClass(cls):
        cls.agent.stop()
        cls.agent.cleanup()

    async def test_a_live_bar_with_a_repeated_seq_is_yielded(self):
        if 60 - time.time() % 60 < 8:  # the minute must not end during the test
            await asyncio.sleep(60 - time.time() % 60 + 1)
        now = int(time.time())
        cur = now - now % 60
        md, writer = Client(self.agent.url), Client(self.agent.url, api_key=KEY)
        it = md.stream("PYLB", ("quote", "bar.1m"))
        first = asyncio.ensure_future(it.__anext__())
        await asyncio.sleep(0.5)
        # a tick in this minute, then one at the next minute's start: the live bar closes
        for t in (now, cur + 60):
            ans = await asyncio.to_thread(writer.ingest_quotes,
                                          [{"symbol": "PYLB", "price": 50.0, "timestamp": t}])
            self.assertEqual(ans["accepted"], 1, ans)
        got = [await asyncio.wait_for(first, 20)]
        got += [await asyncio.wait_for(it.__anext__(), 20) for _ in range(2)]
        self.assertEqual([m["type"] for m in got], ["quote", "quote", "bar"], got)
        self.assertEqual(got[2]["seq"], got[1]["seq"], "derived: the seq before it")
        await it.aclose()


    async def test_resumes_on_another_agent_of_the_deployment(self):
        """The client's agent goes away and it reconnects to another agent of the deployment
        (a load balancer's next server): the deployment's seq means the same there, so it
        resumes after the last one it yielded - every quote once, none replayed twice."""
        other = Agent(env={"MDAGENT_API_KEYS": KEY}, name="PyClientRedis2", args=self.args)
        proxy = None
        try:
            other.start()
            proxy = await Proxy(self.agent.port).start()
            writer = Client(self.agent.url, api_key=KEY)
            it = Client(f"http://127.0.0.1:{proxy.port}").stream("MOVE", "quote")

            async def quotes(prices, t0):
                rows = [{"symbol": "MOVE", "price": p, "timestamp": t0 + i} for i, p in enumerate(prices)]
                self.assertEqual((await asyncio.to_thread(writer.ingest_quotes, rows))["accepted"], len(rows))

            async def take(n):
                return [await asyncio.wait_for(it.__anext__(), 20) for _ in range(n)]

            first = asyncio.ensure_future(it.__anext__())
            await asyncio.sleep(0.5)
            await quotes([1, 2], T0)
            got = [await asyncio.wait_for(first, 20)] + await take(1)
            proxy.target = other.port
            await proxy.drop()  # missed live, relayed to the other agent
            await quotes([3, 4], T0 + 10)
            got += await take(2)
            await quotes([5], T0 + 20)
            got += await take(1)
            self.assertEqual([m["price"] for m in got], [1, 2, 3, 4, 5], got)
            seqs = [m["seq"] for m in got]
            self.assertEqual(seqs, sorted(set(seqs)))
            await it.aclose()
        finally:
            if proxy:
                await proxy.close()
            other.stop()
            other.cleanup()


class ClientStream(AgentTest, unittest.IsolatedAsyncioTestCase):
    env = {"MDAGENT_API_KEYS": KEY}
    args = ("--set", "stream.replay_size=4")
    load_sample = False

    async def asyncSetUp(self):
        self.proxy = await Proxy(self.agent.port).start()
        self.md = Client(f"http://127.0.0.1:{self.proxy.port}")
        self.writer = Client(self.agent.url, api_key=KEY)

    async def asyncTearDown(self):
        await self.proxy.close()

    async def quotes(self, symbol, prices, t0, writer=None):
        rows = [{"symbol": symbol, "price": p, "timestamp": t0 + i} for i, p in enumerate(prices)]
        ans = await asyncio.to_thread((writer or self.writer).ingest_quotes, rows)
        self.assertEqual(ans["accepted"], len(rows), ans)

    async def take(self, it, n, timeout=20):
        return [await asyncio.wait_for(it.__anext__(), timeout) for _ in range(n)]

    async def test_resumes_after_a_dropped_connection(self):
        it = self.md.stream("DROP", "quote")
        first = asyncio.ensure_future(it.__anext__())
        await asyncio.sleep(0.5)  # subscribed by now; the quotes below are live
        await self.quotes("DROP", [1, 2], T0)
        got = [await asyncio.wait_for(first, 20)] + await self.take(it, 1)
        await self.proxy.drop()  # the iterator is suspended: everything below is missed live
        await self.quotes("DROP", [3, 4, 5], T0 + 10)
        got += await self.take(it, 3)  # reconnected with since_seq: replayed
        await self.quotes("DROP", [6], T0 + 20)
        got += await self.take(it, 1)
        self.assertEqual([m["price"] for m in got], [1, 2, 3, 4, 5, 6])
        self.assertEqual({m["type"] for m in got}, {"quote"})
        seqs = [m["seq"] for m in got]
        self.assertEqual(seqs, sorted(set(seqs)))
        await it.aclose()

    async def test_a_gap_longer_than_the_replay_is_announced(self):
        it = self.md.stream(["GAP"], ["quote"])
        first = asyncio.ensure_future(it.__anext__())
        await asyncio.sleep(0.5)
        await self.quotes("GAP", [1], T0)
        last = (await asyncio.wait_for(first, 20))["seq"]
        await self.proxy.drop()
        await self.quotes("GAP", [2, 3, 4, 5, 6, 7], T0 + 10)  # the agent holds 4 messages
        got = await self.take(it, 5)
        self.assertEqual(got[0], {"type": "gap", "since_seq": last})
        self.assertEqual([m["price"] for m in got[1:]], [4, 5, 6, 7])
        await it.aclose()

    async def test_an_error_raises_stream_error(self):
        it = self.md.stream(["OK"], ["quote.nope"])
        with self.assertRaises(mdagent.StreamError) as e:
            await asyncio.wait_for(it.__anext__(), 20)
        self.assertEqual(e.exception.code, "invalid_channel")
        with self.assertRaises(mdagent.StreamError) as e:
            await Client("http://127.0.0.1:9").stream("X", reconnect=False).__anext__()
        self.assertEqual(e.exception.code, "unreachable")

    async def test_follows_a_restarted_agent(self):
        agent = Agent(env={"MDAGENT_API_KEYS": KEY}, name="restart")
        try:
            agent.start()
            self.proxy.target = agent.port
            writer = Client(agent.url, api_key=KEY)
            it = self.md.stream("RST", "quote")
            first = asyncio.ensure_future(it.__anext__())
            await asyncio.sleep(0.5)
            await self.quotes("RST", [1, 2, 3], T0, writer)
            got = [await asyncio.wait_for(first, 20)] + await self.take(it, 2)
            await asyncio.to_thread(agent.stop)
            await asyncio.to_thread(agent.start)  # another instance: seq starts again
            self.proxy.target = agent.port
            writer = Client(agent.url, api_key=KEY)
            await self.quotes("RST", [4], T0 + 10, writer)  # before the client is back
            got += await self.take(it, 1, timeout=30)
            await self.quotes("RST", [5], T0 + 20, writer)
            got += await self.take(it, 1)
            self.assertEqual([m["price"] for m in got], [1, 2, 3, 4, 5])
            self.assertLess(got[3]["seq"], got[2]["seq"])  # the new instance's numbers
            await it.aclose()
        finally:
            agent.cleanup()


class ClientPackage(unittest.TestCase):
    def test_pip_installs_it(self):
        tmp = tempfile.mkdtemp(prefix="md-pyclient-")
        try:
            src = shutil.copytree(os.path.join(SRC, "clients", "python"), os.path.join(tmp, "src"))
            target = os.path.join(tmp, "site")
            p = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-build-isolation",
                                "--no-deps", "--no-index", "--target", target, src],
                               capture_output=True, text=True, timeout=300)
            self.assertEqual(p.returncode, 0, p.stderr)
            p = subprocess.run([sys.executable, "-c", "import mdagent, sys; print(mdagent.__file__, mdagent.Client)"],
                               capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=target), cwd=tmp)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertTrue(p.stdout.startswith(target), p.stdout)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
