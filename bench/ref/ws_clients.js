// Load client for bench/stream_fanout.sh that is not mdagent's code: N WebSocket clients on
// Node's `ws` package (bench/node_modules), each subscribed to every symbol BS000..BS<S-1>,
// counting the quote messages they receive. Prints READY once every client is subscribed;
// then, after --warmup seconds from the first quote, counts for --duration seconds and prints
//   NODECLIENT label=.. clients=.. msgs_per_s=.. server_cpu_s=.. cpu_us_per_msg=..
// with the server's CPU time (utime + stime of --server-pid from /proc) over the same window.
// Latency is measured by stream_client's own probe client in the same run (one clock).
'use strict';
const fs = require('fs');
const WebSocket = require('ws');

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const port = Number(args.port), clients = Number(args.clients || 1000);
const symbols = Number(args.symbols || 10), warmup = Number(args.warmup || 3);
const duration = Number(args.duration || 10), pid = Number(args['server-pid'] || 0);
const label = args.label || 'server';
const syms = Array.from({ length: symbols }, (_, i) => 'BS' + String(i).padStart(3, '0'));
const tick = 1 / 100; // /proc clock ticks (USER_HZ)

function cpu() {
  if (!pid) return 0;
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(')').pop().trim().split(/\s+/);
  return (Number(f[11]) + Number(f[12])) * tick;
}

let subscribed = 0, received = 0, firstAt = 0, windowStart = 0, counted = 0, cpu0 = 0;
const socks = [];

function onMessage(data) {
  // quotes only; the JSON is parsed like a real client would
  const m = JSON.parse(data);
  if (m.type === 'subscribed') {
    if (++subscribed === clients) console.log('READY');
    return;
  }
  if (m.type !== 'quote') return;
  received++;
  if (!firstAt) {
    firstAt = Date.now();
    setTimeout(() => {
      windowStart = Date.now();
      counted = received;
      cpu0 = cpu();
      setTimeout(finish, duration * 1000);
    }, warmup * 1000);
  }
}

function finish() {
  const secs = (Date.now() - windowStart) / 1000;
  const msgs = received - counted, used = cpu() - cpu0;
  console.log(`NODECLIENT label=${label} clients=${socks.length} msgs_per_s=${(msgs / secs).toFixed(0)} ` +
              `server_cpu_s=${used.toFixed(2)} cpu_us_per_msg=${msgs ? (used * 1e6 / msgs).toFixed(3) : -1}`);
  for (const s of socks) s.terminate();
  process.exit(0);
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
