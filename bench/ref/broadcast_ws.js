// Reference for bench/stream_fanout.sh: a minimal broadcast server on Node's `ws` package
// (npm, installed into bench/node_modules from bench/package.json), speaking the subset of
// mdagent's /stream protocol the benchmark uses: welcome, subscribe -> subscribed, quote
// messages of the same shape; the feeder sends batches {"quotes":[...]} on /feed. Each tick
// is encoded once (one Buffer) and sent to every subscriber with ws.send (one frame written
// per client per message).
'use strict';
const { WebSocketServer } = require('ws');

const port = Number(process.argv[2]);
const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false, backlog: 4096,
                                  maxPayload: 1 << 22 });
const subs = new Map(); // symbol -> Set of connections
let seq = 0;
let sessions = 0;

const iso = (ts) => new Date(ts * 1000).toISOString().replace('.000Z', 'Z');

function publish(q) {
  seq++;
  const set = subs.get(q.symbol);
  if (!set) return;
  const buf = Buffer.from(JSON.stringify({ type: 'quote', seq, symbol: q.symbol, price: q.price,
                                           timestamp: iso(q.timestamp), source: 'ingest' }));
  for (const ws of set) ws.send(buf, { binary: false });
}

wss.on('connection', (ws, req) => {
  if (req.url === '/feed') {
    ws.on('message', (data) => { for (const q of JSON.parse(data).quotes) publish(q); });
    return;
  }
  const mine = [];
  ws.send(JSON.stringify({ type: 'welcome', server_time: iso(Math.floor(Date.now() / 1000)),
                           session: String(++sessions) }));
  ws.on('message', (data) => {
    let m;
    try { m = JSON.parse(data); } catch (e) {
      ws.send('{"type":"error","code":"invalid_json","message":"invalid JSON"}');
      return;
    }
    if (m.op === 'subscribe') {
      const syms = (m.symbols || []).map((s) => String(s).toUpperCase());
      for (const s of syms) {
        if (!subs.has(s)) subs.set(s, new Set());
        subs.get(s).add(ws);
        mine.push(s);
      }
      ws.send(JSON.stringify({ type: 'subscribed', symbols: syms, channels: ['quote'] }));
    } else if (m.op === 'ping') {
      ws.send('{"type":"pong"}');
    }
  });
  ws.on('close', () => { for (const s of mine) { const set = subs.get(s); if (set) set.delete(ws); } });
});
