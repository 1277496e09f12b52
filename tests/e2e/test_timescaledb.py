"""The agent on a real TimescaleDB, against the same agent on SQLite: every /historical answer
(every interval, ranges cut inside buckets, limits) and /symbols byte for byte equal; the
continuous aggregates filled after a load; /health and /metrics reporting TimescaleDB's jobs
as TimescaleDB itself does; `mdagent query` leaving the jobs alone.

Runs its own PostgreSQL with shared_preload_libraries=timescaledb (scripts/test-services.sh
start-pg with MDTEST_PG_PRELOAD); skipped where TimescaleDB is not installed (it is not
packaged in Debian 12: scripts/timescaledb-check.sh says how to build it)."""
import glob
import os
import random
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from mdtest import SRC, TMP, SAMPLE, Agent, run_cli

SERVICES = os.path.join(SRC, "scripts", "test-services.sh")
INSTALLED = bool(glob.glob("/usr/share/postgresql/*/extension/timescaledb.control"))
T0 = 1704067200  # 2024-01-01, a Monday


def write_minutes(path, symbol, days, seed):
    """Trading-hours 1m bars with fractional volumes and vwap (sums in time order matter)."""
    rnd = random.Random(seed)
    price = 100.0
    with open(path, "w") as f:
        f.write("symbol,timestamp,open,high,low,close,volume,vwap\n")
        for d in range(days):
            day = T0 + d * 86400
            if time.gmtime(day).tm_wday >= 5:
                continue
            for m in range(390):
                ts = day + 14 * 3600 + 30 * 60 + m * 60
                o = price
                c = max(1.0, o + rnd.uniform(-0.5, 0.5))
                h = max(o, c) + rnd.uniform(0, 0.3)
                lo = min(o, c) - rnd.uniform(0, 0.3)
                v = round(rnd.uniform(1, 5000) / 3, 6)
                vwap = round((o + c) / 2 + rnd.uniform(-0.1, 0.1), 6)
                f.write(f"{symbol},{ts},{o:.4f},{h:.4f},{lo:.4f},{c:.4f},{v},{vwap}\n")
                price = c


