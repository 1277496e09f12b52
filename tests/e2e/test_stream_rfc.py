"""WebSocket /stream at the edges of RFC 6455, over raw sockets: a close never cuts a frame
written in part (5.2), a ping flood costs one pending pong (5.5.3) and no memory, the
registered close codes are echoed, binary data closes with 1003, a fragmented message past
the limit with 1009, and the upgrade is refused over HTTP/1.0, with a body or with an
unknown query parameter."""
import base64
import datetime
import json
import os
import socket
import struct
import time
import unittest

from mdtest import Agent, read_all, rss_mib

KEY = "rfc-key"


def frame(opcode, payload=b"", fin=True, mask=True):
    """A client frame (masked unless mask=False)."""
    n = len(payload)
    b0 = (0x80 if fin else 0) | opcode
    mbit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def handshake(port, path="/stream", version="1.1", extra="", rcvbuf=None):
    """Sends an upgrade request; returns (socket, status, headers, bytes read past the head)."""
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET {path} HTTP/{version}\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               f"Sec-WebSocket-Version: 13\r\n{extra}\r\n").encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(1)  # the head alone: a small receive buffer keeps its size
        if not chunk:
            raise ConnectionError(f"closed during the handshake: {buf!r}")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return s, int(lines[0].split()[1]), headers, rest


def split_frames(data):
    """Parses a byte stream of server frames; returns ([(fin, opcode, payload)], bytes left
    over: a frame cut short)."""
    out, i = [], 0
    while i + 2 <= len(data):
        b0, b1 = data[i], data[i + 1]
        if b1 & 0x80:
            raise AssertionError("a server frame is masked: the stream is corrupt")
        n, at = b1 & 0x7F, i + 2
        if n == 126:
            if at + 2 > len(data):
                break
            n, at = struct.unpack("!H", data[at:at + 2])[0], at + 2
        elif n == 127:
            if at + 8 > len(data):
                break
            n, at = struct.unpack("!Q", data[at:at + 8])[0], at + 8
        if at + n > len(data):
            break
        out.append((b0 >> 7, b0 & 0x0F, data[at:at + n]))
        i = at + n
    return out, data[i:]


def close_code(payload):
    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None


