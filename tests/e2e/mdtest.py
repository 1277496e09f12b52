"""Shared helpers for the end-to-end tests: run the real mdagent binary on a free loopback
port with its own store, talk to it with curl, and read the test services' addresses.

Environment (set by CTest): MDAGENT_BIN, MDTEST_SRC, MDTEST_STATE, MDTEST_TMP."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import uuid

BIN = os.environ.get("MDAGENT_BIN", "build/mdagent")
SRC = os.environ.get("MDTEST_SRC", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
TMP = os.environ.get("MDTEST_TMP", tempfile.gettempdir())
SAMPLE = os.path.join(SRC, "data", "sample")


def read_all(s, buf=b"", timeout=5):
    """Everything a raw socket's server sends until it closes (or stays silent for timeout),
    after buf."""
    s.settimeout(timeout)
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    return buf


def redis_deployment_args(prefix):
    """The arguments that put an agent in one deployment on the test Redis: --redis and a
    stream channel and namespace of their own (mdtest:<prefix>:<random>), the same for every
    agent given them. Skips the class without a test Redis (ctest always starts one)."""
    url = services().get("MDTEST_REDIS_URL")
    if not url:
        raise unittest.SkipTest("no test Redis (run under ctest)")
    ns = f"mdtest:{prefix}:{uuid.uuid4().hex}"
    return ("--redis", url, "--set", f"stream.redis_channel={ns}", "--set", f"redis.namespace={ns}")


def services():
    """The addresses of the PostgreSQL and Redis started by scripts/test-services.sh."""
    env = {}
    path = os.path.join(os.environ.get("MDTEST_STATE", ""), "env")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                if "=" in line:
                    k, v = line.strip().split("=", 1)
                    env[k] = v
    return env


def pg_tool(name):
    """A PostgreSQL client program (psql, pg_ctl) of the fixture's server version."""
    bindir = services().get("MDTEST_PG_BIN")
    path = os.path.join(bindir, name) if bindir else ""
    return path if path and os.path.exists(path) else name


