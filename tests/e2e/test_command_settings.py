"""End to end: every command builds its store and writer the same way (query/services.h), so
the store.*, postgresql.* and quality.* settings mean the same to `serve`, `load`, `query`,
`fetch` and `migrate` (once `mdagent fetch` opened its store with the built-in defaults and
judged with the default quality parameters, whatever the configuration said).

One test per command, each checking what the command can show of each group:
- quality.*: quality.jump_sigma=3 flags the 2% jump in JUMPY (tests/fixtures/providers/
  yahoo/chart_JUMPY_1d.json: 40 daily bars moving +0.5%/-0.4%, one +2% on 2024-02-13),
  which the default (6) lets pass; the scores `fetch` and `load` store equal bar for bar the
  scores `serve` stores for the same bars posted to /ingest/bars with the same setting.
- store.busy_timeout_ms: with the SQLite store locked by another writer, the command gives
  up after 300 ms instead of the default 5 s.
- postgresql.*: with postgresql.timescaledb=off and postgresql.partition_span=day, the
  store the command creates on the fixture's PostgreSQL has one partition per day (the
  default is a month); postgresql.connect_timeout_s=2 bounds the wait for a server that
  accepts the connection and never answers (the default is 5 s).
`query` opens its store read-only: it creates no SQLite file and no schema."""
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
import unittest

from mdtest import (BIN, SAMPLE, Agent, _tmpdir, clean_env, drop_pg_db, fresh_pg_db, psql,
                    run_cli)
from test_sources_failover import FakeProvider

KEY = "settings-key-4711"
JUMP_DAY = 1707782400  # 2024-02-13, the +2% bar
RANGE = ("--interval", "1d", "--start", "2024-01-01", "--end", "2024-03-01")
JUMPY3 = ("--set", "quality.jump_sigma=3")
PG_DAY = ("--set", "postgresql.timescaledb=off", "--set", "postgresql.partition_span=day")
BUSY = ("--set", "store.busy_timeout_ms=300")
FAST_PG = ("--set", "postgresql.connect_timeout_s=2")


def scores(db_path):
    """{ts: quality} of JUMPY's daily bars in a SQLite store."""
    con = sqlite3.connect(db_path)
    try:
        return dict(con.execute("SELECT b.ts, b.quality FROM bars b JOIN symbols s ON s.id ="
                                " b.symbol_id WHERE s.symbol = 'JUMPY' ORDER BY b.ts").fetchall())
    finally:
        con.close()


def bars_of(db_path):
    con = sqlite3.connect(db_path)
    try:
        return con.execute("SELECT b.ts, open, high, low, close, volume FROM bars b JOIN symbols s"
                           " ON s.id = b.symbol_id WHERE s.symbol = 'JUMPY' ORDER BY b.ts").fetchall()
    finally:
        con.close()


def partition_spans(url):
    """Widths in seconds of the partitions of bars, one per partition."""
    rows = psql("SELECT extract(epoch FROM (m[2]::timestamptz - m[1]::timestamptz))::int8 FROM"
                " (SELECT regexp_match(pg_get_expr(c.relpartbound, c.oid),"
                " 'FROM \\(''([^'']*)''\\) TO \\(''([^'']*)''\\)') AS m FROM pg_inherits i"
                " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'bars'::regclass) s",
                url=url)
    return [int(x) for x in rows.split()]


class Locked:
    """Holds the write lock of a SQLite store (BEGIN IMMEDIATE) while the block runs."""

    def __init__(self, path):
        self.path = path

    def __enter__(self):
        self.con = sqlite3.connect(self.path, isolation_level=None)
        self.con.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, *exc):
        self.con.execute("ROLLBACK")
        self.con.close()


