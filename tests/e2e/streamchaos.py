"""Stream clients for the cluster's chaos test (test_cluster.py), run as one process of
many: N WebSocket clients (Python `websockets`) on the front URL subscribe to one symbol's
quotes and record every quote they get. When their connection breaks (an agent killed or
drained) they reconnect through the front and resume with since_seq, the last seq they saw
(or the subscription's seq when they saw none). Quote k carries the price BASE + k / 100;
tick 0 is the last one the feeder sends.

    streamchaos.py WS_URL SYMBOL N_CLIENTS OUT.json

Prints "ready" once every client is subscribed, then waits until every client has tick 0
(or the deadline) and writes per-client results to OUT.json: the ticks in order of arrival,
reconnects, and resumes answered with replay_complete false."""
import asyncio
import json
import random
import sys
import time

import websockets

BASE = 100.0
DEADLINE_S = 150


def tick_of(price):
    return round((price - BASE) * 100)


async def client(url, symbol, ready, out):
    last = None
    rec = {"ticks": [], "reconnects": 0, "incomplete": 0, "errors": []}
    out.append(rec)
    deadline = time.monotonic() + DEADLINE_S
    subscribed = False
    while time.monotonic() < deadline:
        try:
            async with websockets.connect(url, open_timeout=10, close_timeout=2,
                                          max_size=2 ** 22) as ws:
                sub = {"op": "subscribe", "symbols": [symbol], "channels": ["quote"]}
                if last is not None:
                    sub["since_seq"] = last
                await ws.send(json.dumps(sub))
                while True:
                    raw = await asyncio.wait_for(ws.recv(), max(1, deadline - time.monotonic()))
                    m = json.loads(raw)
                    t = m.get("type")
                    if t == "subscribed":
                        if "since_seq" in sub and not m.get("replay_complete"):
                            rec["incomplete"] += 1
                        if last is None:
                            last = m["seq"]
                        if not subscribed:
                            subscribed = True
                            ready.set_result(None) if not ready.done() else None
                    elif t == "quote":
                        k = tick_of(m["price"])
                        rec["ticks"].append(k)
                        last = m["seq"]
                        if k == 0:
                            return
                    elif t == "error":
                        rec["errors"].append(m)
        except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException) as e:
            if len(rec["errors"]) < 5:
                rec["errors"].append(f"{type(e).__name__}: {e}")
        rec["reconnects"] += 1
        await asyncio.sleep(0.1 + random.random() * 0.4)


async def main(url, symbol, n, path):
    out = []
    readies = [asyncio.get_running_loop().create_future() for _ in range(n)]
    tasks = []
    for i in range(n):
        tasks.append(asyncio.create_task(client(url, symbol, readies[i], out)))
        if i % 50 == 49:
            await asyncio.sleep(0.05)  # do not open every connection in one burst
    await asyncio.wait_for(asyncio.gather(*readies), 60)
    print("ready", flush=True)
    await asyncio.gather(*tasks)
    with open(path, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    url, symbol, n, path = sys.argv[1:5]
    asyncio.run(main(url, symbol, int(n), path))
