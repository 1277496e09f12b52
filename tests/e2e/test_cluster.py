"""End to end: the one-machine cluster of scripts/cluster.sh (three agents behind HAProxy,
PostgreSQL primary + streaming replica, Redis) keeps answering under steady REST load when
an agent dies (kill -9) or is stopped (SIGTERM, it drains): clients count zero failed
requests, and every bar whose POST /ingest/bars was acknowledged is in the store afterwards.
Meanwhile 1,000 WebSocket clients (streamchaos.py, several processes) stream one symbol's
quotes through HAProxy; those whose agent dies or drains reconnect through HAProxy and resume
with since_seq on another agent: every client gets every tick exactly once, in order.

The clients are plain HTTP/1.1 clients (http.client, keep-alive) that never retry: every
retry is HAProxy's (L7 retries on another agent, see scripts/cluster.sh)."""
import datetime
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

from mdtest import BIN, SRC, TMP, Agent, clean_env, pg_tool

CLUSTER = os.path.join(SRC, "scripts", "cluster.sh")
THREADS = 4
STREAM_PROCS, STREAM_CLIENTS = 4, 250  # 1,000 stream clients
STREAM_SYMBOL = "CLUSTR"


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


class Feeder:
    """Posts one quote of STREAM_SYMBOL at a time to one agent (agent3, never stopped: a
    tick whose agent dies between its commit and its trip through Redis is stored but not
    streamed, docs/API.md), tick k at price 100 + k / 100, until stopped; then tick 0, the
    clients' end mark."""

    def __init__(self, port, key):
        self.port, self.key = port, key
        self.stop = threading.Event()
        self.sent = 0
        self.errors = []
        self.thread = threading.Thread(target=self.run, daemon=True)

    def post(self, conn, k, ts):
        q = {"symbol": STREAM_SYMBOL, "price": round(100 + k / 100, 2), "timestamp": ts}
        conn.request("POST", "/ingest/quotes", body=json.dumps({"quotes": [q]}),
                     headers={"X-API-Key": self.key, "Content-Type": "application/json"})
        r = conn.getresponse()
        data = r.read()
        if r.status != 200 or json.loads(data).get("accepted") != 1:
            self.errors.append(f"tick {k}: {r.status} {data[:200]!r}")

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        ts = int(time.time()) - 3000
        k = 0
        while not self.stop.is_set() and k < 2000:
            k += 1
            self.post(conn, k, ts + k)
            self.sent = k
            time.sleep(0.1)
        self.post(conn, 0, ts + k + 1)
        conn.close()


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

    def check_stream(self, feeder, outs):
        """Every stream client got ticks 1..n then the end mark, each once, in order."""
        self.assertEqual(feeder.errors, [])
        want = list(range(1, feeder.sent + 1)) + [0]
        clients = []
        for path in outs:
            with open(path) as f:
                clients += json.load(f)
        self.assertEqual(len(clients), STREAM_PROCS * STREAM_CLIENTS)
        bad = [c for c in clients if c["ticks"] != want]
        for c in bad[:3]:
            got = c["ticks"]
            dups = sorted({k for k in got if got.count(k) > 1})
            gaps = sorted(set(want) - set(got))
            print(f"stream client: {len(got)} ticks, duplicates {dups[:10]}, missing {gaps[:10]}, "
                  f"reconnects {c['reconnects']}, errors {c['errors'][:3]}", flush=True)
        reconnects = sum(c["reconnects"] for c in clients)
        print(f"cluster stream: {len(clients)} clients, {feeder.sent} ticks each, "
              f"{reconnects} reconnects, {len(bad)} with a gap or a duplicate", flush=True)
        self.assertEqual(len(bad), 0, "every client: every tick exactly once, in order")
        self.assertEqual(sum(c["incomplete"] for c in clients), 0, "every resume was complete")
        # agent1 (killed) and agent2 (drained) had about two thirds of the clients
        self.assertGreaterEqual(reconnects, len(clients) // 2, "clients moved to another agent")

    def test_kill_and_drain_under_load(self):
        for n in (1, 2, 3):
            self.assertEqual(self.lb_state(n), "UP")
        # one deployment: the three agents' stream relays listen on one namespaced channel
        self.assertEqual(self.cl["MDCLUSTER_NAMESPACE"], "mdcluster")
        want = {"mdagent:stream@mdcluster": 3}
        self.wait(lambda: self.relay_subscribers() == want, 20, f"stream relays {want}")
        # the stream clients, all subscribed before the first tick
        ws_url = self.cl["MDCLUSTER_FRONT_URL"].replace("http://", "ws://") + "/stream"
        procs, outs = [], []
        for i in range(STREAM_PROCS):
            outs.append(os.path.join(self.dir, f"stream{i}.json"))
            procs.append(subprocess.Popen(
                [sys.executable, os.path.join(os.path.dirname(__file__), "streamchaos.py"), ws_url,
                 STREAM_SYMBOL, str(STREAM_CLIENTS), outs[-1]], stdout=subprocess.PIPE, text=True))
        for p in procs:
            self.assertEqual(p.stdout.readline().strip(), "ready", "stream clients subscribed")
        with open(os.path.join(self.dir, "agent3", "port")) as f:
            feeder = Feeder(int(f.read()), self.key)
        feeder.thread.start()
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
            feeder.stop.set()
            feeder.thread.join(60)
            for p in procs:
                try:
                    p.wait(180)
                except subprocess.TimeoutExpired:
                    p.kill()
        print(f"\ncluster load: sent {load.sent} failed {load.failed}", flush=True)
        self.check_stream(feeder, outs)
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

        # the replica streams the same rows (replay is asynchronous: wait for it to catch up
        # with the primary as it is then: a request HAProxy resent after its client gave up
        # may still add a row after the count above)
        def count(url):
            p = subprocess.run(
                [pg_tool("psql"), "-X", "-A", "-t", "-d", url, "-c",
                 "SELECT count(*) FROM bars b JOIN symbols s ON s.id = b.symbol_id WHERE s.symbol LIKE 'CLU%'"],
                capture_output=True, text=True, timeout=60)
            return p.stdout.strip() or p.stderr.strip()
        deadline = time.time() + 60
        while (got := count(self.cl["MDCLUSTER_PG_REPLICA_URL"])) != (want := count(self.cl["MDCLUSTER_PG_URL"])):
            if time.time() > deadline:
                self.fail(f"the replica holds {got!r} rows, the primary {want!r}")
            time.sleep(0.2)
        self.check_replica_reads()
        self.check_fresh_after_write()
        self.check_redis_restart()

    def replica_apply_delay(self, ms):
        """recovery_min_apply_delay on the replica (reloaded): it replays each commit ms later."""
        with open(os.path.join(self.dir, "pg.dir")) as f:
            rdir = os.path.join(f.read().strip(), "replica")
        with open(os.path.join(rdir, "postgresql.conf"), "a") as f:
            f.write(f"\nrecovery_min_apply_delay = '{ms}ms'\n")
        with open(os.path.join(rdir, "postmaster.pid")) as f:
            os.kill(int(f.readline()), signal.SIGHUP)

    def check_fresh_after_write(self):
        """With reads on a replica that replays each commit 300 ms late (within
        postgresql.read_max_lag_ms), the /historical answers clients read hold a write at
        once: their write-through reads the primary. Rendered from the replica they would miss
        it for their whole cached life (a minute for a range reaching the present). An answer
        no cache held, asked right after the write, may be that late (the documented bound),
        but no longer: it is kept only until the bound has passed."""
        with open(os.path.join(self.dir, "agent3", "port")) as f:
            port = int(f.read())
        self.wait(lambda: self.health(port).get("reads") == "replica", 30, "reads on the replica")
        self.replica_apply_delay(300)
        self.addCleanup(self.replica_apply_delay, 0)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        hdr = {"X-API-Key": self.key, "Content-Type": "application/json"}
        path = "/historical/CLUFRSH?interval=1d&start=2024-01-01&cached_only=true"

        def post(i, day):
            bar = {"symbol": "CLUFRSH", "interval": "1d", "timestamp": day.isoformat(),
                   "open": 10, "high": 12, "low": 9, "close": 11, "volume": 100 + i}
            conn.request("POST", "/ingest/bars", body=json.dumps({"bars": [bar]}), headers=hdr)
            r = conn.getresponse()
            self.assertEqual((r.status, json.loads(r.read()).get("accepted")), (200, 1))

        def days_of(p):
            conn.request("GET", p)
            r = conn.getresponse()
            doc = json.loads(r.read())
            self.assertEqual(r.status, 200, doc)
            return [b["timestamp"][:10] for b in doc["bars"]]

        days = weekdays(datetime.date(2024, 1, 2), 8)
        post(0, days[0])
        time.sleep(2)  # replayed, and past the bound
        for i in range(1, 7):
            self.assertEqual(len(days_of(path)), i)  # cached: an answer clients read
            post(i, days[i])
            got = days_of(path)
            self.assertEqual(got[-1:], [days[i].isoformat()], f"after writing {days[i]}: {got}")
        post(7, days[7])
        other = path + "&limit=500"  # no cache holds it
        days_of(other)  # may miss the write: the replica is 300 ms behind
        time.sleep(1.8)  # past read_max_lag_ms + read_check_ms
        got = days_of(other)
        self.assertEqual(got[-1:], [days[7].isoformat()], f"{got}")
        conn.close()
        h = self.health(port)
        self.assertEqual(h.get("reads"), "replica", h)
        self.replica_apply_delay(0)  # the checks after this one see a replica that keeps up

    def health(self, port):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as r:
            return json.loads(r.read())["components"]["store"]

    def metric(self, port, name):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            for line in r.read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[1])
        return None

    def stream_health(self, port):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as r:
            return json.loads(r.read())["components"]["stream"]

    def post_quote(self, price, ts):
        conn = http.client.HTTPConnection(*self.cl["MDCLUSTER_FRONT_URL"].split("//")[1].split(":"), timeout=30)
        q = {"symbol": "CLURDS", "price": price, "timestamp": ts}
        conn.request("POST", "/ingest/quotes", body=json.dumps({"quotes": [q]}),
                     headers={"X-API-Key": self.key, "Content-Type": "application/json"})
        r = conn.getresponse()
        self.assertEqual((r.status, json.loads(r.read()).get("accepted")), (200, 1))
        conn.request("GET", "/price/CLURDS")
        r = conn.getresponse()
        body = json.loads(r.read())
        conn.close()
        return r.status, body

    def check_redis_restart(self):
        """Restart Redis (it forgets everything): the stream turns degraded, then recovers;
        a price written after the restart is the one read back (no stale cache answer), and a
        stream client on the agent sees it under a seq above every one before the restart."""
        import asyncio
        import websockets
        with open(os.path.join(self.dir, "agent3", "port")) as f:
            port = int(f.read())
        now = int(time.time())
        status, body = self.post_quote(41.0, now - 5)
        self.assertEqual((status, body.get("price")), (200, 41.0), body)

        async def run():
            async with websockets.connect(f"ws://127.0.0.1:{port}/stream") as ws:
                await ws.recv()  # welcome
                await ws.send(json.dumps({"op": "subscribe", "symbols": ["CLURDS"]}))
                sub = json.loads(await ws.recv())
                before = sub["seq"]
                subprocess.run([CLUSTER, "redis", "stop", "--dir", self.dir], check=True,
                               capture_output=True, env=self.env, timeout=60)
                await asyncio.to_thread(self.wait, lambda: self.stream_health(port)["status"] == "degraded",
                                        20, "the stream to turn degraded")
                subprocess.run([CLUSTER, "redis", "start", "--dir", self.dir], check=True,
                               capture_output=True, env=self.env, timeout=60)
                await asyncio.to_thread(self.wait, lambda: self.stream_health(port)["status"] == "ok",
                                        30, "the stream to recover")
                status, body = await asyncio.to_thread(self.post_quote, 42.5, now)
                self.assertEqual((status, body.get("price")), (200, 42.5), f"read after the restart: {body}")
                while True:
                    m = json.loads(await asyncio.wait_for(ws.recv(), 20))
                    if m["type"] == "quote":
                        break
                self.assertEqual(m["price"], 42.5)
                self.assertGreater(m["seq"], before, "numbers go on above the ones before the restart")
                return before, m["seq"]

        before, after = asyncio.run(run())
        print(f"cluster redis restart: degraded then ok; seq {before} -> {after}; price read back", flush=True)

    def check_replica_reads(self):
        """Stop the replica: reads move to the primary, no request fails; start it: they
        move back. Seen by agent3 (the one left) in /health and /metrics, and by an agent
        started while the replica was down."""
        with open(os.path.join(self.dir, "agent3", "port")) as f:
            port = int(f.read())
        self.wait(lambda: self.health(port).get("reads") == "replica", 30, "reads on the replica")
        self.assertEqual(self.metric(port, "mdagent_store_read_replica"), 1)
        before = self.health(port)["replica"]["reads"]
        load = Load(self.cl["MDCLUSTER_FRONT_URL"], self.key)
        load.phase = "replica"
        load.start()
        try:
            time.sleep(1)
            # an answer no cache holds (the write-through of the answers clients read goes to
            # the primary, which has the write; a miss is read from the replica)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/historical/CLU0?interval=1d"
                                        f"&limit={int(time.time()) % 1000 + 7}", timeout=10) as r:
                self.assertEqual(r.status, 200)
            self.assertGreater(self.health(port)["replica"]["reads"], before, "history read there")
            load.phase = "replica-down"
            subprocess.run([CLUSTER, "replica", "stop", "--dir", self.dir], check=True,
                           capture_output=True, env=self.env, timeout=60)
            self.wait(lambda: self.health(port).get("reads") == "primary", 20, "reads on the primary")
            self.assertEqual(self.health(port)["replica"]["status"], "down")
            self.assertEqual(self.metric(port, "mdagent_store_read_replica"), 0)
            # an agent started while the replica is down reads from the primary, and moves
            # to the replica once it can reach it
            late = Agent(db=self.cl["MDCLUSTER_PG_URL"], name="late-replica", args=(
                "--db-read", self.cl["MDCLUSTER_PG_REPLICA_URL"],
                "--set", "postgresql.read_check_ms=200"))
            self.addCleanup(late.stop)
            late.start()
            h = self.health(late.port)
            self.assertEqual((h.get("reads"), h["replica"]["status"]), ("primary", "down"), h)
            self.assertEqual(late.get("/historical/CLU0?interval=1d&limit=5").status, 200)
            time.sleep(1)
            load.phase = "replica-up"
            subprocess.run([CLUSTER, "replica", "start", "--dir", self.dir], check=True,
                           capture_output=True, env=self.env, timeout=60)
            self.wait(lambda: self.health(port).get("reads") == "replica", 30, "reads back on the replica")
            self.assertEqual(self.metric(port, "mdagent_store_read_replica"), 1)
            self.wait(lambda: self.health(late.port).get("reads") == "replica", 30,
                      "reads on the replica that was down when the agent started")
            before = self.health(late.port)["replica"]["reads"]
            # another limit: not the answer cached while the reads went to the primary
            self.assertEqual(late.get("/historical/CLU0?interval=1d&limit=4").status, 200)
            self.assertGreater(self.health(late.port)["replica"]["reads"], before)
            self.assertIsNone(late.finish())
            time.sleep(1)
        finally:
            load.join()
        print(f"cluster replica: sent {load.sent} failed {load.failed}", flush=True)
        self.assertEqual(load.failed, {}, "\n".join(load.errors))
        for phase in ("replica", "replica-down", "replica-up"):
            self.assertGreater(load.sent.get(phase, 0), 0, load.sent)


if __name__ == "__main__":
    unittest.main()
