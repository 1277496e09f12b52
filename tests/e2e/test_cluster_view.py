"""End to end: three real agents on the test Redis, in one deployment (one cache prefix, so
one namespace), see each other through GET /cluster: each announces its id, URL, state and
its own figures (request rate, stream clients, queue depth, health) with a TTL renewed by a
heartbeat. An agent stopped with SIGTERM says goodbye (gone at once); one killed with
SIGKILL stays listed until its record's TTL runs out, then disappears."""
import os
import signal
import time
import unittest

from mdtest import Agent, services
from test_backfill import wait_for
from wsclient import RawWs

HEARTBEAT_MS = 300
TTL_MS = 3000


@unittest.skipUnless(services().get("MDTEST_REDIS_URL"), "no test Redis")
class ClusterView(unittest.TestCase):
    def setUp(self):
        env = {"MDAGENT_REDIS": services()["MDTEST_REDIS_URL"],
               "MDAGENT_CACHE_PREFIX": f"e2e:{os.getpid()}:cluster:"}
        args = ["--set", f"cluster.heartbeat_ms={HEARTBEAT_MS}", "--set", f"cluster.ttl_ms={TTL_MS}"]
        self.agents = []
        try:
            for name in ("a", "b", "c"):
                ag = Agent(env=env, args=args, name=f"cluster-{name}")
                ag.start()
                self.agents.append(ag)
        except Exception:
            self.tearDown()
            raise
        self.a, self.b, self.c = self.agents

    def tearDown(self):
        problems = [p for p in (ag.finish(ok=(0, None, -9)) for ag in self.agents) if p]
        if problems:
            raise AssertionError("\n".join(problems))

    def cluster(self, ag):
        r = ag.get("/cluster")
        self.assertEqual(r.status, 200, r.body)
        return r.json()

    def by_url(self, ag):
        return {x["url"]: x for x in self.cluster(ag)["agents"]}

    def wait_for(self, pred, timeout, what):
        return wait_for(pred, what, timeout)

    def test_each_agent_lists_all_three_with_its_own_figures(self):
        urls = {ag.url for ag in self.agents}
        for ag in self.agents:
            view = self.wait_for(lambda: (lambda d: d if set(x["url"] for x in d["agents"]) == urls else None)(
                self.cluster(ag)), 5, f"{ag.url} to list all three agents")
            self.assertTrue(view["shared"], view)
            self.assertEqual(view["count"], 3, view)
            me = [x for x in view["agents"] if x["id"] == view["self"]]
            self.assertEqual([x["url"] for x in me], [ag.url], view)
            for x in view["agents"]:
                self.assertEqual(x["state"], "ready", x)
                self.assertEqual(x["health"], "ok", x)
                self.assertGreaterEqual(x["queue_depth"], 0, x)
            ids = [x["id"] for x in view["agents"]]
            self.assertEqual(ids, sorted(ids))

        # load on b only: a sees b's request count and rate move, and c's stay where it was
        before = self.by_url(self.a)
        for _ in range(60):
            self.assertEqual(self.b.get("/health/live").status, 200)
        after = self.wait_for(lambda: (lambda v: v if v[self.b.url]["requests"] >= before[self.b.url]["requests"] + 60
                                       else None)(self.by_url(self.a)), 5, "b's requests seen from a")
        self.assertGreater(after[self.b.url]["request_rate"], 0, after[self.b.url])
        # c answered only the few /cluster calls above (none): its count did not take b's 60
        self.assertLess(after[self.c.url]["requests"], before[self.c.url]["requests"] + 60, after)

        # a stream client on c shows in c's row, seen from b
        ws = RawWs(self.c.port)
        try:
            self.wait_for(lambda: self.by_url(self.b)[self.c.url]["stream_clients"] == 1, 5,
                          "c's stream client seen from b")
            self.assertEqual(self.by_url(self.b)[self.a.url]["stream_clients"], 0)
        finally:
            ws.close()
        self.wait_for(lambda: self.by_url(self.b)[self.c.url]["stream_clients"] == 0, 5,
                      "c's stream client gone, seen from b")

    def test_a_stopped_agent_leaves_at_once_a_killed_one_after_its_ttl(self):
        urls = {ag.url for ag in self.agents}
        self.wait_for(lambda: set(self.by_url(self.a)) == urls, 5, "all three listed")

        b_url = self.b.url
        self.assertEqual(self.b.stop(), 0)  # SIGTERM: drains, says goodbye
        t_stop = time.time()
        self.wait_for(lambda: b_url not in self.by_url(self.a), 1.5, "b gone after its goodbye")
        self.assertLess(time.time() - t_stop, TTL_MS / 1000 / 2, "b left by its goodbye, not its TTL")

        c_url = self.c.url
        self.c.proc.send_signal(signal.SIGKILL)
        self.c.proc.wait()
        t_kill = time.time()
        # its last record is still alive: a reader cannot tell a dead agent from a live one yet
        self.assertIn(c_url, self.by_url(self.a))
        self.wait_for(lambda: c_url not in self.by_url(self.a), TTL_MS / 1000 + 3, "c expired")
        gone_after = time.time() - t_kill
        self.assertGreater(gone_after, TTL_MS / 1000 - 2 * HEARTBEAT_MS / 1000 - 0.2, gone_after)
        self.assertEqual(set(self.by_url(self.a)), {self.a.url})
        self.assertEqual(self.cluster(self.a)["count"], 1)


if __name__ == "__main__":
    unittest.main()
