"""End to end: the metrics an operator uses to find the slow part (API.md "Metrics") move when
the thing they measure happens, on a real agent: a request on a route adds one observation
to that route's latency histogram and none to another's; the store's read and write calls
are timed per backend (SQLite here, PostgreSQL in the second class) and operation; a call to
a provider slowed to 300 ms lands in its histogram at 300 ms or more; open connections
follow sockets being opened and closed; the process figures agree with what the kernel
says in /proc/<pid>/status."""
import json
import os
import re
import socket
import threading
import time
import unittest

from mdtest import AgentTest, curl, services
from test_sources_failover import ProviderTest

API_KEY = "ops-metrics-key-0123456789"


def scrape(agent):
    r = agent.get("/metrics")
    assert r.status == 200, r
    return r.body


def value(text, name, **labels):
    """The sample of name whose labels are exactly `labels` (le included for buckets); 0 when
    absent."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pat = "^" + re.escape(name) + (r"\{" + re.escape(want) + r"\}" if labels else "") + r" (\S+)$"
    m = re.search(pat, text, re.M)
    return float(m.group(1)) if m else 0.0


def bar_json(ts, close):
    return json.dumps({"bars": [{"symbol": "OPSX", "interval": "1d", "timestamp": ts, "open": close,
                                 "high": close + 1, "low": close - 1, "close": close, "volume": 100}]})


class RouteAndStoreLatency(AgentTest):
    env = {"MDAGENT_API_KEYS": API_KEY}
    backend = "sqlite"

    def test_a_request_counts_in_its_route_histogram_only(self):
        h = "mdagent_http_request_duration_seconds"
        before = scrape(self.agent)
        for _ in range(3):
            self.assertEqual(self.agent.get("/symbols").status, 200)
        after = scrape(self.agent)
        self.assertEqual(value(after, h + "_count", route="/symbols") - value(before, h + "_count", route="/symbols"), 3)
        self.assertEqual(value(after, h + "_count", route="/cluster"), value(before, h + "_count", route="/cluster"))
        # cumulative buckets: +Inf holds every observation, and le is monotonic
        self.assertEqual(value(after, h + "_bucket", route="/symbols", le="+Inf"),
                         value(after, h + "_count", route="/symbols"))
        les = re.findall(r'^mdagent_http_request_duration_seconds_bucket\{route="/symbols",le="([^"]+)"\} (\S+)$', after, re.M)
        counts = [float(c) for _, c in les]
        self.assertEqual(counts, sorted(counts))
        self.assertGreater(value(after, h + "_sum", route="/symbols"), value(before, h + "_sum", route="/symbols"))

    def test_store_reads_and_writes_are_timed_per_backend_and_operation(self):
        s = "mdagent_store_call_duration_seconds_count"
        before = scrape(self.agent)
        r = curl(self.agent.url + "/ingest/bars", method="POST", data=bar_json("2024-03-04T00:00:00Z", 10),
                 headers={"Content-Type": "application/json", "X-API-Key": API_KEY})
        self.assertEqual(r.status, 200, r.body)
        mid = scrape(self.agent)
        self.assertGreaterEqual(value(mid, s, backend=self.backend, op="put_bars") - value(before, s, backend=self.backend, op="put_bars"), 1)
        r = self.agent.get("/historical/OPSX?interval=1d&start=2024-03-01&end=2024-03-10&cached_only=true")
        self.assertEqual(r.status, 200, r.body)
        after = scrape(self.agent)
        self.assertGreaterEqual(value(after, s, backend=self.backend, op="read_bars") - value(mid, s, backend=self.backend, op="read_bars"), 1)
        other = "postgresql" if self.backend == "sqlite" else "sqlite"
        self.assertNotIn(f'backend="{other}"', after)

    def test_open_connections_follow_sockets(self):
        g = "mdagent_http_connections"
        base = value(scrape(self.agent), g)
        socks = [socket.create_connection(("127.0.0.1", self.agent.port)) for _ in range(4)]
        try:
            deadline = time.time() + 5
            while value(scrape(self.agent), g) < base + 4 and time.time() < deadline:
                time.sleep(0.05)
            # the scrape's own connection is open while it is answered: base counts it too
            self.assertEqual(value(scrape(self.agent), g), base + 4)
        finally:
            for s in socks:
                s.close()
        deadline = time.time() + 5
        while value(scrape(self.agent), g) > base and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(value(scrape(self.agent), g), base)

    def test_exposition_reads_with_prometheus_parser(self):
        """Every family of a scrape, after requests of every kind, reads with the Prometheus
        client library's own parser of the text format: typed, no series twice, counters named
        _total, histograms with cumulative buckets ending at +Inf equal to _count."""
        from prometheus_client.parser import text_string_to_metric_families
        for path in ("/symbols", "/price/MSFT?cached_only=true", "/historical/MSFT?limit=3",
                     "/quality/MSFT", "/nope", "/analytics/MSFT/indicators?names=sma:5&limit=2"):
            self.agent.get(path)
        text = scrape(self.agent)
        fams = list(text_string_to_metric_families(text))
        declared = re.findall(r"^# TYPE (\S+) ", text, re.M)
        # the library names a counter's family without its _total
        self.assertEqual(sorted(f.name + ("_total" if f.type == "counter" else "") for f in fams),
                         sorted(declared))
        self.assertEqual(len(declared), len(set(declared)), "a family declared twice")
        seen = set()
        for f in fams:
            self.assertIn(f.type, ("counter", "gauge", "histogram"), f.name)
            if f.type == "counter":
                self.assertTrue(all(s.name == f.name + "_total" for s in f.samples), f.name)
            series = {}
            for s in f.samples:
                key = (s.name, tuple(sorted(s.labels.items())))
                self.assertNotIn(key, seen, key)
                seen.add(key)
                if f.type == "histogram":
                    labels = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
                    series.setdefault(labels, {"buckets": []})
                    if s.name.endswith("_bucket"):
                        series[labels]["buckets"].append((float(s.labels["le"]), s.value))
                    elif s.name.endswith("_count"):
                        series[labels]["count"] = s.value
            for labels, h in series.items():
                les = [le for le, _ in h["buckets"]]
                counts = [c for _, c in h["buckets"]]
                self.assertEqual(les, sorted(les), (f.name, labels))
                self.assertEqual(les[-1], float("inf"), (f.name, labels))
                self.assertEqual(counts, sorted(counts), (f.name, labels))
                self.assertEqual(counts[-1], h["count"], (f.name, labels))
        self.assertIn(("mdagent_http_requests_total", (("route", "(unknown)"), ("status", "404"))),
                      seen)

    def test_process_figures_agree_with_the_kernel(self):
        pid = self.agent.proc.pid
        cpu0 = value(scrape(self.agent), "process_cpu_seconds_total")
        for _ in range(200):
            self.agent.get("/historical/MSFT?interval=1d&limit=500&cached_only=true")
        text = scrape(self.agent)
        cpu1 = value(text, "process_cpu_seconds_total")
        self.assertGreater(cpu1, cpu0, "200 requests cost CPU time")
        with open(f"/proc/{pid}/stat") as f:  # utime + stime in clock ticks, fields 14 and 15
            fields = f.read().rsplit(")", 1)[1].split()
        kernel_cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        self.assertAlmostEqual(cpu1, kernel_cpu, delta=0.5)
        with open(f"/proc/{pid}/status") as f:
            vmrss = int(re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M).group(1)) * 1024
        rss = value(text, "process_resident_memory_bytes")
        self.assertGreater(rss, 1 << 20)
        self.assertLess(abs(rss - vmrss) / vmrss, 0.2, (rss, vmrss))
        # descriptors come and go with connections and sessions: the same count within a few
        self.assertAlmostEqual(value(text, "process_open_fds"), len(os.listdir(f"/proc/{pid}/fd")), delta=4)


@unittest.skipUnless(services().get("MDTEST_PG_URL"), "no test PostgreSQL")
class RouteAndStoreLatencyPg(RouteAndStoreLatency):
    pg = True
    load_sample = False
    backend = "postgresql"

    test_process_figures_agree_with_the_kernel = None
    test_open_connections_follow_sockets = None
    test_a_request_counts_in_its_route_histogram_only = None


class ProviderLatency(ProviderTest):
    providers = {"finnhub": "DELAY300"}  # every answer 300 ms late
    priority = "finnhub"
    load_sample = False

    def test_a_provider_call_is_timed_under_its_source(self):
        h = "mdagent_source_request_duration_seconds"
        before = scrape(self.agent)
        p = self.get_json("/price/AAPL?max_age=0")
        self.assertEqual(p["source"], "finnhub")
        after = scrape(self.agent)
        n = value(after, h + "_count", source="finnhub") - value(before, h + "_count", source="finnhub")
        self.assertEqual(n, 1)
        took = value(after, h + "_sum", source="finnhub") - value(before, h + "_sum", source="finnhub")
        self.assertGreaterEqual(took, 0.3)
        self.assertLess(took, 2.0)
        # 0.3 s lies in the (0.25, 0.5] bucket: the one below did not get it
        self.assertEqual(value(after, h + "_bucket", source="finnhub", le="0.25") -
                         value(before, h + "_bucket", source="finnhub", le="0.25"), 0)
        self.assertEqual(value(after, h + "_bucket", source="finnhub", le="0.5") -
                         value(before, h + "_bucket", source="finnhub", le="0.5"), 1)


class QueueDepthCountsFetchWaits(ProviderTest):
    """mdagent_worker_queue_depth is the HPA's saturation signal (deploy/hpa.yaml,
    docs/scaling.md: requests waiting for a worker or fetch thread - a slow store or slow
    providers). Requests that may call a provider wait for the fetch threads: with one fetch
    thread and a provider answering 1.5 s late, six /price requests leave five waiting, and
    the gauge must say so (it counted only the store workers' queue, and stayed 0)."""
    providers = {"finnhub": "DELAY1500"}
    priority = "finnhub"
    load_sample = False
    extra_args = ("--set", "sources.fetch_workers=1", "--set", "sources.timeout_ms=5000")

    def test_requests_waiting_for_the_fetch_threads_are_counted(self):
        self.assertEqual(value(scrape(self.agent), "mdagent_worker_queue_depth"), 0)
        statuses = []
        threads = [threading.Thread(target=lambda: statuses.append(
            self.get("/price/AAPL?max_age=0", timeout=60).status)) for _ in range(6)]
        for t in threads:
            t.start()
        seen = 0
        deadline = time.time() + 1.2  # the first call is still at the provider
        while time.time() < deadline:
            seen = max(seen, value(scrape(self.agent), "mdagent_worker_queue_depth"))
            time.sleep(0.05)
        for t in threads:
            t.join(60)
        self.assertEqual(statuses, [200] * 6)
        self.assertGreaterEqual(seen, 4, "five requests waited for the one fetch thread")
        self.assertEqual(value(scrape(self.agent), "mdagent_worker_queue_depth"), 0)


if __name__ == "__main__":
    unittest.main()
