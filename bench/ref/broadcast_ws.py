#!/usr/bin/python3
"""Reference for bench/stream_fanout.sh: a minimal broadcast server on Python's `websockets`
(Debian python3-websockets), speaking the subset of mdagent's /stream protocol the benchmark
uses. Clients connect to /stream, get a welcome, subscribe to symbols and receive quote
messages of the same shape as mdagent's; the feeder sends batches {"quotes":[...]} on /feed.
Each tick is encoded once and handed to websockets.broadcast() for its subscribers (the
library's own fan-out: one frame written per client per message)."""
import asyncio
import json
import sys
import time

import websockets

subs = {}  # symbol -> set of connections
seq = 0


def iso(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def publish(q):
    global seq
    seq += 1
    targets = subs.get(q["symbol"])
    if not targets:
        return
    msg = json.dumps({"type": "quote", "seq": seq, "symbol": q["symbol"], "price": q["price"],
                      "timestamp": iso(q["timestamp"]), "source": "ingest"}, separators=(",", ":"))
    websockets.broadcast(targets, msg)


async def handler(ws, path):
    if path == "/feed":
        async for msg in ws:
            for q in json.loads(msg)["quotes"]:
                publish(q)
        return
    mine = []
    await ws.send(json.dumps({"type": "welcome", "server_time": iso(int(time.time())),
                              "session": str(id(ws))}, separators=(",", ":")))
    try:
        async for msg in ws:
            try:
                m = json.loads(msg)
            except ValueError:
                await ws.send('{"type":"error","code":"invalid_json","message":"invalid JSON"}')
                continue
            if m.get("op") == "subscribe":
                syms = [s.upper() for s in m.get("symbols", [])]
                for s in syms:
                    subs.setdefault(s, set()).add(ws)
                    mine.append(s)
                await ws.send(json.dumps({"type": "subscribed", "symbols": syms,
                                          "channels": ["quote"]}, separators=(",", ":")))
            elif m.get("op") == "ping":
                await ws.send('{"type":"pong"}')
    finally:
        for s in mine:
            subs.get(s, set()).discard(ws)


async def main(port):
    async with websockets.serve(handler, "127.0.0.1", port, compression=None, max_size=1 << 22,
                                backlog=4096):
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
