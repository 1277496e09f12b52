"""Backfill jobs end to end, against the simulator source (deterministic bars for any past
range, one 1m bar a minute around the clock) and the fake provider server (Polygon, its
requests counted): POST /backfill and GET /jobs/{id} with their errors; an identical job
asked again is the open one; DELETE /jobs/{id} cancels; the failed ranges are listed; a
job that survives an agent restart mid-way and resumes; two agents on one PostgreSQL share
jobs (one runs each, the other merges and cancels); `mdagent fetch --start --end`
interrupted with Ctrl-C and continued by the same command."""
import datetime
import json
import os
import signal
import sqlite3
import subprocess
import time
import unittest

import mdtest
from mdtest import Agent, AgentTest, curl, run_cli
from test_sources_failover import FakeProvider

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


def epoch_dt(s):
    return int(datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp())


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# Polygon cuts 5m bars into chunks of 120 days. The job of the failed-ranges test starts at
# MISS0; its chunks 1, 2 and 5 (of 6) answer 500 (the fake provider's E500AT mode), none of
# the other tests' chunks start there.
CHUNK_5M = 120 * 86400
MISS0, MISS_END = epoch("2021-01-01"), epoch("2022-09-01")  # 608 days: 6 chunks
FAILING = [MISS0 + k * CHUNK_5M for k in (1, 2, 5)]