def psql(sql, url=None, check=True):
    """Runs SQL with psql on url (default: the fixture's maintenance database); returns the
    output rows as text (unaligned, tuples only)."""
    url = url or services().get("MDTEST_PG_URL")
    if not url:
        raise AssertionError("no PostgreSQL fixture (run under ctest: fixture 'services')")
    p = subprocess.run([pg_tool("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                        "-d", url, "-c", sql], capture_output=True, text=True, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError(f"psql {sql!r}: {p.stderr}")
    return p.stdout.strip()


def fresh_pg_db(name):
    """Creates an empty database for one test class (named after it and this process, so
    parallel tests never share one) and returns its postgresql:// URL."""
    base = services().get("MDTEST_PG_URL")
    if not base:
        raise AssertionError("no PostgreSQL fixture (run under ctest: fixture 'services')")
    db = re.sub(r"[^a-z0-9_]", "_", f"e2e_{name}_{os.getpid()}".lower())[:60]
    psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    psql(f"CREATE DATABASE {db}")
    return base.rsplit("/", 1)[0] + "/" + db


def drop_pg_db(url, base=None):
    db = url.rsplit("/", 1)[1]
    psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)", url=base, check=False)


def rss_mib(pid):
    """The resident memory of process pid in MiB (VmRSS), 0 when not found."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def free_port():
    """A port nothing listens on right now, for addresses that must NOT answer (a dead
    provider or Redis). Agents never use it: they bind port 0 and report theirs."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def clean_env(extra=None):
    """The environment for the binary: no inherited MDAGENT_* and no data providers (the
    tests never reach the internet). A test that wants sources sets
    MDAGENT_SOURCES_PRIORITY in `extra` (or passes --set sources.priority=...)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MDAGENT_") or k == "MDAGENT_BIN"}
    env.pop("MDAGENT_BIN", None)
    env["MDAGENT_SOURCES_PRIORITY"] = ""
    env.update(extra or {})
    return env


def run_cli(*args, env=None, check=True, input=None, timeout=120):
    """Runs `mdagent ARGS`; returns CompletedProcess (text)."""
    p = subprocess.run([BIN, *args], capture_output=True, text=True, env=clean_env(env),
                       input=input, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"mdagent {' '.join(args)} exited {p.returncode}\n{p.stderr}")
    return p


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<{self.status} {self.body[:300]!r}>"


def curl(url, method="GET", data=None, headers=None, timeout=30):
    """One HTTP request with curl; returns Response(status, headers dict, body str)."""
    cmd = ["curl", "-sS", "-g", "-X", method, "-D", "-", "--max-time", str(timeout), url]
    for k, v in (headers or {}).items():
        cmd += ["-H", f"{k}: {v}"]
    if data is not None:
        cmd += ["--data-binary", "@-"]
    p = subprocess.run(cmd, capture_output=True, input=data.encode() if isinstance(data, str) else data,
                       timeout=timeout + 5)
    if p.returncode != 0:
        return Response(0, {}, p.stderr.decode(errors="replace"))
    raw = p.stdout.decode(errors="replace")
    head, _, body = raw.partition("\r\n\r\n")
    while head.startswith("HTTP/1.1 1"):  # an interim answer (100 Continue) before the final one
        head, _, body = body.partition("\r\n\r\n")
    lines = head.split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    return Response(status, hdrs, body)


class Agent:
    """A running `mdagent serve` with its own SQLite file (or the given --db URL)."""

    def __init__(self, db=None, env=None, args=(), name="agent"):
        self.dir = tempfile.mkdtemp(prefix=f"md-{name}-", dir=_tmpdir())
        self.db = db or f"sqlite:{self.dir}/md.db"
        self.port = None  # the port the agent bound (it listens on port 0), known after start()
        self.port_file = os.path.join(self.dir, "port")
        self.env = dict(env or {})
        # Agents of different tests share the test Redis: unless a test wants agents to share
        # keys and channels (it then sets them), each agent gets its own, so one test's data
        # never shows up in another's answers.
        tag = os.path.basename(self.dir)
        self.env.setdefault("MDAGENT_CACHE_PREFIX", f"test:{tag}:")
        self.env.setdefault("MDAGENT_STREAM_REDIS_CHANNEL", f"test:{tag}:stream")
        self.args = list(args)
        self.proc = None
        self.log_path = os.path.join(self.dir, "agent.log")

    @property
    def url(self):
        if self.port is None:
            raise AssertionError("the agent's port is known once start() has seen it")
        return f"http://127.0.0.1:{self.port}"

    def load(self, *paths, extra=()):
        return run_cli("load", *paths, "--db", self.db, "--quiet", *extra, env=self.env)

    def start(self, wait=True):
        """Starts `mdagent serve` on 127.0.0.1:0: the kernel picks a free port and the agent
        writes it to its --port-file (no pick-close-bind race with other tests). A restart
        gets a new port. With wait=False only the port is awaited, not /health/live."""
        self.log = open(self.log_path, "w")
        self.port = None
        if os.path.exists(self.port_file):
            os.unlink(self.port_file)
        self.proc = subprocess.Popen(
            [BIN, "serve", "--db", self.db, "--create", "--listen", "127.0.0.1:0", "--port-file",
             self.port_file, *self.args],
            stdout=self.log, stderr=subprocess.STDOUT, env=clean_env(self.env))
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"agent exited {self.proc.returncode}:\n{self.logs()}")
            if self.port is None and os.path.exists(self.port_file):
                with open(self.port_file) as f:
                    self.port = int(f.read())  # written whole (rename): never partial
                if not wait:
                    return self
            if self.port is not None:
                try:
                    if self.get("/health/live").status == 200:
                        return self
                except Exception:
                    pass
            time.sleep(0.05)
        raise AssertionError("agent did not start:\n" + self.logs())

    def get(self, path, **kw):
        return curl(self.url + path, **kw)

    def post(self, path, data, **kw):
        return curl(self.url + path, method="POST", data=data, **kw)

    def logs(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode if self.proc else 0
        if getattr(self, "log", None):
            self.log.close()
        return rc

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def finish(self, ok=(0, None)):
        """Stops and removes the agent. Returns what went wrong - an exit status not in ok, a
        sanitizer report - with the end of its log, or None."""
        rc = self.stop()
        logs = self.logs()
        self.cleanup()
        if "ERROR: AddressSanitizer" in logs or "runtime error:" in logs or rc not in ok:
            return f"agent exit {rc} or sanitizer report:\n{logs[-4000:]}"
        return None


def _tmpdir():
    os.makedirs(TMP, exist_ok=True)
    return TMP


class AgentTest(unittest.TestCase):
    """Base class: one agent per test class, loaded with the sample data. With pg = True the
    agent runs on a fresh PostgreSQL database of the test fixture (dropped afterwards)."""
    db = None
    pg = False
    env = {}
    args = ()
    load_sample = True
    fake = None  # a fake provider the subclass started before this setUpClass (has stop()):
                 # stopped with the agent, and when the agent fails to start

    @classmethod
    def setUpClass(cls):
        try:
            db = cls.db
            cls.pg_db = None
            if cls.pg:
                cls.pg_db = db = fresh_pg_db(cls.__name__)
            cls.agent = Agent(db=db, env=cls.env, args=cls.args, name=cls.__name__)
            if cls.load_sample:
                cls.agent.load(SAMPLE)
            cls.agent.start()
        except Exception:
            if cls.fake:
                cls.fake.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            rc = cls.agent.stop()
            logs = cls.agent.logs()
            cls.agent.cleanup()
            if cls.pg_db:
                drop_pg_db(cls.pg_db)
        finally:
            if cls.fake:
                cls.fake.stop()
        # a sanitizer report or a crash on shutdown fails the class
        if "ERROR: AddressSanitizer" in logs or "runtime error:" in logs or rc not in (0, None):
            raise AssertionError(f"agent exit {rc} or sanitizer report:\n{logs[-4000:]}")

    def get(self, path, **kw):
        return self.agent.get(path, **kw)

    def get_json(self, path, status=200):
        r = self.agent.get(path)
        self.assertEqual(r.status, status, r)
        self.assertTrue(r.headers.get("content-type", "").startswith("application/json"), r.headers)
        return r.json()

    def assert_error(self, path, status, code, method="GET", data=None, headers=None):
        r = curl(self.agent.url + path, method=method, data=data, headers=headers)
        self.assertEqual(r.status, status, r)
        body = r.json()
        self.assertEqual(body["error"]["code"], code, body)
        self.assertTrue(body["error"]["message"], body)
        return body
