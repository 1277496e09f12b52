"""Backfill jobs end to end, against the simulator source (deterministic bars for any past
range, one 1m bar a minute around the clock): POST /backfill and GET /jobs/{id} with their
errors; a job that survives an agent restart mid-way and resumes; `mdagent fetch --start
--end` interrupted with Ctrl-C and continued by the same command."""
import datetime
import json
import os
import signal
import sqlite3
import subprocess
import time
import unittest

import mdtest
from mdtest import Agent, AgentTest, run_cli

KEY = "backfill-key-42"
AUTH = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
SIM = {"MDAGENT_SOURCES_PRIORITY": "simulator", "MDAGENT_SIMULATOR_SYMBOLS": "AAA:50,BBB:120,CCC",
       "MDAGENT_API_KEYS": KEY}


def day(offset):
    d = datetime.datetime.now(datetime.timezone.utc).date() + datetime.timedelta(days=offset)
    return d.isoformat()


def wait_for(fn, what, timeout=60):
    """Polls fn() until it returns a true value (a condition, not a timing assertion)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def epoch(date):
    return int(datetime.datetime.fromisoformat(date).replace(tzinfo=datetime.timezone.utc).timestamp())


def count_bars(db, symbol, iv, start=None, end=None):
    """Stored bars of symbol and interval, in [start, end) (dates) when given: an agent
    serving the simulator also stores its live 1m bars of the current minute."""
    lo = epoch(start) if start else -2**62
    hi = epoch(end) if end else 2**62
    con = sqlite3.connect(f"file:{db[len('sqlite:'):]}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute("SELECT count(*) FROM bars b JOIN symbols s ON s.id = b.symbol_id"
                           " WHERE s.symbol = ? AND b.interval = ? AND b.ts >= ? AND b.ts < ?",
                           (symbol, iv, lo, hi)).fetchone()[0]
    finally:
        con.close()


IV = {"1m": 0, "1h": 4, "1d": 6}


class Backfill(AgentTest):
    env = SIM
    load_sample = False

    def post(self, doc, headers=AUTH):
        data = doc if isinstance(doc, str) else json.dumps(doc)
        return self.agent.post("/backfill", data, headers=headers)

    def job(self, job_id):
        r = self.get(f"/jobs/{job_id}")
        self.assertEqual(r.status, 200, r)
        return r.json()

    def test_a_job_fetches_every_chunk_and_reports_progress(self):
        r = self.post({"symbols": ["aaa", "BBB"], "interval": "1h", "start": day(-40), "end": day(-2)})
        self.assertEqual(r.status, 202, r)
        job_id = r.json()["job_id"]
        self.assertTrue(job_id.startswith("bf-"), job_id)
        j = wait_for(lambda: (lambda x: x if x["state"] == "done" else None)(self.job(job_id)), "job done")
        self.assertEqual(j["symbols"], ["AAA", "BBB"])
        self.assertEqual(j["interval"], "1h")
        self.assertEqual(j["start"], day(-40) + "T00:00:00Z")
        self.assertEqual(j["chunks_total"], 2)  # the simulator serves 60 days of 1h bars per call
        self.assertEqual(j["chunks_done"], 2)
        self.assertEqual(j["progress"], 1)
        self.assertEqual(j["rows"], 2 * 38 * 24)
        self.assertEqual(j["errors"], 0)
        self.assertEqual(j["eta_s"], 0)
        self.assertIsNotNone(j["finished_at"])
        self.assertEqual(count_bars(self.agent.db, "AAA", IV["1h"]), 38 * 24)
        h = self.get_json(f"/historical/BBB?interval=1h&start={day(-40)}&end={day(-2)}&cached_only=true&limit=5000")
        self.assertEqual(h["count"], 38 * 24)

    def test_unknown_symbols_fail_their_chunks_and_say_why(self):
        r = self.post({"symbols": ["CCC", "NOTSIM"], "interval": "1d", "start": day(-20), "end": day(-1)})
        self.assertEqual(r.status, 202, r)
        job_id = r.json()["job_id"]
        j = wait_for(lambda: (lambda x: x if x["state"] in ("done", "failed") else None)(self.job(job_id)),
                     "job ended")
        self.assertEqual(j["state"], "done")
        self.assertEqual(j["chunks_failed"], 1)
        self.assertEqual(j["rows"], 19)
        self.assertGreaterEqual(j["errors"], 1)
        self.assertEqual(j["error_details"][0]["symbol"], "NOTSIM")
        self.assertIn("NOTSIM", j["last_error"])

    def test_bad_requests_get_documented_errors(self):
        ok = {"symbols": ["AAA"], "interval": "1d", "start": day(-5), "end": day(-1)}
        r = self.post(ok, headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r.json()["error"]["code"], "unauthorized")
        cases = [
            ("{not json", 400, "invalid_json"),
            ({**ok, "symbols": ["bad symbol!"]}, 400, "invalid_symbol"),
            ({**ok, "symbols": []}, 400, "invalid_parameter"),
            ({**ok, "symbols": "AAA,BBB"}, 400, "invalid_symbol"),
            ({**ok, "interval": "7x"}, 400, "invalid_interval"),
            ({**ok, "start": "yesterday"}, 400, "invalid_time_range"),
            ({**ok, "end": day(-10)}, 400, "invalid_time_range"),
            ({**ok, "start": day(2), "end": day(5)}, 400, "invalid_time_range"),  # the future
            ({**ok, "symbol": "BBB"}, 400, "invalid_parameter"),  # which one? not both
            ({k: v for k, v in ok.items() if k != "start"}, 400, "invalid_time_range"),
            ({**ok, "source": "nope"}, 400, "invalid_parameter"),
            ({**ok, "source": "csv"}, 400, "invalid_parameter"),  # an origin, not a provider
            # a provider that cannot be asked (not in sources.priority): as /historical?source=
            ({**ok, "source": "yahoo"}, 503, "no_healthy_source"),
            # an unknown field is named, never ignored (as an unknown query parameter)
            ({**ok, "sourcex": "simulator"}, 400, "invalid_parameter"),
        ]
        for doc, status, code in cases:
            r = self.post(doc)
            self.assertEqual(r.status, status, (doc, r))
            self.assertEqual(r.json()["error"]["code"], code, (doc, r))
        self.assertIn("sourcex", r.json()["error"]["message"])
        r = self.post({**ok, "source": "yahoo"})
        self.assertEqual(r.json(), self.get("/historical/AAA?source=yahoo").json())
        self.assert_error("/jobs/bf-0000000000000000", 404, "not_found")
        self.assertEqual(self.get("/backfill").status, 405)


class NoSources(AgentTest):
    env = {"MDAGENT_SOURCES_PRIORITY": "", "MDAGENT_API_KEYS": KEY}
    load_sample = False

    def test_backfill_without_sources_is_503(self):
        r = self.agent.post("/backfill", json.dumps({"symbols": ["AAA"], "start": day(-3)}), headers=AUTH)
        self.assertEqual(r.status, 503, r)
        self.assertEqual(r.json()["error"]["code"], "no_healthy_source")
        # a source named: the answer /historical?source= gives
        r = self.agent.post("/backfill", json.dumps({"symbols": ["AAA"], "start": day(-3), "source": "yahoo"}),
                            headers=AUTH)
        self.assertEqual(r.status, 503, r)
        self.assertIn("no sources are configured", r.json()["error"]["message"])


class Restart(unittest.TestCase):
    """An agent stopped in the middle of a job resumes it when it starts again."""

    def test_job_survives_an_agent_restart(self):
        slow = ("--set", "backfill.chunk_delay_ms=300", "--set", "backfill.workers=1")
        a = Agent(env=SIM, args=slow, name="bfrestart")
        try:
            a.start()
            r = a.post("/backfill", json.dumps({"symbols": ["AAA", "BBB"], "interval": "1m",
                                                "start": day(-31), "end": day(-1)}), headers=AUTH)
            self.assertEqual(r.status, 202, r)
            job_id = r.json()["job_id"]
            total = 2 * 5  # 30 days of 1m bars in chunks of 7 days
            seen = wait_for(lambda: (lambda j: j if j["chunks_done"] >= 2 else None)(a.get(f"/jobs/{job_id}").json()),
                            "two chunks done")
            self.assertEqual(seen["chunks_total"], total)
            self.assertLess(seen["chunks_done"], total)
            self.assertEqual(a.stop(), 0)
            a.start()
            after = a.get(f"/jobs/{job_id}").json()
            self.assertGreaterEqual(after["chunks_done"], seen["chunks_done"], "progress was kept")
            self.assertIn(after["state"], ("queued", "running", "done"))
            j = wait_for(lambda: (lambda x: x if x["state"] == "done" else None)(a.get(f"/jobs/{job_id}").json()),
                         "resumed job done")
            self.assertEqual(j["chunks_done"], total)
            self.assertEqual(j["errors"], 0)
            self.assertEqual(j["rows"], 2 * 30 * 1440)
            self.assertEqual(count_bars(a.db, "AAA", IV["1m"], day(-31), day(-1)), 30 * 1440)
            self.assertEqual(count_bars(a.db, "BBB", IV["1m"], day(-31), day(-1)), 30 * 1440)
        finally:
            rc = a.stop()
            logs = a.logs()
            a.cleanup()
        self.assertEqual(rc, 0, logs[-3000:])
        self.assertNotIn("AddressSanitizer", logs)


@unittest.skipUnless(mdtest.services().get("MDTEST_PG_URL") and mdtest.services().get("MDTEST_REDIS_URL"),
                     "needs the test PostgreSQL and Redis (run under ctest)")
class SharedAgents(unittest.TestCase):
    """Two agents on one PostgreSQL and one Redis: a job runs on one of them at a time, and
    when that agent dies the other takes the job over once its lease expires."""

    def test_one_agent_runs_a_job_and_the_other_takes_it_over(self):
        pg = mdtest.fresh_pg_db("bf_shared")
        redis = mdtest.services()["MDTEST_REDIS_URL"].rsplit("/", 1)[0] + "/8"
        env = dict(SIM, MDAGENT_REDIS=redis, MDAGENT_CACHE_PREFIX=f"e2e:{os.getpid()}:bfshared:")
        args = ("--set", "backfill.chunk_delay_ms=300", "--set", "backfill.workers=1",
                "--set", "backfill.lease_ms=1500")
        a = Agent(db=pg, env=env, args=args, name="bf-shared-a")
        b = Agent(db=pg, env=env, args=args, name="bf-shared-b")
        try:
            a.start()
            b.start()
            r = a.post("/backfill", json.dumps({"symbols": ["AAA", "BBB"], "interval": "1m",
                                                "start": day(-31), "end": day(-1)}), headers=AUTH)
            self.assertEqual(r.status, 202, r)
            job_id = r.json()["job_id"]
            total = 2 * 5
            # b sees the job's progress in the shared store, and leaves it to a
            seen = wait_for(lambda: (lambda j: j if j["chunks_done"] >= 3 else None)(b.get(f"/jobs/{job_id}").json()),
                            "three chunks done, seen from b")
            self.assertLess(seen["chunks_done"], total)
            self.assertNotIn(f"job resumed id={job_id}", b.logs(), "b ran a job a holds")
            # a dies without a word: b takes over once a's lease has expired
            a.stop(sig=signal.SIGKILL)
            j = wait_for(lambda: (lambda x: x if x["state"] == "done" else None)(b.get(f"/jobs/{job_id}").json()),
                         "job done by b")
            self.assertIn(f"job resumed id={job_id}", b.logs())
            self.assertEqual(j["chunks_done"], total)
            self.assertEqual(j["chunks_failed"], 0)
            # (the simulator's live 1m bars of the current minute are stored too: not counted)
            rows = mdtest.psql("SELECT count(*) FROM bars b JOIN symbols s ON s.id = b.symbol_id"
                               " WHERE s.symbol IN ('AAA', 'BBB') AND b.iv = 0"
                               f" AND b.ts >= '{day(-31)}T00:00:00Z' AND b.ts < '{day(-1)}T00:00:00Z'", url=pg)
            self.assertEqual(int(rows), 2 * 30 * 1440)
        finally:
            rcs = [ag.stop() for ag in (a, b)]
            logs = b.logs()
            for ag in (a, b):
                ag.cleanup()
            mdtest.drop_pg_db(pg)
        self.assertEqual(rcs[1], 0, logs[-3000:])
        self.assertNotIn("AddressSanitizer", logs)


class FetchCommand(unittest.TestCase):
    """`mdagent fetch --start --end` runs the same job code: Ctrl-C keeps the progress and
    the same command continues it."""

    def test_ctrl_c_then_the_same_command_continues(self):
        a = Agent(name="bffetch")  # for its store path; never started
        try:
            args = ["fetch", "AAA", "CCC", "--interval", "1m", "--start", day(-22), "--end", day(-1),
                    "--db", a.db, "--create", "--set", "backfill.chunk_delay_ms=250", "--set", "backfill.workers=1"]
            p = subprocess.Popen([mdtest.BIN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, env=mdtest.clean_env(SIM))
            path = a.db[len("sqlite:"):]

            def progressed():
                if p.poll() is not None:
                    return True
                try:
                    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
                    try:
                        row = con.execute("SELECT value FROM meta WHERE key LIKE 'backfill/job/fetch-%'").fetchone()
                    finally:
                        con.close()
                except sqlite3.Error:
                    return None
                return row and json.loads(row[0])["chunks_done"] >= 2

            wait_for(progressed, "the fetch job's first chunks")
            self.assertIsNone(p.poll(), "the fetch ended before it could be interrupted")
            p.send_signal(signal.SIGINT)
            out, err = p.communicate(timeout=60)
            self.assertEqual(p.returncode, 1, err)
            self.assertIn("interrupted: run the same command again to continue", err)
            q = run_cli(*args[:-4], env=SIM)  # the same command, without the slowdown
            self.assertIn("continuing job fetch-", q.stderr)
            self.assertIn(f"AAA 1m {day(-22)}T00:00:00Z..{day(-1)}T00:00:00Z: {21 * 1440} bars from simulator, "
                          f"{21 * 1440} stored, 0 rejected", q.stdout)
            self.assertIn(f"CCC 1m {day(-22)}T00:00:00Z..", q.stdout)
            self.assertEqual(count_bars(a.db, "AAA", IV["1m"]), 21 * 1440)
            self.assertEqual(count_bars(a.db, "CCC", IV["1m"]), 21 * 1440)
        finally:
            a.cleanup()


if __name__ == "__main__":
    unittest.main()
