// stream.js - the page's WebSocket client of /stream (API.md "WebSocket /stream").
//
//   connect -> welcome -> subscribe (since_seq = last seq seen, so a reconnect fills its gap)
//      ^                         |
//      +-- backoff 1s..30s <-- close/error
//
// One subscription set at a time (the charted symbol); setSubscription() swaps it.
// Messages go to onMessage; state changes ("connecting", "live", "offline") to onState.

export class StreamClient {
  constructor(url, { onMessage, onState } = {}) {
    this.url = url;
    this.onMessage = onMessage || (() => {});
    this.onState = onState || (() => {});
    this.ws = null;
    this.sub = null;       // {symbols, channels}
    this.lastSeq = 0;      // highest seq received
    this.backoffMs = 1000;
    this.timer = null;
    this.closed = false;
    this.state = 'off';
    this.received = 0;
  }

  start() {
    this.closed = false;
    this.connect();
  }

  stop() {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000, 'page closed');
    this.ws = null;
    this.setState('off');
  }

  setState(s, detail) {
    this.state = s;
    this.onState(s, detail);
  }

  connect() {
    if (this.closed) return;
    this.setState('connecting');
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (e) {
      this.retry(e.message);
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.backoffMs = 1000;
      this.setState('live');
      if (this.sub) this.send({ op: 'subscribe', ...this.sub, ...(this.lastSeq ? { since_seq: this.lastSeq } : {}) });
    };
    ws.onmessage = (ev) => {
      let m;
      try {
        m = JSON.parse(ev.data);
      } catch {
        return; // not ours to break on
      }
      if (!m || typeof m !== 'object') return;
      if (Number.isFinite(m.seq) && m.seq > this.lastSeq) this.lastSeq = m.seq;
      this.received++;
      if (m.type === 'lagged') this.setState('live', `caught up after dropping ${m.dropped}`);
      this.onMessage(m);
    };
    ws.onclose = () => {
      if (this.ws === ws) this.ws = null;
      this.retry();
    };
    ws.onerror = () => { /* onclose follows and retries */ };
  }

  retry(detail) {
    if (this.closed) return;
    this.setState('offline', detail);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), this.backoffMs);
    this.backoffMs = Math.min(this.backoffMs * 2, 30000);
  }

  send(obj) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(obj));
  }

  /** Subscribes to symbols x channels, unsubscribing the previous set first. */
  setSubscription(symbols, channels) {
    if (this.sub) this.send({ op: 'unsubscribe', symbols: this.sub.symbols, channels: this.sub.channels });
    this.sub = { symbols, channels };
    this.send({ op: 'subscribe', symbols, channels });
  }
}
