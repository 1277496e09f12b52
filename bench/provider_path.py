#!/usr/bin/python3
"""The provider path's figures (bench/README.md, issue 15), against the fake provider server:

  1. the time of a /price whose primary source hangs (the next source answers), first call
     and once the primary's circuit opened; and the p99 of /sources while four requests hang
  2. requests sent per budget: Alpha Vantage (5 a minute) over three restarts within a
     minute, two agents on one Redis, Polygon's two-request free-plan quotes

    bench/provider_path.py [--before /path/to/old/mdagent]

--before runs the same scenarios with another binary (the build before the change) for the
"before" column; settings it does not know are left out for it."""
import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
NEW_KEYS = ("sources.hedge_ms", "sources.deadline_ms")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def get(port, path, timeout=60):
    t0 = time.monotonic()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request("GET", path)
    r = c.getresponse()
    r.read()
    c.close()
    return r.status, time.monotonic() - t0


class Fake:
    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, os.path.join(SRC, "tests/fakeprovider/server.py")],
                                     stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline().split()[1])

    def url(self, name, mode=None):
        return f"http://127.0.0.1:{self.port}/{name}" + (f"/_mode/{mode}" if mode else "")

    def count(self, prefix):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_requests") as r:
            return len([p for p in json.loads(r.read()) if p.startswith(prefix)])

    def stop(self):
        self.proc.kill()
        self.proc.wait()


class Agent:
    def __init__(self, binary, db, env, sets=(), new=True):
        self.port = free_port()
        args = [binary, "serve", "--db", db, "--listen", f"127.0.0.1:{self.port}"]
        for kv in sets:
            if new or not kv.startswith(NEW_KEYS):
                args += ["--set", kv]
        full = {k: v for k, v in os.environ.items() if not k.startswith("MDAGENT_")}
        full.update({"MDAGENT_SOURCES_PRIORITY": "", "MDAGENT_LOG_LEVEL": "warn"})
        full.update(env)
        self.proc = subprocess.Popen(args, env=full, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(300):
            try:
                if get(self.port, "/health/live", 1)[0] == 200:
                    return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("agent did not start")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def keys():
    return {"FINNHUB_API_KEY": "fh-bench-key-0001", "POLYGON_API_KEY": "pg-bench-key-0001",
            "ALPHA_VANTAGE_API_KEY": "av-bench-key-0001"}


def hanging_primary(binary, new, tmp):
    fake = Fake()
    env = {**keys(), "MDAGENT_SOURCES_PRIORITY": "yahoo,finnhub",
           "MDAGENT_YAHOO_URL": fake.url("yahoo", "HANG"), "MDAGENT_FINNHUB_URL": fake.url("finnhub")}
    out = {}
    for label, sets in (("default", ()), ("hedge_ms=200", ("sources.hedge_ms=200",))):
        if not new and sets:
            continue
        a = Agent(binary, f"sqlite:{tmp}/hang-{label}.db", env, sets, new)
        try:
            first = get(a.port, "/price/AAPL?max_age=0")
            later = []
            for i in range(8):
                later.append(get(a.port, "/price/AAPL?max_age=0"))
            out[label] = (first, later[-1])
        finally:
            a.stop()
    # four requests hang on the primary: how long does /sources take meanwhile?
    a = Agent(binary, f"sqlite:{tmp}/bulkhead.db", env, ("sources.deadline_ms=20000",), new)
    try:
        def hang(i):
            try:
                get(a.port, f"/price/H{i}?source=yahoo")
            except OSError:  # the agent stopped first
                pass

        threads = [threading.Thread(target=hang, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        took = sorted(get(a.port, "/sources", 60)[1] for _ in range(20 if new else 1))
        out["sources_p99"] = took[min(len(took) - 1, int(len(took) * 0.99))]
    finally:
        a.stop()
        fake.stop()
    return out


def budgets(binary, new, tmp):
    out = {}
    fake = Fake()
    env = {**keys(), "MDAGENT_SOURCES_PRIORITY": "alphavantage",
           "MDAGENT_ALPHAVANTAGE_URL": fake.url("alphavantage")}
    ok = 0
    for restart in range(3):
        a = Agent(binary, f"sqlite:{tmp}/av-restarts.db", env, (), new)
        try:
            ok += sum(get(a.port, "/price/IBM?source=alphavantage")[0] == 200 for _ in range(3))
        finally:
            a.stop()
    out["av_restarts"] = (fake.count("/alphavantage/"), 9, ok)
    fake.stop()

    fake = Fake()
    env = {**keys(), "MDAGENT_SOURCES_PRIORITY": "polygon", "MDAGENT_POLYGON_URL": fake.url("polygon")}
    a = Agent(binary, f"sqlite:{tmp}/pg.db", env, (), new)
    try:
        ok = sum(get(a.port, "/price/MSFT?source=polygon")[0] == 200 for _ in range(3))
    finally:
        a.stop()
    out["polygon_fallback"] = (fake.count("/polygon/"), 6, ok)
    fake.stop()

    rport = free_port()
    redis = subprocess.Popen(["redis-server", "--port", str(rport), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
    time.sleep(0.5)
    fake = Fake()
    env = {**keys(), "MDAGENT_SOURCES_PRIORITY": "alphavantage",
           "MDAGENT_ALPHAVANTAGE_URL": fake.url("alphavantage"),
           "MDAGENT_REDIS": f"redis://127.0.0.1:{rport}/0", "MDAGENT_CACHE_PREFIX": "bench:"}
    a = Agent(binary, f"sqlite:{tmp}/two-a.db", env, (), new)
    b = Agent(binary, f"sqlite:{tmp}/two-b.db", env, (), new)
    try:
        ok = 0
        for _ in range(4):
            for agent in (a, b):
                ok += get(agent.port, "/price/IBM?source=alphavantage")[0] == 200
        out["av_two_agents"] = (fake.count("/alphavantage/"), 8, ok)
    finally:
        a.stop()
        b.stop()
        fake.stop()
        redis.terminate()
        redis.wait()
    return out


def report(name, binary, new):
    tmp = tempfile.mkdtemp(prefix="bench-provider-")
    try:
        h = hanging_primary(binary, new, tmp)
        b = budgets(binary, new, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"-- {name}: {binary}")
    for label in ("default", "hedge_ms=200"):
        if label in h:
            (s1, t1), (s2, t2) = h[label]
            print(f"/price, primary hangs ({label}): first {t1 * 1000:.0f} ms ({s1}), "
                  f"9th {t2 * 1000:.0f} ms ({s2})")
    print(f"/sources while four requests hang on the primary: p99 {h['sources_p99'] * 1000:.1f} ms")
    for key, what in (("av_restarts", "Alpha Vantage, 3 restarts x 3 quotes within a minute (5/min)"),
                      ("polygon_fallback", "Polygon, 3 free-plan quotes of 2 requests each (5/min)"),
                      ("av_two_agents", "Alpha Vantage, 2 agents on one Redis x 4 quotes (5/min)")):
        sent, wanted, ok = b[key]
        print(f"{what}: {sent} requests sent of {wanted} wanted, {ok} answered")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", default=os.path.join(SRC, os.environ.get("BUILD", "build"), "mdagent"))
    ap.add_argument("--before", help="an older mdagent to compare with")
    args = ap.parse_args()
    report("this build", args.binary, True)
    if args.before:
        report("before", args.before, False)


if __name__ == "__main__":
    main()