class SilentServer:
    """A TCP port that accepts connections (the kernel does, from the backlog) and never
    answers: a PostgreSQL client waits there until its connect timeout."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"postgresql://mdagent@127.0.0.1:{self.sock.getsockname()[1]}/none"

    def close(self):
        self.sock.close()


def timed(*args, env=None):
    t0 = time.monotonic()
    p = run_cli(*args, env=env, check=False, timeout=60)
    return p, time.monotonic() - t0


class CommandSettings(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="md-settings-", dir=_tmpdir())
        cls.fake = FakeProvider()
        cls.env = {"MDAGENT_SOURCES_PRIORITY": "yahoo",
                   "MDAGENT_YAHOO_URL": cls.fake.url("yahoo"),
                   "MDAGENT_API_KEYS": KEY}
        cls.silent = SilentServer()
        cls.pg_dbs = []
        # the reference: what `serve` stores for JUMPY's bars posted to /ingest/bars with
        # quality.jump_sigma=3 (the bars as the yahoo client reads them, fetched once)
        ref = os.path.join(cls.dir, "fetched.db")
        run_cli("fetch", "JUMPY", *RANGE, "--db", f"sqlite:{ref}", env=cls.env)
        cls.bars = bars_of(ref)
        agent = Agent(env={"MDAGENT_API_KEYS": KEY}, args=JUMPY3, name="settings-serve")
        try:
            agent.start()
            doc = {"bars": [{"symbol": "JUMPY", "interval": "1d", "timestamp": ts, "open": o,
                             "high": h, "low": l, "close": c, "volume": v}
                            for ts, o, h, l, c, v in cls.bars]}
            r = agent.post("/ingest/bars", json.dumps(doc),
                           headers={"Authorization": f"Bearer {KEY}",
                                    "Content-Type": "application/json"})
            if r.status != 200 or r.json()["accepted"] != len(cls.bars):
                raise AssertionError(f"ingest: {r}")
            agent.stop()
            cls.serve_scores = scores(agent.db.removeprefix("sqlite:"))
        finally:
            agent.cleanup()

    @classmethod
    def tearDownClass(cls):
        cls.fake.stop()
        cls.silent.close()
        for url in cls.pg_dbs:
            drop_pg_db(url)
        shutil.rmtree(cls.dir, ignore_errors=True)

    def pg(self, name):
        url = fresh_pg_db(f"{type(self).__name__}_{name}")
        self.pg_dbs.append(url)
        return url

    def path(self, name):
        return os.path.join(self.dir, name)

    def assert_serve_reference(self):
        self.assertEqual(len(self.serve_scores), 40, self.serve_scores)
        self.assertLess(self.serve_scores[JUMP_DAY], 100, "serve flags the jump at sigma 3")

    def assert_gives_up_fast(self, p, elapsed, what):
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertLess(elapsed, 4.0, f"{what}: waited {elapsed:.1f} s for the lock\n{p.stderr}")
        self.assertRegex(p.stderr, r"locked|busy", p.stderr)

    def assert_connect_timeout(self, *args):
        p, elapsed = timed(*args, "--db", self.silent.url, *FAST_PG, env=self.env)
        self.assertNotEqual(p.returncode, 0, p.stderr)
        self.assertIn("timeout expired", p.stderr)
        self.assertLess(elapsed, 4.6, f"{args[0]} waited {elapsed:.1f} s for PostgreSQL")

    def assert_daily_partitions(self, url):
        self.assertEqual(psql("SELECT value FROM meta WHERE key = 'layout'", url=url), "partitioned")
        spans = partition_spans(url)
        self.assertTrue(spans, "no partitions")
        self.assertEqual(set(spans), {86400}, spans)

    # -- the commands ----------------------------------------------------------------------

    def test_fetch(self):
        self.assert_serve_reference()
        # quality.*: the same scores as serve's ingest, and the setting is what makes them
        db = self.path("fetch3.db")
        run_cli("fetch", "JUMPY", *RANGE, *JUMPY3, "--db", f"sqlite:{db}", env=self.env)
        self.assertEqual(scores(db), self.serve_scores)
        dflt = self.path("fetch6.db")
        run_cli("fetch", "JUMPY", *RANGE, "--db", f"sqlite:{dflt}", env=self.env)
        self.assertEqual(scores(dflt)[JUMP_DAY], 100, "the default sigma lets the jump pass")
        # store.busy_timeout_ms
        with Locked(db):
            p, elapsed = timed("fetch", "JUMPY", *BUSY, "--db", f"sqlite:{db}", env=self.env)
        self.assert_gives_up_fast(p, elapsed, "fetch")
        # postgresql.*
        url = self.pg("fetch")
        p = run_cli("fetch", "JUMPY", *RANGE, *PG_DAY, "--db", url, env=self.env)
        self.assertIn("40 stored", p.stdout)
        self.assert_daily_partitions(url)
        self.assert_connect_timeout("fetch", "JUMPY")

    def test_load(self):
        self.assert_serve_reference()
        csv = self.path("JUMPY.csv")
        with open(csv, "w") as f:
            f.write("timestamp,open,high,low,close,volume\n")
            for ts, o, h, l, c, v in self.bars:
                f.write(f"{ts},{o!r},{h!r},{l!r},{c!r},{v!r}\n")
        db = self.path("load.db")
        run_cli("load", csv, "--quiet", *JUMPY3, "--db", f"sqlite:{db}")
        self.assertEqual(scores(db), self.serve_scores)
        with Locked(db):
            p, elapsed = timed("load", csv, "--quiet", "--restart", *BUSY, "--db", f"sqlite:{db}")
        self.assert_gives_up_fast(p, elapsed, "load")
        url = self.pg("load")
        run_cli("load", csv, "--quiet", *PG_DAY, "--db", url)
        self.assert_daily_partitions(url)
        self.assert_connect_timeout("load", csv, "--quiet")

    def test_query(self):
        # read-only: a missing SQLite file is an error, not a new empty store
        missing = self.path("nothing-here.db")
        p = run_cli("query", "JUMPY", "--db", f"sqlite:{missing}", check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertFalse(os.path.exists(missing))
        # ... and an empty PostgreSQL database gets no schema
        url = self.pg("query")
        p = run_cli("query", "JUMPY", "--db", url, check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("no mdagent schema", p.stderr)
        self.assertEqual(psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", url=url), "0")
        # what fetch stored with the PostgreSQL settings reads back
        run_cli("fetch", "JUMPY", *RANGE, *PG_DAY, "--db", url, env=self.env)
        p = run_cli("query", "JUMPY", "--interval", "1d", *PG_DAY, "--db", url)
        self.assertEqual(len(p.stdout.strip().splitlines()), 1 + 40, p.stdout)
        self.assert_connect_timeout("query", "JUMPY")

    def test_migrate(self):
        src = self.path("migrate-src.db")
        run_cli("fetch", "JUMPY", *RANGE, "--db", f"sqlite:{src}", env=self.env)
        url = self.pg("migrate")
        run_cli("migrate", "--from", f"sqlite:{src}", "--to", url, "--quiet", *PG_DAY)
        self.assert_daily_partitions(url)
        self.assertEqual(psql("SELECT count(*) FROM bars", url=url), "40")
        dst = self.path("migrate-dst.db")
        run_cli("migrate", "--from", f"sqlite:{src}", "--to", f"sqlite:{dst}", "--quiet")
        with Locked(dst):
            p, elapsed = timed("migrate", "--from", f"sqlite:{src}", "--to", f"sqlite:{dst}",
                               "--restart", "--quiet", *BUSY)
        self.assert_gives_up_fast(p, elapsed, "migrate")
        p, elapsed = timed("migrate", "--from", f"sqlite:{src}", "--to", self.silent.url,
                           "--quiet", *FAST_PG)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("timeout expired", p.stderr)
        self.assertLess(elapsed, 4.6, f"migrate waited {elapsed:.1f} s for PostgreSQL")

    def test_serve(self):
        self.assert_serve_reference()
        a = Agent(env={"MDAGENT_API_KEYS": KEY}, args=BUSY, name="settings-busy")
        url = self.pg("serve")
        b = Agent(db=url, env={"MDAGENT_API_KEYS": KEY}, args=PG_DAY, name="settings-pg")
        try:
            a.start()
            b.start()
            doc = json.dumps({"bars": [{"symbol": "JUMPY", "interval": "1d", "timestamp": ts,
                                        "open": o, "high": h, "low": l, "close": c, "volume": v}
                                       for ts, o, h, l, c, v in self.bars]})
            hdrs = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
            with Locked(a.db.removeprefix("sqlite:")):
                t0 = time.monotonic()
                r = a.post("/ingest/bars", doc, headers=hdrs)
                elapsed = time.monotonic() - t0
            self.assertGreaterEqual(r.status, 500, r)
            self.assertLess(elapsed, 4.0, f"the ingest waited {elapsed:.1f} s for the lock")
            self.assertEqual(b.post("/ingest/bars", doc, headers=hdrs).status, 200)
            self.assert_daily_partitions(url)
        finally:
            a.cleanup()
            b.cleanup()
        # a serve that cannot reach PostgreSQL gives up after postgresql.connect_timeout_s
        t0 = time.monotonic()
        p = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--db", self.silent.url,
                            *FAST_PG], capture_output=True, text=True, env=clean_env(),
                           timeout=60)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("timeout expired", p.stderr)
        self.assertLess(time.monotonic() - t0, 4.6)


if __name__ == "__main__":
    unittest.main()
