"""PostgreSQL restarts under a running agent: while the server is down requests fail cleanly
with 503 store_unavailable (the agent stays up and live), they work again as soon as it is
back (sessions are reset and the call retried), and every write the agent acknowledged
before, during or after the outage is in the store.

The test runs its own PostgreSQL cluster (scripts/test-services.sh start-pg), so stopping it
does not disturb tests running in parallel against the shared fixture."""
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

from mdtest import SRC, TMP, Agent, psql

KEY = "restart-key-7777"
AUTH = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
SERVICES = os.path.join(SRC, "scripts", "test-services.sh")
T0 = 1709251200  # 2024-03-01


def wait_for(cond, what, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class PgRestart(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(TMP, exist_ok=True)
        cls.state = tempfile.mkdtemp(prefix="md-pgrestart-", dir=TMP)
        subprocess.run([SERVICES, "start-pg", cls.state], check=True, capture_output=True, timeout=120)
        with open(os.path.join(cls.state, "env")) as f:
            env = dict(line.strip().split("=", 1) for line in f if "=" in line)
        cls.url = env["MDTEST_PG_URL"]
        cls.agent = Agent(db=cls.url, env={"MDAGENT_API_KEYS": KEY, "MDAGENT_CACHE": "false",
                                           "MDAGENT_STORE_POOL_SIZE": "3"}, name="pgrestart")
        cls.agent.start()

    @classmethod
    def tearDownClass(cls):
        rc = cls.agent.stop()
        logs = cls.agent.logs()
        cls.agent.cleanup()
        subprocess.run([SERVICES, "stop", cls.state], capture_output=True, timeout=60)
        shutil.rmtree(cls.state, ignore_errors=True)
        if "ERROR: AddressSanitizer" in logs or "runtime error:" in logs or rc not in (0, None):
            raise AssertionError(f"agent exit {rc} or sanitizer report:\n{logs[-4000:]}")

    def pg(self, cmd):
        subprocess.run([SERVICES, cmd, self.state], check=True, capture_output=True, timeout=120)

    def ingest(self, i):
        bar = {"symbol": "RST", "interval": "1m", "timestamp": T0 + 60 * i,
               "open": 10, "high": 11, "low": 9, "close": 10 + i / 1000, "volume": i}
        return self.agent.post("/ingest/bars", json.dumps({"bars": [bar]}), headers=AUTH)

    def test_outage_gives_503_then_recovers_without_losing_acknowledged_writes(self):
        acked, refused, other = [], [], []
        lock = threading.Lock()
        done = threading.Event()

        def writer():
            i = 0
            while not done.is_set():
                r = self.ingest(i)
                with lock:
                    if r.status == 200 and r.json().get("accepted") == 1:
                        acked.append(i)
                    elif r.status == 503:
                        refused.append((i, r))
                    else:
                        other.append((i, r))
                i += 1

        th = threading.Thread(target=writer)
        th.start()
        try:
            wait_for(lambda: len(acked) >= 10, "writes before the outage")
            self.pg("pg-down")
            n_before = len(acked)
            wait_for(lambda: len(refused) >= 3, "writes refused during the outage")

            # reads and the probes while the server is down
            r = self.agent.get("/historical/RST?interval=1m&start=2024-03-01&end=2024-03-02")
            self.assertEqual(r.status, 503, r)
            self.assertEqual(r.json()["error"]["code"], "store_unavailable", r)
            self.assertTrue(r.json()["error"]["message"], r)
            self.assertEqual(self.agent.get("/health/live").status, 200)
            self.assertEqual(self.agent.get("/health/ready").status, 503)
            h = self.agent.get("/health")
            self.assertEqual(h.status, 503, h)
            self.assertEqual(h.json()["components"]["store"]["status"], "down", h)
            for _, resp in refused[:3]:
                self.assertEqual(resp.json()["error"]["code"], "store_unavailable", resp)

            self.pg("pg-up")
            # the first calls after the restart succeed: dead sessions are reset and retried
            r = self.agent.get("/historical/RST?interval=1m&start=2024-03-01&end=2024-03-02")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(self.agent.get("/health/ready").status, 200)
            wait_for(lambda: len(acked) >= n_before + 10, "writes after the outage")
        finally:
            done.set()
            th.join(60)
        self.assertEqual(other, [], "every write was either acknowledged or refused with 503")

        # every acknowledged write is there, nothing else
        r = self.agent.get("/historical/RST?interval=1m&limit=1000000")
        self.assertEqual(r.status, 200, r)
        stored = {b["timestamp"] for b in r.json()["bars"]}
        want = {time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(T0 + 60 * i)) for i in acked}
        self.assertEqual(want - stored, set(), "acknowledged writes missing after the restart")
        self.assertEqual(int(psql("SELECT count(*) FROM bars", url=self.url)), len(stored))
        self.assertGreaterEqual(len(stored), len(acked))
        self.assertIn("postgresql", self.agent.logs())


if __name__ == "__main__":
    unittest.main()
