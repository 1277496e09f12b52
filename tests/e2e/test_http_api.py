"""End to end: the real binary loads the sample data and serves every foundation endpoint
(API.md) over HTTP to curl, with the documented shapes, statuses and errors."""
import csv
import io
import os
import signal
import subprocess
import unittest

from mdtest import SAMPLE, Agent, AgentTest, curl, run_cli


def sample_rows(name):
    with open(os.path.join(SAMPLE, name)) as f:
        return list(csv.DictReader(f))


class HttpApi(AgentTest):
    def test_health_reports_components(self):
        h = self.get_json("/health")
        self.assertEqual(h["status"], "ok")
        self.assertIn("version", h)
        self.assertIsInstance(h["uptime_s"], int)
        for c in ("store", "cache", "sources", "stream"):
            self.assertIn(c, h["components"])
        self.assertEqual(h["components"]["store"]["status"], "ok")
        self.assertEqual(self.get("/health/live").status, 200)
        self.assertEqual(self.get("/health/ready").status, 200)

    def test_symbols_lists_every_loaded_file(self):
        s = self.get_json("/symbols")
        by = {x["symbol"]: x for x in s["symbols"]}
        self.assertEqual(set(by), {"MSFT", "DAX", "CAC", "FTSE", "SMI", "XTSSIM"})
        self.assertEqual(by["MSFT"]["count"], 249)
        self.assertEqual(by["MSFT"]["first"], "2000-09-27T00:00:00Z")
        self.assertEqual(by["MSFT"]["last"], "2001-09-27T00:00:00Z")
        self.assertEqual(by["DAX"]["count"], 1860)
        self.assertEqual(by["MSFT"]["intervals"][0]["interval"], "1d")

    def test_historical_returns_the_file_values_exactly(self):
        rows = sample_rows("MSFT.csv")
        h = self.get_json("/historical/MSFT?interval=1d&limit=1000")
        self.assertEqual(h["symbol"], "MSFT")
        self.assertEqual(h["interval"], "1d")
        self.assertEqual(h["count"], len(rows))
        self.assertEqual(h["from"], "store")
        for bar, row in zip(h["bars"], rows):
            self.assertEqual(bar["timestamp"], row["date"] + "T00:00:00Z")
            for k in ("open", "high", "low", "close"):
                self.assertEqual(bar[k], float(row[k]), (bar, row))
            self.assertEqual(bar["volume"], int(row["volume"]))
            self.assertEqual(bar["source"], "csv")
            self.assertIn("quality", bar)

    def test_historical_range_start_inclusive_end_exclusive(self):
        h = self.get_json("/historical/msft?start=2001-01-02&end=2001-01-05")
        self.assertEqual([b["timestamp"][:10] for b in h["bars"]], ["2001-01-02", "2001-01-03", "2001-01-04"])
        h = self.get_json("/historical/MSFT?start=2001-01-02T00:00:00Z&end=978652800")
        self.assertEqual(h["count"], 3)

    def test_historical_limit_keeps_oldest_and_links_the_next_page(self):
        r = self.get("/historical/MSFT?limit=2")
        h = r.json()
        self.assertEqual([b["timestamp"][:10] for b in h["bars"]], ["2000-09-27", "2000-09-28"])
        self.assertTrue(h["truncated"])
        self.assertEqual(r.headers["link"], f'<{h["next"]}>; rel="next"')
        # order=desc: the newest end, newest first
        h = self.get_json("/historical/MSFT?limit=2&order=desc")
        self.assertEqual([b["timestamp"][:10] for b in h["bars"]], ["2001-09-27", "2001-09-26"])

    def test_historical_weekly_aggregation_matches_hand_computation(self):
        rows = [r for r in sample_rows("MSFT.csv") if "2001-01-08" <= r["date"] <= "2001-01-12"]
        h = self.get_json("/historical/MSFT?interval=1w&start=2001-01-08&end=2001-01-15")
        self.assertEqual(h["count"], 1)
        b = h["bars"][0]
        self.assertEqual(b["timestamp"], "2001-01-08T00:00:00Z")
        self.assertEqual(b["open"], float(rows[0]["open"]))
        self.assertEqual(b["close"], float(rows[-1]["close"]))
        self.assertEqual(b["high"], max(float(r["high"]) for r in rows))
        self.assertEqual(b["low"], min(float(r["low"]) for r in rows))
        self.assertEqual(b["volume"], sum(int(r["volume"]) for r in rows))

    def test_historical_monthly(self):
        h = self.get_json("/historical/MSFT?interval=1mo")
        self.assertEqual(h["bars"][0]["timestamp"], "2000-09-01T00:00:00Z")
        self.assertEqual(h["count"], 13)

    def test_historical_csv(self):
        r = self.get("/historical/MSFT?format=csv&limit=3&order=desc")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers["content-type"].startswith("text/csv"))
        lines = r.body.strip().split("\n")
        self.assertTrue(lines[0].startswith("timestamp,open,high,low,close,volume"))
        self.assertEqual(len(lines), 4)
        self.assertTrue(lines[1].startswith("2001-09-27T00:00:00Z,50.1,50.68,48,49.96,40595600"))
        self.assertIn('rel="next"', r.headers["link"])

    def test_price_is_last_close_with_timestamp(self):
        p = self.get_json("/price/msft")
        self.assertEqual(p["symbol"], "MSFT")
        self.assertEqual(p["price"], 49.96)
        self.assertEqual(p["timestamp"], "2001-09-27T00:00:00Z")
        self.assertIn(p["cache"], ("l1", "l2", "miss"))
        self.assertIn("score", p["quality"])
        self.assertIn("grade", p["quality"])
        self.assertEqual(p["source"], "csv")

    def test_prices_many_with_errors(self):
        p = self.get_json("/prices?symbols=MSFT,dax,NOPE,bad!")
        self.assertEqual([x["symbol"] for x in p["prices"]], ["MSFT", "DAX"])
        self.assertEqual(p["prices"][1]["price"], 5473.72)
        errs = {e["symbol"]: e["code"] for e in p["errors"]}
        self.assertEqual(errs["NOPE"], "not_found")
        self.assertEqual(errs["bad!"], "invalid_symbol")
        self.assert_error("/prices", 400, "invalid_parameter")
        many = ",".join(f"S{i}" for i in range(101))
        self.assert_error("/prices?symbols=" + many, 400, "invalid_parameter")
        # a repeated symbol is answered once, at its first place (as /historical?symbols=)
        p = self.get_json("/prices?symbols=MSFT,dax,msft,NOPE,nope,DAX,bad!,bad!")
        self.assertEqual([x["symbol"] for x in p["prices"]], ["MSFT", "DAX"])
        self.assertEqual([(e["symbol"], e["code"]) for e in p["errors"]],
                         [("NOPE", "not_found"), ("bad!", "invalid_symbol"), ("bad!", "invalid_symbol")])

    def test_parameter_words_are_read_in_any_case(self):
        for lower, other in (("adjust=none", "adjust=NONE"), ("adjust=all", "adjust=All"),
                             ("order=desc", "order=DESC"), ("partial=exclude", "partial=EXCLUDE"),
                             ("format=csv", "format=CSV"), ("session=regular", "session=Regular"),
                             ("cached_only=true&source=yahoo", "cached_only=TRUE&source=YAHOO")):
            with self.subTest(other=other):
                a = self.get(f"/historical/MSFT?limit=3&start=2001-01-10&{lower}")
                b = self.get(f"/historical/MSFT?limit=3&start=2001-01-10&{other}")
                self.assertEqual((a.status, b.status), (200, 200), b)
                self.assertEqual(a.body, b.body)
                self.assertEqual(a.headers["link"], b.headers["link"])
        for q in ("kind=LOG", "align=Outer", "adjust=SPLITS"):
            self.get_json(f"/analytics/returns?symbols=MSFT,DAX&interval=1w&{q}")
        self.assert_error("/historical/MSFT?adjust=raw", 400, "invalid_parameter")

    def test_bad_parameters_get_documented_errors(self):
        self.assert_error("/historical/MSFT?interval=2h", 400, "invalid_interval")
        self.assert_error("/historical/MSFT?start=yesterday", 400, "invalid_time_range")
        self.assert_error("/historical/MSFT?start=2001-02-01&end=2001-01-01", 400, "invalid_time_range")
        self.assert_error("/historical/MSFT?start=2001-01-01&end=2001-01-01", 400, "invalid_time_range")
        self.assert_error("/historical/MSFT?limit=-1", 400, "invalid_parameter")
        self.assert_error("/historical/MSFT?limit=ten", 400, "invalid_parameter")
        self.assert_error("/historical/MSFT?format=xml", 400, "invalid_parameter")
        self.assert_error("/historical/MSFT?source=nowhere", 400, "invalid_parameter")
        self.assert_error("/historical/" + "A" * 21, 400, "invalid_symbol")
        self.assert_error("/historical/A%3BB", 400, "invalid_symbol")
        self.assert_error("/price/A%20B", 400, "invalid_symbol")
        self.assert_error("/price/MSFT?max_age=-5", 400, "invalid_parameter")
        # a repeated parameter is refused, not answered for its first value (which gave 1 bar)
        body = self.assert_error("/historical/MSFT?limit=1&limit=3", 400, "invalid_parameter")
        self.assertIn("'limit' is given more than once", body["error"]["message"])
        self.assert_error("/prices?symbols=MSFT&symbols=DAX", 400, "invalid_parameter")
        self.assertEqual(self.get_json("/prices?symbols=MSFT,DAX")["errors"], [])
        self.assert_error("/historical/UNKNOWN", 404, "not_found")
        self.assert_error("/price/UNKNOWN", 404, "not_found")

    def test_unknown_route_method_and_oversize(self):
        self.assert_error("/no/such/route", 404, "not_found")
        body = self.assert_error("/symbols", 405, "method_not_allowed", method="DELETE")
        self.assert_error("/historical/MSFT?x=" + "a" * 9000, 414, "uri_too_long")

    def test_metrics_exposition(self):
        self.get("/price/MSFT")
        r = self.get("/metrics")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers["content-type"].startswith("text/plain"))
        self.assertIn('mdagent_http_requests_total{route="/price/{symbol}",status="200"}', r.body)
        self.assertIn("mdagent_http_request_duration_seconds_bucket", r.body)
        self.assertIn("mdagent_store_write_rows_total", r.body)
        # the autoscaling signal: requests waiting for a worker (none on an idle agent)
        self.assertIn("# TYPE mdagent_worker_queue_depth gauge", r.body)
        depth = [l for l in r.body.splitlines() if l.startswith("mdagent_worker_queue_depth ")]
        self.assertEqual(len(depth), 1, depth)
        self.assertGreaterEqual(float(depth[0].split()[1]), 0)


