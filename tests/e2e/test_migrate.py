"""End to end: `mdagent migrate --from URL --to URL` between sqlite and PostgreSQL.

A sqlite -> postgresql -> sqlite round trip gives back exactly the rows it started with
(checked with Python's own sqlite3, not with mdagent's verification); an interrupted
migration (--max-rows, and kill -9 in the middle of a run) resumes where it stopped; the
verification catches a row changed, deleted or added in the target; bad usage and an
unreachable server fail clearly."""
import json
import os
import re
import random
import signal
import sqlite3
import subprocess
import time
import unittest

from mdtest import BIN, SAMPLE, Agent, clean_env, drop_pg_db, fresh_pg_db, psql, run_cli

KEY = "migrate-key-31337"


def dump_sqlite(path):
    """Every bar and quote of a sqlite store, with the symbol names, as comparable tuples."""
    db = sqlite3.connect(path)
    bars = db.execute("SELECT s.symbol, b.interval, b.ts, b.open, b.high, b.low, b.close, b.volume,"
                      " b.vwap, b.trades, b.source, b.quality FROM bars b JOIN symbols s"
                      " ON s.id = b.symbol_id ORDER BY 1, 2, 3").fetchall()
    quotes = db.execute("SELECT s.symbol, q.ts, q.price, q.volume, q.bid, q.ask, q.source, q.quality"
                        " FROM quotes q JOIN symbols s ON s.id = q.symbol_id ORDER BY 1").fetchall()
    findings = db.execute("SELECT s.symbol, e.interval, e.ts, e.rule, e.severity, e.value, e.threshold,"
                          " e.source, e.other_source, e.detail FROM quality_events e JOIN symbols s"
                          " ON s.id = e.symbol_id ORDER BY 1, 2, 3, 4").fetchall()
    db.close()
    return bars, quotes, findings


