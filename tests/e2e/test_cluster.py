"""End to end: the one-machine cluster of scripts/cluster.sh (three agents behind HAProxy,
PostgreSQL primary + streaming replica, Redis) keeps answering under steady REST load when
an agent dies (kill -9) or is stopped (SIGTERM, it drains): clients count zero failed
requests, and every bar whose POST /ingest/bars was acknowledged is in the store afterwards.

The clients are plain HTTP/1.1 clients (http.client, keep-alive) that never retry: every
retry is HAProxy's (L7 retries on another agent, see scripts/cluster.sh)."""
import datetime
import http.client
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

from mdtest import BIN, SRC, TMP, clean_env, pg_tool

CLUSTER = os.path.join(SRC, "scripts", "cluster.sh")
THREADS = 4


def read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            if "=" in line:
                k, v = line.strip().split("=", 1)
                env[k] = v
    return env


def weekdays(start, n):
    """n consecutive weekdays from start (daily bars on trading days only)."""
    d, out = start, []
    while len(out) < n:
        if d.weekday() < 5:
            out.append(d)
        d += datetime.timedelta(days=1)
    return out


class Load:
    """THREADS client threads, each on its own symbol: POST one new daily bar, then GET the
    symbol's history, in a loop. Counts requests sent and failed (transport error or a status
    other than 200) per phase, and keeps the timestamps of acknowledged bars."""

    def __init__(self, front, key):
        self.host, self.port = front.split("//", 1)[1].split(":")
        self.key = key
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.phase = "warmup"
        self.sent = {}
        self.failed = {}
        self.errors = []
        self.acked = {t: [] for t in range(THREADS)}
        self.days = weekdays(datetime.date(1990, 1, 1), 20000)
        self.threads = [threading.Thread(target=self.run, args=(t,), daemon=True) for t in range(THREADS)]

    def count(self, ok, what):
        with self.lock:
            self.sent[self.phase] = self.sent.get(self.phase, 0) + 1
            if not ok:
                self.failed[self.phase] = self.failed.get(self.phase, 0) + 1
                if len(self.errors) < 20:
                    self.errors.append(f"{self.phase}: {what}")

    def request(self, conn, method, path, body=None):
        headers = {"X-API-Key": self.key, "Content-Type": "application/json"} if body else {}
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        if r.getheader("connection", "").lower() == "close":
            conn.close()
        return r.status, data

    def run(self, t):
        sym = f"CLU{t}"
        conn = http.client.HTTPConnection(self.host, int(self.port), timeout=30)
        i = 0
        while not self.stop.is_set() and i < len(self.days):
            day = self.days[i]
            i += 1
            bar = {"symbol": sym, "interval": "1d", "timestamp": day.isoformat(), "open": 10 + i % 7,
                   "high": 20 + i % 7, "low": 5, "close": 15, "volume": 1000 + i}
            try:
                status, data = self.request(conn, "POST", "/ingest/bars", json.dumps({"bars": [bar]}))
                ok = status == 200 and json.loads(data).get("accepted") == 1
                if ok:
                    self.acked[t].append(day.isoformat())
                self.count(ok, f"POST {status} {data[:200]!r}")
                status, data = self.request(conn, "GET", f"/historical/{sym}?interval=1d&limit=5")
                self.count(status == 200 and b'"bars"' in data, f"GET {status} {data[:200]!r}")
            except (OSError, http.client.HTTPException) as e:
                self.count(False, f"{type(e).__name__}: {e}")
                conn.close()
                conn = http.client.HTTPConnection(self.host, int(self.port), timeout=30)
        conn.close()

    def start(self):
        for th in self.threads:
            th.start()

    def join(self):
        self.stop.set()
        for th in self.threads:
            th.join(60)