class WithProvider(AgentTest):
    """Jobs against the fake provider playing Polygon, every request it gets recorded."""
    load_sample = False

    @classmethod
    def setUpClass(cls):
        cls.fake = FakeProvider()
        mode = "E500AT" + "+".join(str(t * 1000) for t in FAILING)
        cls.env = {"MDAGENT_SOURCES_PRIORITY": "polygon", "POLYGON_API_KEY": "pg-key-1",
                   "MDAGENT_POLYGON_URL": cls.fake.url("polygon", mode), "MDAGENT_API_KEYS": KEY}
        cls.args = ("--set", "sources.max_retries=0", "--set", "backfill.retries=0",
                    "--set", "backfill.workers=1", "--set", "backfill.chunk_delay_ms=400",
                    "--set", "sources.circuit.failures=1000", "--set", "sources.circuit.failure_ratio=0",
                    "--set", "sources.polygon.per_minute=0", "--set", "sources.polygon.per_day=0")
        super().setUpClass()  # AgentTest stops cls.fake with the agent

    def post(self, doc, headers=AUTH):
        return self.agent.post("/backfill", json.dumps(doc), headers=headers)

    def delete(self, job_id, headers=AUTH):
        return curl(f"{self.agent.url}/jobs/{job_id}", method="DELETE", headers=headers)

    def job(self, job_id):
        r = self.get(f"/jobs/{job_id}")
        self.assertEqual(r.status, 200, r)
        return r.json()

    def ended(self, job_id):
        return wait_for(lambda: (lambda x: x if x["state"] not in ("queued", "running") else None)(self.job(job_id)),
                        "job ended")

    def asked(self, start, end):
        """Polygon aggregate requests for AAPL 5m whose range starts in [start, end)."""
        n = 0
        for r in self.fake.requests("/polygon/"):
            parts = r.split("?")[0].split("/")
            if "aggs" in parts and parts[-4:-2] == ["5", "minute"] and "AAPL" in parts:
                n += start * 1000 <= int(parts[-2]) < end * 1000
        return n

    def test_the_same_job_asked_twice_is_fetched_once(self):
        doc = {"symbols": ["AAPL", "MSFT"], "interval": "5m", "start": "2023-01-01", "end": "2024-01-01"}
        r = self.post(doc)
        self.assertEqual(r.status, 202, r)
        first = r.json()
        self.assertIs(first["existing"], False)
        # the same set of symbols in another order, with a repeat: the same job
        r = self.post({**doc, "symbols": ["msft", "AAPL", "MSFT"]})
        self.assertEqual(r.status, 202, r)
        again = r.json()
        self.assertEqual(again["job_id"], first["job_id"])
        self.assertIs(again["existing"], True)
        self.assertIn(again["state"], ("queued", "running"))
        self.assertEqual(again["chunks_total"], first["chunks_total"])
        # another range is another job
        other = self.post({**doc, "symbols": ["AAPL"], "end": "2023-12-31"}).json()
        self.assertNotEqual(other["job_id"], first["job_id"])
        self.assertIs(other["existing"], False)
        j = self.ended(first["job_id"])
        self.assertEqual(j["state"], "done")
        self.assertEqual(j["chunks_done"], 2 * 4)
        self.ended(other["job_id"])
        # AAPL's 4 chunks once for the job, once for the other job (whose end differs)
        self.assertEqual(self.asked(epoch("2023-01-01"), epoch("2024-01-01")), 4 + 4)
        # once it ended, the same POST is a new job
        r = self.post(doc)
        self.assertIs(r.json()["existing"], False)
        self.assertNotEqual(r.json()["job_id"], first["job_id"])
        self.ended(r.json()["job_id"])

    def test_delete_cancels_a_running_job(self):
        doc = {"symbols": ["AAPL"], "interval": "5m", "start": "2024-01-01", "end": day(-1)}
        r = self.post(doc)
        self.assertEqual(r.status, 202, r)
        job_id = r.json()["job_id"]
        total = r.json()["chunks_total"]
        self.assertGreaterEqual(total, 6)
        wait_for(lambda: self.job(job_id)["chunks_done"] >= 2, "two chunks done")
        r = self.delete(job_id, headers={})
        self.assertEqual(r.status, 401, r)
        r = self.delete(job_id)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["state"], "cancelled")
        self.assertIsNotNone(r.json()["finished_at"])
        time.sleep(1.5)  # several chunk delays: a job still running would have asked again
        j = self.job(job_id)
        self.assertEqual(j["state"], "cancelled")
        self.assertLess(j["chunks_done"], total)
        asked = self.asked(epoch("2024-01-01"), epoch(day(-1)))
        self.assertEqual(asked, j["chunks_done"] + j["chunks_failed"], "a chunk in flight is counted")
        time.sleep(1)
        self.assertEqual(self.asked(epoch("2024-01-01"), epoch(day(-1))), asked, "nothing asked after the cancel")
        # the first chunk's bars (the fixture's 2024-03-08) stay stored
        self.assertEqual(j["rows"], 3)
        h = self.get_json("/historical/AAPL?interval=5m&start=2024-03-08&end=2024-03-09&cached_only=true")
        self.assertEqual(h["count"], 3)
        r = self.delete(job_id)
        self.assertEqual(r.status, 409, r)
        self.assertEqual(r.json()["error"]["code"], "conflict")
        self.assertIn("already cancelled", r.json()["error"]["message"])
        self.assert_error("/jobs/bf-0000000000000000", 404, "not_found", method="DELETE", headers=AUTH)
        # a cancelled job is not open any more: the same POST makes a new job
        r = self.post(doc)
        self.assertIs(r.json()["existing"], False)
        self.assertEqual(self.delete(r.json()["job_id"]).status, 200)

    def test_failed_chunks_are_listed_as_missing_ranges(self):
        r = self.post({"symbols": ["AAPL"], "interval": "5m", "start": MISS0, "end": MISS_END})
        self.assertEqual(r.status, 202, r)
        j = self.ended(r.json()["job_id"])
        self.assertEqual(j["state"], "done")
        self.assertEqual(j["chunks_total"], 6)
        self.assertEqual(j["chunks_failed"], 3)
        self.assertEqual(len(j["error_details"]), 1, j)
        d = j["error_details"][0]
        self.assertEqual(d["symbol"], "AAPL")
        self.assertEqual(d["chunks_failed"], 3)
        # chunks 1 and 2 are one range; chunk 5, the last, ends at the job's end
        self.assertEqual(d["missing"], [{"start": iso(FAILING[0]), "end": iso(FAILING[0] + 2 * CHUNK_5M)},
                                        {"start": iso(FAILING[2]), "end": iso(MISS_END)}])
        # the chunks that failed were asked once each (no retries configured), the others too
        self.assertEqual(self.asked(MISS0, MISS_END), 6)
        # a job that ended cannot be cancelled
        r = self.delete(j["job_id"])
        self.assertEqual(r.status, 409, r)
        self.assertIn("already done", r.json()["error"]["message"])


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


