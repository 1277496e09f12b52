"""A small blocking WebSocket client on a raw socket for the stream tests, where a library
client would hide what matters: it sends no Sec-WebSocket-Protocol, can shrink its receive
buffer and stop reading (a slow client), and shows control frames (ping, close) as they
arrive. Python's `websockets` package is used for everything else."""
import base64
import hashlib
import json
import os
import socket
import struct
import time

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Closed(Exception):
    pass


class RawWs:
    def __init__(self, port, path="/stream", rcvbuf=None, timeout=10):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        try:
            self._handshake(port, path)
        except BaseException:
            self.sock.close()
            raise

    def _handshake(self, port, path):
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        req = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.sock.sendall(req.encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise Closed("connection closed during the handshake")
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode(errors="replace").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        if self.status == 101:
            want = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
            if self.headers.get("sec-websocket-accept") != want:
                raise AssertionError("bad Sec-WebSocket-Accept")

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Closed("connection closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def frame(self):
        """Next frame as (opcode, payload bytes)."""
        b0, b1 = self._read(2)
        if b1 & 0x80:
            raise AssertionError("server frames must not be masked")
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack(">H", self._read(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self._read(8))[0]
        return b0 & 0x0F, self._read(n)

    def message(self):
        """Next text message as a dict (control frames skipped, pings answered)."""
        while True:
            op, payload = self.frame()
            if op == 1:
                return json.loads(payload)
            if op == 9:
                self.send_frame(10, payload)
            if op == 8:
                raise Closed(close_code(payload))

    def send_frame(self, opcode, payload):
        self.sock.sendall(self._frame(opcode, payload))

    def send_many(self, objs):
        """Several text messages in one write."""
        self.sock.sendall(b"".join(self._frame(1, json.dumps(o).encode()) for o in objs))

    def _frame(self, opcode, payload):
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return head + mask + body

    def send(self, obj):
        self.send_frame(1, (obj if isinstance(obj, str) else json.dumps(obj)).encode())

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def close_code(payload):
    return struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else None