class ClusterChaos(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(TMP, exist_ok=True)
        cls.dir = tempfile.mkdtemp(prefix="md-cluster-", dir=TMP)
        cls.env = clean_env()
        p = subprocess.run([CLUSTER, "up", "--dir", cls.dir, "--bin", os.path.abspath(BIN)],
                           capture_output=True, text=True, env=cls.env, timeout=180)
        if p.returncode != 0:
            cls.down()
            raise AssertionError(f"cluster.sh up exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
        cls.cl = read_env(os.path.join(cls.dir, "env"))
        with open(os.path.join(cls.dir, "api_key")) as f:
            cls.key = f.read().strip()

    @classmethod
    def down(cls):
        subprocess.run([CLUSTER, "down", "--dir", cls.dir], capture_output=True, env=cls.env, timeout=120)

    @classmethod
    def tearDownClass(cls):
        cls.down()
        reports = []
        for i in range(1, 4):
            try:
                with open(os.path.join(cls.dir, f"agent{i}", "log")) as f:
                    log = f.read()
            except OSError:
                continue
            if "ERROR: AddressSanitizer" in log or "runtime error:" in log:
                reports.append(f"agent{i}:\n{log[-4000:]}")
        if not reports:
            shutil.rmtree(cls.dir, ignore_errors=True)
        else:
            raise AssertionError("sanitizer report:\n" + "\n".join(reports))

    def pid(self, n):
        with open(os.path.join(self.dir, f"agent{n}", "pid")) as f:
            return int(f.read())

    def lb_state(self, n):
        """The agent's state in HAProxy's stats (UP, DOWN, ...)."""
        import urllib.request
        with urllib.request.urlopen(self.cl["MDCLUSTER_STATS_URL"] + ";csv", timeout=5) as r:
            for line in r.read().decode().splitlines():
                f = line.split(",")
                if f[0] == "agents" and f[1] == f"agent{n}":
                    return f[17]
        return None

    def wait(self, cond, timeout, what):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if cond():
                return
            time.sleep(0.1)
        self.fail(f"timed out waiting for {what}")

    def gone(self, pid):
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().split()[2] == "Z"
        except OSError:
            return True

    def relay_subscribers(self):
        """{stream channel: subscriber count} of the stream relays on the cluster's Redis."""
        url = self.cl["MDCLUSTER_REDIS_URL"]
        chans = subprocess.run(["redis-cli", "-u", url, "PUBSUB", "CHANNELS", "mdagent:stream@*"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.split()
        if not chans:
            return {}
        out = subprocess.run(["redis-cli", "-u", url, "PUBSUB", "NUMSUB", *chans],
                             capture_output=True, text=True, timeout=10, check=True).stdout.split()
        return {out[i]: int(out[i + 1]) for i in range(0, len(out), 2)}

    def test_kill_and_drain_under_load(self):
        for n in (1, 2, 3):
            self.assertEqual(self.lb_state(n), "UP")
        # one deployment: the three agents' stream relays listen on one namespaced channel
        self.assertEqual(self.cl["MDCLUSTER_NAMESPACE"], "mdcluster")
        want = {"mdagent:stream@mdcluster": 3}
        self.wait(lambda: self.relay_subscribers() == want, 20, f"stream relays {want}")
        load = Load(self.cl["MDCLUSTER_FRONT_URL"], self.key)
        load.start()
        try:
            time.sleep(3)
            # kill -9: connections to agent1 break mid-request; HAProxy resends them elsewhere
            load.phase = "kill"
            pid1 = self.pid(1)
            os.kill(pid1, signal.SIGKILL)
            self.wait(lambda: self.lb_state(1) == "DOWN", 20, "HAProxy to mark agent1 DOWN")
            time.sleep(3)
            # SIGTERM: agent2's /health/ready answers 503 at once while it still serves what
            # reaches it (in flight or new) during the grace; HAProxy takes it out, retrying
            # elsewhere whatever finds its connection closed, then it exits
            load.phase = "drain"
            pid2 = self.pid(2)
            os.kill(pid2, signal.SIGTERM)
            self.wait(lambda: self.lb_state(2) == "DOWN", 20, "HAProxy to mark agent2 DOWN")
            self.wait(lambda: self.gone(pid2), 30, "agent2 to exit after SIGTERM")
            time.sleep(3)
            load.phase = "after"
            time.sleep(2)
        finally:
            load.join()
        print(f"\ncluster load: sent {load.sent} failed {load.failed}", flush=True)
        self.assertEqual(load.failed, {}, "\n".join(load.errors))
        # each phase carried real traffic (ASan build on a loaded machine: a low bar)
        for phase in ("warmup", "kill", "drain", "after"):
            self.assertGreaterEqual(load.sent.get(phase, 0), 8, load.sent)
        self.assertEqual(self.lb_state(3), "UP")

        # every acknowledged bar is in the store (the primary), and nothing else of ours is
        acked = sum(len(v) for v in load.acked.values())
        self.assertGreater(acked, 0)
        rows = subprocess.run(
            [pg_tool("psql"), "-X", "-A", "-t", "-d", self.cl["MDCLUSTER_PG_URL"], "-c",
             "SELECT s.symbol, b.ts::date FROM bars b JOIN symbols s ON s.id = b.symbol_id "
             "WHERE s.symbol LIKE 'CLU%'"], capture_output=True, text=True, timeout=60, check=True).stdout
        stored = {}
        for line in rows.split():
            sym, day = line.split("|")
            stored.setdefault(sym, set()).add(day)
        for t, days in load.acked.items():
            have = stored.get(f"CLU{t}", set())
            missing = set(days) - have
            self.assertEqual(missing, set(), f"CLU{t}: acknowledged bars missing from the store")
        print(f"cluster store: {acked} acknowledged bars, all stored "
              f"({sum(len(v) for v in stored.values())} rows)", flush=True)

        # the replica streams the same rows (replay is asynchronous: wait for it to catch up)
        def replica_count():
            return subprocess.run(
                [pg_tool("psql"), "-X", "-A", "-t", "-d", self.cl["MDCLUSTER_PG_REPLICA_URL"], "-c",
                 "SELECT count(*) FROM bars b JOIN symbols s ON s.id = b.symbol_id WHERE s.symbol LIKE 'CLU%'"],
                capture_output=True, text=True, timeout=60).stdout.strip()
        total = str(sum(len(v) for v in stored.values()))
        self.wait(lambda: replica_count() == total, 30, f"the replica to hold {total} rows")


if __name__ == "__main__":
    unittest.main()