class Migrate(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # the source: the sample files, bars ingested with vwap/trades, and quotes
        cls.agent = Agent(env={"MDAGENT_API_KEYS": KEY}, name="migrate-src")
        cls.agent.load(SAMPLE)
        cls.agent.start()
        auth = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
        bars = [{"symbol": "MIGR", "interval": "1m", "timestamp": 1709303400 + 60 * i,
                 "open": 10 + i / 7, "high": 12 + i / 7, "low": 9 + i / 7, "close": 11 + i / 7 + 1 / 3,
                 "volume": 100.125 * i, "vwap": 10.5 + i / 7 + 1 / 11, "trades": i} for i in range(50)]
        r = cls.agent.post("/ingest/bars", json.dumps({"bars": bars}), headers=auth)
        assert r.status == 200 and r.json()["accepted"] == 50, r
        now = int(time.time())
        quotes = [{"symbol": "MSFT", "price": 412.5, "timestamp": now - 30, "bid": 412.4, "ask": 412.6},
                  {"symbol": "QONLY", "price": 1.25, "timestamp": now - 20, "volume": 1000}]
        r = cls.agent.post("/ingest/quotes", json.dumps({"quotes": quotes}), headers=auth)
        assert r.status == 200 and r.json()["accepted"] == 2, r
        cls.agent.stop()
        cls.src = cls.agent.db

    @classmethod
    def tearDownClass(cls):
        cls.agent.cleanup()

    def setUp(self):
        self.pg = fresh_pg_db(f"{type(self).__name__}_{self._testMethodName}"[:40])

    def tearDown(self):
        drop_pg_db(self.pg)

    def migrate(self, frm, to, *extra, check=True):
        return run_cli("migrate", "--from", frm, "--to", to, "--quiet", *extra, check=check)

    def test_sqlite_to_postgresql_to_sqlite_gives_back_the_same_rows(self):
        p = self.migrate(self.src, self.pg)
        self.assertIn("OK", p.stdout)
        self.assertIn("7919 bars", p.stdout)  # 7869 sample rows + 50 ingested
        self.assertEqual(psql("SELECT count(*) FROM bars", url=self.pg), "7919")
        self.assertEqual(psql("SELECT count(*) FROM quotes", url=self.pg), "2")
        back = os.path.join(self.agent.dir, "back.db")
        p = self.migrate(self.pg, f"sqlite:{back}")
        self.assertIn("OK", p.stdout)
        want_bars, want_quotes, want_findings = dump_sqlite(self.src[len("sqlite:"):])
        got_bars, got_quotes, got_findings = dump_sqlite(back)
        self.assertEqual(len(got_bars), 7919)
        self.assertEqual(got_bars, want_bars)  # every value, bit for bit (floats compare exactly)
        self.assertEqual(got_quotes, want_quotes)
        self.assertGreater(len(want_findings), 0, "the sample data has quality findings")
        self.assertEqual(got_findings, want_findings)
        self.assertIn(f"{len(want_findings)} quality findings: row counts and checksums equal", p.stdout)
        # the agent serves the migrated store the same way
        a = Agent(db=self.pg, name="migrate-pg").start()
        try:
            r = a.get("/historical/MIGR?interval=1m&limit=100")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["count"], 50)
            self.assertEqual(r.json()["bars"][7]["vwap"], 10.5 + 7 / 7 + 1 / 11)
            self.assertEqual(a.get("/price/QONLY").json()["price"], 1.25)
        finally:
            a.cleanup()

    def test_an_interrupted_migration_resumes(self):
        # --max-rows stops at a batch boundary, like an interruption
        p = self.migrate(self.src, self.pg, "--batch-rows", "1000", "--max-rows", "2500", check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("run the same command again to resume", p.stderr)
        self.assertEqual(psql("SELECT count(*) FROM bars", url=self.pg), "3000")
        p = self.migrate(self.src, self.pg, "--batch-rows", "1000")
        self.assertIn("resumed from checkpoints", p.stdout)
        self.assertIn("copied: 4919 bars", p.stdout)
        self.assertIn("OK", p.stdout)
        self.assertEqual(psql("SELECT count(*) FROM bars", url=self.pg), "7919")

    def test_a_killed_migration_resumes_and_verifies(self):
        # a store big enough that small batches take a while: kill -9 once rows arrive
        big = os.path.join(self.agent.dir, "BIG.csv")
        rnd = random.Random(7)
        with open(big, "w") as f:
            f.write("timestamp,open,high,low,close,volume\n")
            for i in range(40000):
                p = 100 + rnd.random()
                f.write(f"{1600000020 + 60 * i},{p},{p + 1},{p - 1},{p + rnd.random() / 3},{rnd.randint(1, 999)}\n")
        src = f"sqlite:{os.path.join(self.agent.dir, 'big.db')}"
        run_cli("load", big, "--db", src, "--interval", "1m", "--quiet")
        proc = subprocess.Popen([BIN, "migrate", "--from", src, "--to", self.pg, "--batch-rows", "100",
                                 "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=clean_env())
        deadline = time.time() + 120
        copied = 0
        while time.time() < deadline and proc.poll() is None:
            out = psql("SELECT count(*) FROM bars", url=self.pg, check=False)
            copied = int(out) if out.isdigit() else 0
            if copied > 0:
                break
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        self.assertEqual(proc.returncode, -signal.SIGKILL, "the run was still going when killed")
        n = int(psql("SELECT count(*) FROM bars", url=self.pg))
        self.assertTrue(0 < n < 40000, n)
        p = self.migrate(src, self.pg, "--batch-rows", "5000")
        self.assertIn("resumed from checkpoints", p.stdout)
        self.assertIn("OK", p.stdout)
        self.assertEqual(psql("SELECT count(*) FROM bars", url=self.pg), "40000")
        self.assertEqual(psql("SELECT sum(n) FROM series", url=self.pg), "40000")

    def test_verification_catches_a_tampered_target(self):
        self.migrate(self.src, self.pg)
        psql("UPDATE bars SET close = close + 0.01 WHERE ts = '2001-01-03' AND symbol_id ="
             " (SELECT id FROM symbols WHERE symbol = 'MSFT')", url=self.pg)
        p = self.migrate(self.src, self.pg, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("verify: FAILED, 1 difference", p.stdout)
        self.assertRegex(p.stdout, r"MSFT\s+1d\s+source 249 bars checksum \w+, target 249 bars checksum \w+ \(values differ\)")
        self.assertIn("verification failed", p.stderr)
        # a deleted row, a row only in the target, a changed quote
        psql("DELETE FROM bars WHERE ts = '1995-03-01' AND symbol_id = (SELECT id FROM symbols WHERE symbol = 'DAX')", url=self.pg)
        run_cli("load", os.path.join(SAMPLE, "MSFT.csv"), "--symbol", "EXTRA", "--db", self.pg, "--quiet")
        psql("UPDATE quotes SET price = 1 WHERE symbol_id = (SELECT id FROM symbols WHERE symbol = 'QONLY')", url=self.pg)
        psql("UPDATE quality_events SET severity = severity + 1 WHERE symbol_id ="
             " (SELECT id FROM symbols WHERE symbol = 'CAC')", url=self.pg)
        p = self.migrate(self.src, self.pg, "--verify-only", check=False)
        self.assertEqual(p.returncode, 1)
        # DAX and MSFT bars, the QONLY quote, the CAC findings; EXTRA, which only the target
        # holds, is counted but is no difference (the verification covers what was copied)
        self.assertIn("4 differences", p.stdout)
        # the same number of findings, one of them changed: a difference in values, not in count
        m = re.search(r"CAC\s+1d\s+quality findings: source (\d+) checksum (\w+), target (\d+) checksum (\w+)",
                      p.stdout)
        self.assertIsNotNone(m, p.stdout)
        self.assertEqual(m.group(1), m.group(3), p.stdout)
        self.assertNotEqual(m.group(2), m.group(4), p.stdout)
        self.assertIn("the target also holds 1 other series, 0 other quotes, 1 other series of findings and 0 other", p.stdout)
        self.assertNotRegex(p.stdout, r"EXTRA\s+1d")
        self.assertRegex(p.stdout, r"DAX\s+1d\s+source 1860 bars checksum \w+, target 1859 bars")
        self.assertRegex(p.stdout, r"QONLY\s+quote: values differ")

    def test_into_a_store_that_holds_other_symbols(self):
        # the target already has its own symbols, quote and findings, and older history of a
        # symbol the source also has: the copy is verified, the rest kept, the exit status 0
        dst = os.path.join(self.agent.dir, f"other-{os.getpid()}.db")
        run_cli("load", os.path.join(SAMPLE, "MSFT.csv"), "--symbol", "OTHER", "--db", f"sqlite:{dst}", "--quiet")
        db = sqlite3.connect(dst)
        db.execute("INSERT INTO symbols(symbol, created_at) VALUES('MSFT', 0)")
        db.execute("INSERT INTO bars(symbol_id, interval, ts, open, high, low, close, volume, source)"
                   " SELECT id, b.interval, b.ts - 400 * 86400, b.open, b.high, b.low, b.close, b.volume,"
                   " b.source FROM symbols, bars b WHERE symbol = 'MSFT'"
                   " AND b.symbol_id = (SELECT id FROM symbols WHERE symbol = 'OTHER')")
        # and a corporate action of its own symbol (a split of OTHER)
        db.execute("INSERT INTO actions(symbol_id, ex_date, type, source, numerator, denominator,"
                   " recorded_at) SELECT id, 1045526400, 'split', 1, 2, 1, 0 FROM symbols"
                   " WHERE symbol = 'OTHER'")
        db.commit()
        db.close()
        before_bars, _, _ = dump_sqlite(dst)
        p = self.migrate(self.src, f"sqlite:{dst}", check=False)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertNotIn("FAILED", p.stdout)
        self.assertIn("OK", p.stdout)
        self.assertIn("the target also holds 1 other series", p.stdout)
        self.assertIn("and 1 other corporate actions and symbol references, kept as they were", p.stdout)
        want_bars, want_quotes, _ = dump_sqlite(self.src[len("sqlite:"):])
        got_bars, got_quotes, _ = dump_sqlite(dst)
        self.assertEqual(set(got_bars), set(want_bars) | set(before_bars), "copied, and nothing lost")
        self.assertEqual(got_quotes, want_quotes)
        # and checked for real: a copied bar changed afterwards is a difference
        db = sqlite3.connect(dst)
        dax = "(SELECT id FROM symbols WHERE symbol = 'DAX')"
        db.execute(f"UPDATE bars SET close = close + 1 WHERE symbol_id = {dax}"
                   f" AND ts = (SELECT max(ts) FROM bars WHERE symbol_id = {dax})")
        db.commit()
        db.close()
        p = self.migrate(self.src, f"sqlite:{dst}", "--verify-only", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("verify: FAILED, 1 difference", p.stdout)
        os.unlink(dst)

    def test_verification_catches_a_tampered_sqlite_target(self):
        self.migrate(self.src, self.pg)
        back = os.path.join(self.agent.dir, f"tamper-{os.getpid()}.db")
        self.migrate(self.pg, f"sqlite:{back}")
        db = sqlite3.connect(back)
        db.execute("UPDATE bars SET volume = volume + 1 WHERE ts = (SELECT max(ts) FROM bars)")
        db.commit()
        db.close()
        p = self.migrate(self.pg, f"sqlite:{back}", "--verify-only", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("verify: FAILED", p.stdout)
        os.unlink(back)

    def test_usage_and_unreachable_servers(self):
        self.assertEqual(run_cli("migrate", "--from", self.src, check=False).returncode, 2)
        self.assertEqual(run_cli("migrate", "--from", self.src, "--to", self.src, check=False).returncode, 2)
        self.assertEqual(run_cli("migrate", "--from", self.src, "--to", self.pg, "--max-rows", "x",
                                 check=False).returncode, 2)
        p = run_cli("migrate", "--from", self.src, "--to", "postgresql://u:Hunter2Secret@127.0.0.1:1/x",
                    check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("target", p.stderr)
        self.assertNotIn("Hunter2Secret", p.stderr + p.stdout)
        p = run_cli("migrate", "--from", "sqlite:/nonexistent/x.db", "--to", self.pg, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("source", p.stderr)


if __name__ == "__main__":
    unittest.main()