class Shutdown(unittest.TestCase):
    def test_sigterm_and_sigint_stop_cleanly(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            a = Agent(name="shutdown")
            try:
                a.start()
                self.assertEqual(a.get("/health/live").status, 200)
                self.assertEqual(a.stop(sig), 0, a.logs())
                self.assertIn("stopped", a.logs())
            finally:
                a.cleanup()


class PortInUse(unittest.TestCase):
    def test_second_agent_on_a_taken_port_refuses_to_start(self):
        # the loops share their port through SO_REUSEPORT; a second agent must not join it
        a = Agent(name="port1")
        try:
            a.start()
            p = run_cli("serve", "--db", f"sqlite:{a.dir}/other.db", "--create", "--listen", f"127.0.0.1:{a.port}",
                        check=False, timeout=30)
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn("Address already in use", p.stderr)
            self.assertEqual(a.get("/health/live").status, 200)
        finally:
            a.cleanup()


class Cli(unittest.TestCase):
    def setUp(self):
        self.a = Agent(name="cli")

    def tearDown(self):
        self.a.cleanup()

    def test_load_reports_bad_rows_and_query_answers(self):
        bad = os.path.join(self.a.dir, "ZZZ.csv")
        with open(bad, "w") as f:
            f.write("date,open,high,low,close,volume\n2024-01-02,1,2,0.5,1.5,10\n2024-01-03,1,0.5,2,1.5,10\n2024-01-04,x,2,1,1.5,1\n")
        p = run_cli("load", bad, "--db", self.a.db, check=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(f"{bad}:3: high 0.5 < low 2", p.stderr)
        self.assertIn(f"{bad}:4: open: 'x' is not a number", p.stderr)
        self.assertIn("2 rejected", p.stderr)
        q = run_cli("query", "zzz", "--db", self.a.db, "--format", "json")
        import json
        doc = json.loads(q.stdout)
        self.assertEqual(doc["count"], 1)
        self.assertEqual(doc["bars"][0]["close"], 1.5)
        q = run_cli("query", "ZZZ", "--db", self.a.db)
        self.assertTrue(q.stdout.startswith("timestamp,open,high,low,close,volume"))

    def test_symbol_flag_and_bad_usage_exit_codes(self):
        p = run_cli("load", os.path.join(SAMPLE, "DAX.csv"), "--symbol", "^gdaxi", "--db", self.a.db, "--quiet")
        q = run_cli("query", "^GDAXI", "--db", self.a.db, "--limit", "1", "--order", "desc")
        self.assertIn("1998-08-14T00:00:00Z,5473.72", q.stdout)
        self.assertIn("the range goes on", q.stderr, "--limit never truncates silently")
        self.assertEqual(run_cli("load", "--db", self.a.db, check=False).returncode, 2)
        self.assertEqual(run_cli("query", "MSFT", "--interval", "7x", "--db", self.a.db, check=False).returncode, 2)
        self.assertEqual(run_cli("bogus", check=False).returncode, 2)
        self.assertEqual(run_cli("load", "/nonexistent.csv", "--db", self.a.db, check=False).returncode, 1)
        self.assertEqual(run_cli("query", "NOPE", "--db", self.a.db, check=False).returncode, 1)
        self.assertEqual(run_cli("serve", "--listen", "nonsense", check=False).returncode, 2)
        self.assertEqual(run_cli("serve", env={"MDAGENT_SERVER_THREADS": "many"}, check=False).returncode, 2)

    def test_config_file_unknown_key_is_an_error(self):
        cfg = os.path.join(self.a.dir, "mdagent.yaml")
        with open(cfg, "w") as f:
            f.write("listen: 127.0.0.1:0\nserverr:\n  threads: 2\n")
        p = run_cli("serve", "--config", cfg, check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("mdagent.yaml:2: serverr", p.stderr)
        p = run_cli("serve", "--print-config", "--config", cfg, check=False)
        self.assertEqual(p.returncode, 2)
        with open(cfg, "w") as f:
            f.write("server:\n  threads: 3\n")
        p = run_cli("serve", "--print-config", "--config", cfg)
        self.assertIn("server.threads: 3", p.stdout)

    def test_loading_twice_is_idempotent(self):
        for _ in range(2):
            run_cli("load", os.path.join(SAMPLE, "MSFT.csv"), "--db", self.a.db, "--quiet")
        q = run_cli("query", "MSFT", "--db", self.a.db, "--limit", "100000")
        self.assertEqual(len(q.stdout.strip().split("\n")), 250)


if __name__ == "__main__":
    unittest.main()