class StreamRfc(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # a sanitizer build holds freed memory in its quarantine (256 MiB by default): a small
        # one keeps the agent's RSS a measure of what it holds (the ping flood below)
        asan = os.environ.get("ASAN_OPTIONS", "")
        env = {"MDAGENT_API_KEYS": KEY,
               "ASAN_OPTIONS": f"{asan}:quarantine_size_mb=1" if asan else "quarantine_size_mb=1"}
        cls.agent = Agent(name="streamrfc", env=env).start()
        cls.port = cls.agent.port

    @classmethod
    def tearDownClass(cls):
        problem = cls.agent.finish()
        if problem:
            raise AssertionError(problem)

    def open(self, rcvbuf=None):
        s, status, _, rest = handshake(self.port, rcvbuf=rcvbuf)
        self.assertEqual(status, 101)
        frames, rest = split_frames(rest)
        while not frames:  # the welcome
            chunk = s.recv(65536)
            self.assertTrue(chunk, "closed before the welcome")
            frames, rest = split_frames(rest + chunk)
        self.assertEqual(json.loads(frames[0][2])["type"], "welcome")
        return s, rest

    def closed_with(self, s, buf=b""):
        """The close code of the last frame the server sent, after checking the stream."""
        frames, left = split_frames(read_all(s, buf))
        self.assertEqual(left, b"", "a frame was cut short")
        self.assertTrue(frames, "nothing was sent")
        self.assertEqual(frames[-1][1], 8, f"not a close frame last: {frames[-1]!r}")
        return close_code(frames[-1][2]), frames[-1][2][2:].decode()

    def ingest_quotes(self, symbol, n):
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        quotes = [{"symbol": symbol, "price": 50 + i * 0.01, "timestamp": now} for i in range(n)]
        r = self.agent.post("/ingest/quotes", json.dumps({"quotes": quotes}),
                            headers={"X-API-Key": KEY, "Content-Type": "application/json"})
        self.assertEqual(r.status, 200, r)

    # -- frames go out whole (bug: the close went into the middle of a half-sent frame) --

    def test_a_close_never_cuts_a_frame_written_in_part(self):
        cases = [("peer close", frame(8, struct.pack("!H", 1000)), 1000),
                 ("protocol error", frame(1, b'{"op":"ping"}', mask=False), 1002)]
        for i, (what, last, code) in enumerate(cases):
            with self.subTest(what):
                symbol = f"CUT{i}"
                s, rest = self.open(rcvbuf=4096)  # a slow reader: its socket fills up
                try:
                    s.sendall(frame(1, json.dumps({"op": "subscribe", "symbols": [symbol]})
                                    .encode()))
                    time.sleep(0.3)
                    for _ in range(3):  # far more than the socket holds: a frame is cut
                        self.ingest_quotes(symbol, 1000)
                    time.sleep(0.5)
                    s.sendall(last)
                    time.sleep(0.3)
                    frames, left = split_frames(read_all(s, rest))
                    self.assertEqual(left, b"", f"a frame was cut short: ...{left[-60:]!r}")
                    self.assertGreater(len(frames), 3)
                    for fin, op, payload in frames[:-1]:
                        self.assertEqual((fin, op), (1, 1), payload[:80])
                        json.loads(payload)  # whole, not a close inside a text frame
                    self.assertEqual(frames[-1][1], 8, "the close comes last")
                    self.assertEqual(close_code(frames[-1][2]), code)
                finally:
                    s.close()

    # -- a ping flood (bug: every pong queued, memory without bound) --

    def test_a_ping_flood_keeps_one_pending_pong_and_bounded_memory(self):
        pid = self.agent.proc.pid
        s, rest = self.open(rcvbuf=4096)
        try:
            before = rss_mib(pid)
            burst = frame(9, b"p" * 125) * 100
            for _ in range(1500):  # 150,000 pings (20 MB), none of the pongs read
                s.sendall(burst)
            time.sleep(1)
            grown = rss_mib(pid) - before
            self.assertLess(grown, 10, f"the agent grew {grown:.1f} MiB")
            # the agent still serves others meanwhile
            other, orest = self.open()
            other.sendall(frame(1, b'{"op":"ping"}'))
            frames, _ = split_frames(orest + other.recv(65536))
            self.assertEqual(json.loads(frames[-1][2])["type"], "pong")
            other.close()
            frames, left = split_frames(read_all(s, rest, timeout=2))
            pongs = [p for _, op, p in frames if op == 10]
            self.assertLess(len(pongs), 100, "one pong per ping was queued")
            self.assertEqual(pongs[-1], b"p" * 125)
        finally:
            s.close()

    # -- close codes, data types, sizes --

    def test_registered_close_codes_are_echoed(self):
        for code in (1000, 1012, 1013, 1014, 3000, 4999):
            with self.subTest(code=code):
                s, rest = self.open()
                try:
                    s.sendall(frame(8, struct.pack("!H", code)))
                    self.assertEqual(self.closed_with(s, rest)[0], code)
                finally:
                    s.close()
        for code in (1004, 1005, 1006, 1015, 2999, 5000):
            with self.subTest(code=code):
                s, rest = self.open()
                try:
                    s.sendall(frame(8, struct.pack("!H", code)))
                    self.assertEqual(self.closed_with(s, rest), (1002, "invalid close code"))
                finally:
                    s.close()

    def test_binary_frames_close_with_1003(self):
        s, rest = self.open()
        try:
            s.sendall(frame(2, b'{"op":"ping"}'))
            code, reason = self.closed_with(s, rest)
            self.assertEqual(code, 1003)
            self.assertIn("binary", reason)
        finally:
            s.close()

    def test_a_fragmented_message_past_the_limit_closes_with_1009(self):
        s, rest = self.open()  # stream.max_message_bytes 4096: 1009 past 64 KiB
        try:
            data = frame(1, b"x" * 1000, fin=False)
            data += b"".join(frame(0, b"y" * 1000, fin=False) for _ in range(200))
            try:
                s.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # closed before all of it was taken
            self.assertEqual(self.closed_with(s, rest)[0], 1009)
        finally:
            s.close()

    def test_a_fragmented_message_within_16_times_the_limit_is_skipped(self):
        s, rest = self.open()
        try:
            data = frame(1, b"x" * 1000, fin=False)
            data += b"".join(frame(0, b"y" * 1000, fin=False) for _ in range(10))
            data += frame(0, b"z", fin=True) + frame(1, b'{"op":"ping"}')
            s.sendall(data)
            msgs = []
            buf = rest
            while len(msgs) < 2:
                chunk = s.recv(65536)
                self.assertTrue(chunk)
                frames, buf = split_frames(buf + chunk)
                msgs += [json.loads(p) for _, op, p in frames if op == 1]
            self.assertEqual((msgs[0]["type"], msgs[0]["code"]), ("error", "payload_too_large"), msgs)
            self.assertEqual(msgs[1]["type"], "pong")
        finally:
            s.close()

    # -- the upgrade request --

    def refused(self, status, code, **kw):
        s, got, headers, rest = handshake(self.port, **kw)
        try:
            body = rest
            n = int(headers.get("content-length", "0"))
            while len(body) < n:
                chunk = s.recv(65536)
                if not chunk:
                    break
                body += chunk
            self.assertEqual(got, status, body)
            self.assertTrue(headers.get("content-type", "").startswith("application/json"))
            doc = json.loads(body[:n])
            self.assertEqual(doc["error"]["code"], code, doc)
            return doc["error"]["message"], s
        except BaseException:
            s.close()
            raise

    def test_upgrade_over_http_1_0_is_400(self):
        msg, s = self.refused(400, "bad_request", version="1.0")
        s.close()
        self.assertIn("HTTP/1.1", msg)

    def test_upgrade_with_a_body_is_400_and_the_body_is_not_read_as_frames(self):
        ping = frame(1, b'{"op":"ping"}')
        msg, s = self.refused(400, "bad_request", extra=f"Content-Length: {len(ping)}\r\n")
        try:
            try:
                s.sendall(ping)
            except (BrokenPipeError, ConnectionResetError):
                pass  # closed already
            self.assertIn("body", msg)
            self.assertEqual(read_all(s, timeout=3), b"", "nothing after the 400")
        finally:
            s.close()

    def test_upgrade_query_is_checked_as_the_plain_get(self):
        plain = self.agent.get("/stream?foo=1")
        self.assertEqual(plain.status, 400, plain)
        self.assertEqual(plain.json()["error"]["code"], "invalid_parameter")
        msg, s = self.refused(400, "invalid_parameter", path="/stream?foo=1")
        s.close()
        self.assertIn("'foo'", msg)
        # a trailing slash is the same path, as for every route: /stream/ upgrades
        self.assertEqual(self.agent.get("/stream/").status, 426)
        self.assertEqual(self.agent.get("/health/live/").status, 200)
        s, status, _, _ = handshake(self.port, path="/stream/")
        s.close()
        self.assertEqual(status, 101)


if __name__ == "__main__":
    unittest.main()
