"""End to end: the HorizontalPodAutoscaler of deploy/hpa.yaml fed with what two real agents
report. The test reads the HPA's targets, starts two agents (the minimum replicas), loads
them, scrapes /metrics from each the way prometheus-adapter's rules read it
(deploy/prometheus-adapter.yaml: the rate of mdagent_http_requests_total, the gauges
mdagent_worker_queue_depth and mdagent_stream_clients), and applies Kubernetes' formula for
Pods metrics:

    ratio = per-pod average / target
    desired = current                      when |ratio - 1| <= tolerance (0.1)
            = ceil(current * ratio)        otherwise
    replicas = clamp(max over the metrics, minReplicas, maxReplicas)

Idle, the deployment stays at 2; stream clients just inside the tolerance keep it at 2; past
it, with REST load from wrk on top, it asks for N > 2; when the load goes it comes back to 2.
(CPU, the secondary metric, needs the pods' CPU requests and is left to Kubernetes.)"""
import math
import os
import resource
import selectors
import shutil
import socket
import subprocess
import time
import unittest

import yaml

from mdtest import SRC, Agent

TOLERANCE = 0.1  # Kubernetes' --horizontal-pod-autoscaler-tolerance default, as hpa.yaml says


def hpa():
    with open(os.path.join(SRC, "deploy", "hpa.yaml")) as f:
        h = yaml.safe_load(f)
    targets = {m["pods"]["metric"]["name"]: float(m["pods"]["target"]["averageValue"])
               for m in h["spec"]["metrics"] if m["type"] == "Pods"}
    return h["spec"]["minReplicas"], h["spec"]["maxReplicas"], targets


def desired(current, averages, targets, lo, hi):
    """Per metric, Kubernetes' desired replica count; and the HPA's answer."""
    per = {}
    for name, target in targets.items():
        ratio = averages[name] / target
        per[name] = current if abs(ratio - 1) <= TOLERANCE else math.ceil(current * ratio)
    return min(max(max(per.values()), lo), hi), per


def metrics(agent):
    out = {"requests": 0.0}
    for line in agent.get("/metrics").body.splitlines():
        if line.startswith("mdagent_http_requests_total{"):
            out["requests"] += float(line.rsplit(" ", 1)[1])
        elif line.startswith("mdagent_worker_queue_depth "):
            out["queue"] = float(line.split()[1])
        elif line.startswith("mdagent_stream_clients "):
            out["clients"] = float(line.split()[1])
    return out


class Clients:
    """n WebSocket clients on /stream, opened in one go (non-blocking handshakes), held open
    until close()."""

    def __init__(self, port, n):
        self.socks = []
        sel = selectors.DefaultSelector()
        req = (f"GET /stream HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n").encode()
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(req)
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ, b"")
            self.socks.append(s)
        pending = len(self.socks)
        deadline = time.time() + 60
        while pending and time.time() < deadline:
            for key, _ in sel.select(timeout=1):
                data = key.data + key.fileobj.recv(4096)
                if b"\r\n\r\n" in data:
                    if not data.startswith(b"HTTP/1.1 101"):
                        raise AssertionError(data[:200])
                    sel.unregister(key.fileobj)
                    pending -= 1
                else:
                    sel.modify(key.fileobj, selectors.EVENT_READ, data)
        sel.close()
        if pending:
            raise AssertionError(f"{pending} of {n} WebSocket handshakes unanswered")

    def close(self):
        for s in self.socks:
            s.close()
        self.socks = []


@unittest.skipUnless(shutil.which("wrk"), "wrk is not installed (scripts/install-deps.sh --bench)")
class HpaOnTheAgentsOwnMetrics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.lo, cls.hi, cls.targets = hpa()
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        need = int(cls.targets["mdagent_stream_clients"] * 2.6) + 512
        if hard < need:
            raise unittest.SkipTest(f"{need} descriptors needed, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, need), hard))
        cls.agents = []
        try:
            for i in range(cls.lo):
                a = Agent(name=f"hpa-{i}", args=["--threads", "1"])
                a.start()
                cls.agents.append(a)
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        problems = [p for p in (a.finish() for a in cls.agents) if p]
        if problems:
            raise AssertionError("\n".join(problems))

    def observe(self, seconds, during=None):
        """Per-pod averages over `seconds` (the adapter's rate window, shortened), while
        `during` (a list of processes) runs."""
        t0 = time.time()
        m0 = [metrics(a) for a in self.agents]
        time.sleep(seconds)
        m1 = [metrics(a) for a in self.agents]
        dt = time.time() - t0
        n = len(self.agents)
        avg = {"mdagent_http_requests_per_second": sum(b["requests"] - a["requests"] for a, b in zip(m0, m1)) / dt / n,
               "mdagent_worker_queue_depth": sum(b["queue"] for b in m1) / n,
               "mdagent_stream_clients": sum(b["clients"] for b in m1) / n}
        for p in during or ():
            self.assertIsNone(p.poll(), "the load generator ended before the scrape")
        return avg

    def test_two_to_n_and_back_to_two(self):
        current = len(self.agents)
        self.assertEqual(current, self.lo)
        clients_target = self.targets["mdagent_stream_clients"]
        for name in ("mdagent_http_requests_per_second", "mdagent_worker_queue_depth", "mdagent_stream_clients"):
            self.assertIn(name, self.targets, "hpa.yaml scales on the agent's own metrics")

        idle = self.observe(2)
        n, per = desired(current, idle, self.targets, self.lo, self.hi)
        self.assertEqual(n, 2, (idle, per))

        # 5 % over the target: inside the tolerance, no change
        near = [Clients(a.port, int(clients_target * 1.05)) for a in self.agents]
        try:
            avg = self.observe(1)
            self.assertEqual(avg["mdagent_stream_clients"], int(clients_target * 1.05), avg)
            n, per = desired(current, avg, self.targets, self.lo, self.hi)
            self.assertEqual(n, 2, (avg, per))
        finally:
            for c in near:
                c.close()

        # 30 % over it, and REST load: out
        more = [Clients(a.port, int(clients_target * 1.3)) for a in self.agents]
        wrk = [subprocess.Popen(["wrk", "-t1", "-c16", "-d20s", f"{a.url}/health/live"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for a in self.agents]
        try:
            time.sleep(1)
            avg = self.observe(4, during=wrk)
            n, per = desired(current, avg, self.targets, self.lo, self.hi)
            self.assertEqual(per["mdagent_stream_clients"], math.ceil(current * 1.3), (avg, per))
            self.assertGreaterEqual(n, 3, (avg, per))
            self.assertGreater(avg["mdagent_http_requests_per_second"], 100, avg)
            print(f"\nloaded: per-pod {avg} -> per metric {per} -> {n} replicas")
        finally:
            for p in wrk:
                p.kill()
                p.wait()
            for c in more:
                c.close()

        # the load is gone: back to the minimum
        deadline = time.time() + 10
        while metrics(self.agents[0])["clients"] or metrics(self.agents[1])["clients"]:
            self.assertLess(time.time(), deadline, "stream clients did not go")
            time.sleep(0.1)
        after = self.observe(2)
        n, per = desired(current, after, self.targets, self.lo, self.hi)
        self.assertEqual(n, 2, (after, per))


if __name__ == "__main__":
    unittest.main()