@unittest.skipUnless(mdtest.services().get("MDTEST_PG_URL") and mdtest.services().get("MDTEST_REDIS_URL"),
                     "needs the test PostgreSQL and Redis (run under ctest)")
class SharedCancel(unittest.TestCase):
    """Two agents on one PostgreSQL and one Redis: a job asked of the other agent again is
    the running one, and a DELETE on the other agent stops it where it runs."""

    def test_the_other_agent_merges_and_cancels_the_job(self):
        pg = mdtest.fresh_pg_db("bf_shared_cancel")
        redis = mdtest.services()["MDTEST_REDIS_URL"].rsplit("/", 1)[0] + "/8"
        env = dict(SIM, MDAGENT_REDIS=redis, MDAGENT_CACHE_PREFIX=f"e2e:{os.getpid()}:bfcancel:")
        args = ("--set", "backfill.chunk_delay_ms=400", "--set", "backfill.workers=1",
                "--set", "backfill.lease_ms=3000")
        a = Agent(db=pg, env=env, args=args, name="bf-cancel-a")
        b = Agent(db=pg, env=env, args=args, name="bf-cancel-b")
        try:
            a.start()
            b.start()
            doc = {"symbols": ["AAA", "BBB"], "interval": "1m", "start": day(-61), "end": day(-1)}
            r = a.post("/backfill", json.dumps(doc), headers=AUTH)
            self.assertEqual(r.status, 202, r)
            job_id = r.json()["job_id"]
            total = r.json()["chunks_total"]
            self.assertEqual(total, 2 * 9)  # 60 days of 1m bars in chunks of 7 days
            r = b.post("/backfill", json.dumps({**doc, "symbols": ["BBB", "AAA"]}), headers=AUTH)
            self.assertEqual(r.status, 202, r)
            self.assertEqual(r.json()["job_id"], job_id, "b answers with a's job")
            self.assertIs(r.json()["existing"], True)
            wait_for(lambda: a.get(f"/jobs/{job_id}").json()["chunks_done"] >= 2, "two chunks done")
            r = curl(f"{b.url}/jobs/{job_id}", method="DELETE", headers=AUTH)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["state"], "cancelled")
            # a stops (before its next chunk) and says so; a chunk in flight finishes
            wait_for(lambda: f"job cancelled id={job_id}" in a.logs(), "a saw the cancel")
            self.assertEqual(a.get(f"/jobs/{job_id}").json()["state"], "cancelled")
            time.sleep(1.5)  # several chunk delays
            done = a.get(f"/jobs/{job_id}").json()
            time.sleep(1.5)
            for ag in (a, b):
                j = ag.get(f"/jobs/{job_id}").json()
                self.assertEqual(j["state"], "cancelled")
                self.assertEqual(j["chunks_done"], done["chunks_done"], "no chunk more")
                self.assertEqual(j["rows"], done["rows"])
            self.assertLess(done["chunks_done"], total)
            self.assertNotIn(f"job resumed id={job_id}", b.logs(), "b never ran it")
            rows = mdtest.psql("SELECT count(*) FROM bars b JOIN symbols s ON s.id = b.symbol_id"
                               " WHERE s.symbol IN ('AAA', 'BBB') AND b.iv = 0"
                               f" AND b.ts >= '{day(-61)}T00:00:00Z' AND b.ts < '{day(-1)}T00:00:00Z'", url=pg)
            self.assertGreater(done["rows"], 0)
            self.assertEqual(int(rows), done["rows"], "the stored bars stay")
            r = curl(f"{a.url}/jobs/{job_id}", method="DELETE", headers=AUTH)
            self.assertEqual(r.status, 409, r)
        finally:
            rcs = [ag.stop() for ag in (a, b)]
            logs = a.logs() + b.logs()
            for ag in (a, b):
                ag.cleanup()
            mdtest.drop_pg_db(pg)
        self.assertEqual(rcs, [0, 0], logs[-3000:])
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
