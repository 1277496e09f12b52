"""Memory under stalled uploads (issue 16): bodies are never buffered before the route and the
API key were checked, are bounded in total, and go back to the system after a burst.

The bounds are the agent's own RSS from /proc, measured against its baseline: 100 clients
announcing 8 MiB bodies without a key took 98 -> 950 MiB before the edge was rewritten."""
import json
import socket
import time
import unittest

from mdtest import Agent, rss_mib

KEY = "mem-key"
MIB = 1024 * 1024


def head(n, key=None):
    h = b"POST /ingest/bars HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
    if key:
        h += b"X-API-Key: " + key.encode() + b"\r\n"
    return h + b"Content-Length: %d\r\n\r\n" % n


def status_of(s, timeout=10):
    s.settimeout(timeout)
    buf = b""
    while b"\r\n" not in buf:
        c = s.recv(4096)
        if not c:
            return 0
        buf += c
    return int(buf.split()[1])


class StalledUploads(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.agent = Agent(name="edgemem", env={"MDAGENT_API_KEYS": KEY},
                          args=("--set", "server.max_inflight_body_bytes=33554432",
                                "--set", "server.header_timeout_ms=30000")).start()
        cls.pid = cls.agent.proc.pid

    @classmethod
    def tearDownClass(cls):
        cls.agent.cleanup()

    def settle(self):
        time.sleep(0.5)
        return rss_mib(self.pid)

    def test_100_unauthenticated_8mib_uploads_get_401_without_memory(self):
        base = self.settle()
        conns = []
        try:
            for _ in range(100):
                s = socket.create_connection(("127.0.0.1", self.agent.port))
                s.sendall(head(8 * MIB) + b"x" * 65536)  # then stall
                conns.append(s)
            statuses = [status_of(s) for s in conns]
            self.assertEqual(set(statuses), {401})
            grown = rss_mib(self.pid) - base
            self.assertLess(grown, 20, f"RSS grew {grown:.1f} MiB for 100 refused uploads")
        finally:
            for s in conns:
                s.close()

    def test_authenticated_stalled_uploads_are_bounded_and_memory_returns(self):
        base = self.settle()
        conns, statuses = [], []
        try:
            # 100 keyed clients announce 8 MiB and send 1 MiB each, then stall: at most 32 MiB
            # (server.max_inflight_body_bytes) are admitted, the rest get 503 before any read
            for _ in range(100):
                s = socket.create_connection(("127.0.0.1", self.agent.port))
                s.sendall(head(8 * MIB, KEY))
                conns.append(s)
            time.sleep(0.5)
            admitted = []
            for s in conns:
                s.setblocking(False)
                try:
                    data = s.recv(4096)
                    statuses.append(int(data.split()[1]) if data else 0)
                except BlockingIOError:
                    admitted.append(s)
            self.assertEqual(set(statuses), {503}, statuses)
            self.assertLessEqual(len(admitted), 4, "32 MiB admits four 8 MiB bodies")
            self.assertGreaterEqual(len(admitted), 1)
            for s in admitted:
                s.setblocking(True)
                s.sendall(b"x" * MIB)
            time.sleep(0.5)
            grown = rss_mib(self.pid) - base
            self.assertLess(grown, 32 + 20, f"RSS grew {grown:.1f} MiB with the budget at 32 MiB")
        finally:
            for s in conns:
                s.close()
        # the stalled bodies were mmap'd: closing their connections gives the memory back
        time.sleep(1)
        after = rss_mib(self.pid) - base
        self.assertLess(after, 10, f"RSS still {after:.1f} MiB above baseline after the burst")

    def test_complete_large_uploads_return_memory(self):
        # bodies the handler rejects at their first line: what stays is the edge's doing
        base = self.settle()
        body = b"not,a,csv,header\n" + b"x" * (8 * MIB - 17)
        conns = []
        try:
            for _ in range(4):  # four at once: the whole 32 MiB budget
                s = socket.create_connection(("127.0.0.1", self.agent.port))
                s.sendall(head(len(body), KEY))
                conns.append(s)
            for s in conns:
                s.sendall(body)
            statuses = [status_of(s, 60) for s in conns]
            self.assertEqual(set(statuses), {400}, statuses)
        finally:
            for s in conns:
                s.close()
        after = self.settle() - base
        self.assertLess(after, 10, f"RSS {after:.1f} MiB above baseline after 32 MiB of bodies")


class StalledReaders(unittest.TestCase):
    """Answers a client does not read stay in the agent past what the kernel's socket buffer
    takes (tcp_wmem's maximum): their total is bounded (server.max_unsent_answer_bytes, 8 MiB
    here); an answer that would pass it is 503 overloaded (one alone goes, whatever its size),
    and the budget comes back when the stalled connections go."""

    BARS = 80000  # one-minute bars: an answer of ~12 MB, past the kernel's 4 MiB send buffer

    @classmethod
    def setUpClass(cls):
        cls.agent = Agent(name="edgeread", env={"MDAGENT_API_KEYS": KEY},
                          args=("--set", "server.max_unsent_answer_bytes=8388608")).start()
        rows = ["timestamp,open,high,low,close,volume"]
        t0 = 1704067200  # 2024-01-01
        for i in range(cls.BARS):
            rows.append(f"{t0 + 60 * i},{100 + i % 7},{108 + i % 7},{99 + i % 7},{101 + i % 7},{1000 + i}")
        r = cls.agent.post("/ingest/bars?symbol=STALLR&interval=1m", "\n".join(rows) + "\n",
                           headers={"Content-Type": "text/csv", "X-API-Key": KEY}, timeout=120)
        assert r.status == 200, r.body

    @classmethod
    def tearDownClass(cls):
        cls.agent.cleanup()

    def request(self, i):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", self.agent.port))
        s.sendall(b"GET /historical/STALLR?interval=1m&start=2024-01-01&limit=%d&cached_only=true "
                  b"HTTP/1.1\r\nHost: x\r\n\r\n" % (self.BARS + i))  # distinct: no shared entry
        return s

    def test_unread_answers_are_bounded_and_the_budget_returns(self):
        with open("/proc/sys/net/ipv4/tcp_wmem") as f:
            wmem_max = int(f.read().split()[2])
        first = self.request(0)
        head = first.recv(4096)
        self.assertTrue(head.startswith(b"HTTP/1.1 200 "), head[:100])
        size = int(head.split(b"Content-Length: ", 1)[1].split(b"\r\n", 1)[0])
        self.assertGreater(size, wmem_max + 4 * MIB, "the answer must outgrow the socket buffer")
        time.sleep(0.5)  # the first answer now fills its socket; the rest waits in the agent
        others = [self.request(i) for i in range(1, 4)]
        try:
            for s in others:
                s.settimeout(30)
                data = b""
                while b"\r\n\r\n" not in data:
                    c = s.recv(4096)
                    self.assertTrue(c, data)
                    data += c
                head, _, body = data.partition(b"\r\n\r\n")
                self.assertTrue(head.startswith(b"HTTP/1.1 503 "), head)
                self.assertIn(b"\r\nRetry-After: 1\r\n", head)
                n = int(head.split(b"Content-Length: ", 1)[1].split(b"\r\n", 1)[0])
                while len(body) < n:
                    body += s.recv(4096)
                err = json.loads(body)["error"]
                self.assertEqual(err["code"], "overloaded")
                self.assertIn("server.max_unsent_answer_bytes", err["message"])
            # small answers always go
            self.assertEqual(self.agent.get("/health/live").status, 200)
        finally:
            first.close()
            for s in others:
                s.close()
        time.sleep(0.5)
        r = self.agent.get(f"/historical/STALLR?interval=1m&start=2024-01-01&limit={self.BARS}"
                           "&cached_only=true", timeout=60)
        self.assertEqual(r.status, 200)
        self.assertEqual(len(json.loads(r.body)["bars"]), self.BARS)


if __name__ == "__main__":
    unittest.main()
