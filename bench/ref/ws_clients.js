// Load client for bench/stream_fanout.sh that is not mdagent's code: N WebSocket clients on
// Node's `ws` package (bench/node_modules), each subscribed to every symbol BS000..BS<S-1>,
// counting the quote messages they receive. Prints READY once every client is subscribed;
// then, after --warmup seconds from the first quote, counts for --duration seconds and prints
//   NODECLIENT label=.. clients=.. msgs_per_s=.. server_cpu_s=.. cpu_us_per_msg=..
// with the server's CPU time (utime + stime of --server-pid from /proc) over the same window,
// and this process's own CPU per message read (client_us_per_msg).
// With --sent-file, the clients' own latency too: every quote's price is its tick id, each
// receipt is kept (tick id, CLOCK_MONOTONIC time from performance.now()), and the feeder
// (stream_client --sent-file) leaves every tick's send time in that file when it has fed the
// last one; then, for the ticks sent in the feeder's window,
//   NODELAT label=.. expected=.. delivered=.. missing=.. p50_ms=.. p99_ms=.. max_ms=..
'use strict';
const fs = require('fs');
const WebSocket = require('ws');

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const port = Number(args.port), clients = Number(args.clients || 1000);
const symbols = Number(args.symbols || 10), warmup = Number(args.warmup || 3);
const duration = Number(args.duration || 10), pid = Number(args['server-pid'] || 0);
const label = args.label || 'server';
const sentFile = args['sent-file'] || '';
const syms = Array.from({ length: symbols }, (_, i) => 'BS' + String(i).padStart(3, '0'));
const tick = 1 / 100; // /proc clock ticks (USER_HZ)

function cpu() {
  if (!pid) return 0;
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(')').pop().trim().split(/\s+/);
  return (Number(f[11]) + Number(f[12])) * tick;
}

let subscribed = 0, received = 0, firstAt = 0, windowStart = 0, counted = 0, cpu0 = 0, own0 = null;
const socks = [];

// receipts: tick id and time (ns, CLOCK_MONOTONIC: performance.now() counts from
// performance.timeOrigin on libuv's monotonic clock, offset once here)
const { performance } = require('perf_hooks');
const clockOffsetNs = Number(process.hrtime.bigint()) - performance.now() * 1e6;
let recIds = new Float64Array(1 << 20), recNs = new Float64Array(1 << 20), nRec = 0;
function keep(id) {
  if (nRec === recIds.length) {
    const a = new Float64Array(nRec * 2), b = new Float64Array(nRec * 2);
    a.set(recIds); b.set(recNs);
    recIds = a; recNs = b;
  }
  recIds[nRec] = id;
  recNs[nRec++] = performance.now();
}

function onMessage(data) {
  // quotes only; the JSON is parsed like a real client would
  const m = JSON.parse(data);
  if (m.type === 'subscribed') {
    if (++subscribed === clients) console.log('READY');
    return;
  }
  if (m.type !== 'quote') return;
  received++;
  if (sentFile) keep(m.price);
  if (!firstAt) {
    firstAt = Date.now();
    setTimeout(() => {
      windowStart = Date.now();
      counted = received;
      cpu0 = cpu();
      own0 = process.cpuUsage();
      setTimeout(finish, duration * 1000);
    }, warmup * 1000);
  }
}

function finish() {
  const secs = (Date.now() - windowStart) / 1000;
  const msgs = received - counted, used = cpu() - cpu0;
  const own = process.cpuUsage(own0), ownS = (own.user + own.system) / 1e6;
  console.log(`NODECLIENT label=${label} clients=${socks.length} msgs_per_s=${(msgs / secs).toFixed(0)} ` +
              `server_cpu_s=${used.toFixed(2)} cpu_us_per_msg=${msgs ? (used * 1e6 / msgs).toFixed(3) : -1} ` +
              `client_us_per_msg=${msgs ? (ownS * 1e6 / msgs).toFixed(3) : -1}`);
  if (sentFile) awaitSendTimes(Date.now());
  else end();
}

function end() {
  for (const s of socks) s.terminate();
  process.exit(0);
}

// The feeder writes the file after its last tick; the clients keep reading until 3 s after
// that (a server behind still delivers, and those latencies count), at most 120 s.
function awaitSendTimes(since) {
  if (!fs.existsSync(sentFile)) {
    if (Date.now() - since > 120000) { console.error('ws_clients: no send times'); end(); }
    setTimeout(() => awaitSendTimes(since), 100);
    return;
  }
  let last = received;
  const quiet = () => {
    if (received !== last && Date.now() - since < 120000) { last = received; setTimeout(quiet, 3000); return; }
    latency();
    end();
  };
  setTimeout(quiet, 3000);
}

function latency() {
  const buf = fs.readFileSync(sentFile);
  const v = new BigInt64Array(buf.buffer, buf.byteOffset, buf.length / 8);
  const first = Number(v[0]), last = Number(v[1]);
  const lat = [];
  for (let i = 0; i < nRec; i++) {
    const id = recIds[i];
    if (id < first || id > last || id + 2 >= v.length) continue;
    lat.push((recNs[i] * 1e6 + clockOffsetNs - Number(v[id + 2])) / 1e6);
  }
  lat.sort((a, b) => a - b);
  const expected = first ? (last - first + 1) * socks.length : 0;
  const at = (q) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(lat.length * q))].toFixed(2) : -1);
  console.log(`NODELAT label=${label} expected=${expected} delivered=${lat.length} ` +
              `missing=${expected - lat.length} p50_ms=${at(0.5)} p99_ms=${at(0.99)} ` +
              `max_ms=${lat.length ? lat[lat.length - 1].toFixed(2) : -1}`);
}

let opened = 0;
function open() {
  if (opened >= clients) return;
  opened++;
  const ws = new WebSocket(`ws://127.0.0.1:${port}/stream`, { perMessageDeflate: false });
  socks.push(ws);
  let welcomed = false;
  ws.on('message', (data) => {
    if (!welcomed) {
      welcomed = true;
      ws.send(JSON.stringify({ op: 'subscribe', symbols: syms }));
      open();
      return;
    }
    onMessage(data);
  });
  ws.on('error', (e) => { console.error('client error', e.message); });
}
for (let i = 0; i < 64; i++) open();