@unittest.skipUnless(INSTALLED, "timescaledb is not installed on this machine")
class TimescaleDB(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(TMP, exist_ok=True)
        cls.state = tempfile.mkdtemp(prefix="md-tsdb-", dir=TMP)
        env = dict(os.environ, MDTEST_PG_PRELOAD="timescaledb")
        subprocess.run([SERVICES, "start-pg", cls.state], check=True, capture_output=True,
                       timeout=120, env=env)
        with open(os.path.join(cls.state, "env")) as f:
            senv = dict(line.strip().split("=", 1) for line in f if "=" in line)
        cls.base = senv["MDTEST_PG_URL"]
        cls.psql_bin = os.path.join(senv["MDTEST_PG_BIN"], "psql")
        cls.sql(cls.base, "CREATE DATABASE tsdb")
        cls.url = cls.base.rsplit("/", 1)[0] + "/tsdb"
        cls.data = os.path.join(cls.state, "minutes.csv")
        write_minutes(cls.data, "MINA", 45, 1)
        with open(cls.data, "a") as f:
            tmp = os.path.join(cls.state, "b.csv")
            write_minutes(tmp, "MINB", 20, 2)
            with open(tmp) as g:
                f.writelines(g.readlines()[1:])
        env = {"MDAGENT_CACHE": "false"}
        cls.ts = Agent(db=cls.url, env=env, name="tsdb")
        cls.lite = Agent(env=env, name="tsdb-sqlite")
        for a in (cls.ts, cls.lite):
            a.load(SAMPLE)
            a.load(cls.data)
        cls.ts.start()
        cls.lite.start()

    @classmethod
    def tearDownClass(cls):
        for a in (cls.ts, cls.lite):
            a.cleanup()
        subprocess.run([SERVICES, "stop", cls.state], capture_output=True, timeout=60)
        shutil.rmtree(cls.state, ignore_errors=True)

    @classmethod
    def sql(cls, url, q):
        p = subprocess.run([cls.psql_bin, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                            "-d", url, "-c", q], capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise AssertionError(f"psql {q!r}: {p.stderr}")
        return p.stdout.strip()

    def test_the_store_is_a_hypertable_with_its_aggregates_filled_by_the_load(self):
        self.assertEqual(self.sql(self.url, "SELECT value FROM meta WHERE key = 'layout'"),
                         "hypertable")
        for view in ("bars_1h", "bars_1d", "bars_1mo"):
            n = int(self.sql(self.url, f"SELECT count(*) FROM {view}"))
            self.assertGreater(n, 0, f"{view} is empty after the load")

    def test_historical_answers_equal_sqlite_byte_for_byte(self):
        paths = []
        for sym in ("MINA", "MINB", "MSFT", "DAX"):
            for iv in ("1m", "5m", "15m", "30m", "1h", "4h", "1d", "1w", "1mo"):
                paths.append(f"/historical/{sym}?interval={iv}&start=1990-01-01&end=2030-01-01")
                paths.append(f"/historical/{sym}?interval={iv}&start=2024-01-03T15:07:00Z"
                             f"&end=2024-02-06T17:31:00Z")
                paths.append(f"/historical/{sym}?interval={iv}&start=2001-01-17&end=2024-01-29T12:00:00Z"
                             f"&limit=7&format=csv")
        paths.append("/symbols")
        compared = 0
        for p in paths:
            a, b = self.ts.get(p), self.lite.get(p)
            self.assertEqual(a.status, b.status, p)
            # a truncated page names its next page by an absolute URL with the agent's own
            # Host: the two agents listen on different ports
            self.assertEqual(re.sub(r"http://127\.0\.0\.1:\d+/", "/", a.body),
                             re.sub(r"http://127\.0\.0\.1:\d+/", "/", b.body),
                             f"{p}: TimescaleDB and SQLite differ")
            compared += a.status == 200
        self.assertGreater(compared, 100)

    def jobs_from_timescaledb(self):
        rows = self.sql(self.url, "SELECT j.job_id || ' ' || coalesce(s.total_failures, 0) || ' '"
                                  " || (coalesce(s.last_run_status, '') = 'Failed')"
                                  " FROM timescaledb_information.jobs j LEFT JOIN"
                                  " timescaledb_information.job_stats s USING (job_id)"
                                  " WHERE j.job_id >= 1000 ORDER BY 1")
        return sorted(rows.split("\n")) if rows else []

    def test_health_and_metrics_report_the_jobs_as_timescaledb_does(self):
        for _ in range(50):  # the policies' first runs start with the agent
            if "None" not in self.sql(self.url, "SELECT string_agg(coalesce(last_run_status,"
                                                " 'None'), ',') FROM timescaledb_information.job_stats"
                                                " WHERE job_id >= 1000"):
                break
            time.sleep(0.2)
        for _ in range(3):
            want = self.jobs_from_timescaledb()
            h = self.ts.get("/health").json()
            jobs = h["components"]["store"].get("jobs", [])
            got = sorted(f"{j['id']} {j['failures']} {'true' if j['status'] == 'failed' else 'false'}"
                         for j in jobs)
            if got == want:
                break
        self.assertEqual(got, want, h)
        names = {j["name"] for j in jobs}
        self.assertIn("compression", names)
        self.assertIn("refresh_bars_1d", names)
        failing = any(j["status"] == "failed" for j in jobs)
        self.assertEqual(h["status"], "degraded" if failing else "ok", h)
        # /cluster reads this agent's health the same way (it left the jobs out)
        cl = self.ts.get("/cluster").json()
        me = [a for a in cl["agents"] if a["id"] == cl["self"]]
        self.assertEqual([a["health"] for a in me], [h["status"]], cl)
        for j in jobs:
            if j["status"] == "failed":
                self.assertTrue(j["last_error"], j)
        m = self.ts.get("/metrics").body
        for j in jobs:
            line = f'mdagent_store_job_last_run_failed{{job="{j["name"]}"}} {1 if j["status"] == "failed" else 0}'
            self.assertIn(line, m)

    def test_query_leaves_the_jobs_alone(self):
        before = self.sql(self.url, "SELECT string_agg(job_id || config::text, ',' ORDER BY job_id)"
                                    " FROM timescaledb_information.jobs WHERE job_id >= 1000")
        run_cli("query", "MINA", "--interval", "1d", "--db", self.url,
                "--set", "postgresql.compress_after_days=3")
        run_cli("load", SAMPLE + "/MSFT.csv", "--db", self.url, "--quiet", "--restart")
        after = self.sql(self.url, "SELECT string_agg(job_id || config::text, ',' ORDER BY job_id)"
                                   " FROM timescaledb_information.jobs WHERE job_id >= 1000")
        self.assertEqual(before, after)


if __name__ == "__main__":
    unittest.main()
