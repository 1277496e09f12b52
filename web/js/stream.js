// stream.js - the page's WebSocket client of /stream (API.md "WebSocket /stream").
//
//   connect -> welcome -> subscribe (since_seq = last seq seen, so a reconnect fills its gap)
//      ^                         |
//      +-- backoff 1s..30s <-- close/error
//
// Named subscription sets (the chart's symbol, its live indicators, the screens): each is
// sent again on a reconnect and swapped on its own (setNamed), so a refused set (an agent at
// its live-indicator limit) does not take the others with it.
// Messages go to onMessage; state changes ("connecting", "live", "offline") to onState.

export class StreamClient {
  constructor(url, { onMessage, onState } = {}) {
    this.url = url;
    this.onMessage = onMessage || (() => {});
    this.onState = onState || (() => {});
    this.ws = null;
    this.subs = new Map(); // name -> subscribe message (without op)
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
      for (const sub of this.subs.values()) {
        this.send({ op: 'subscribe', ...sub, ...(this.lastSeq ? { since_seq: this.lastSeq } : {}) });
      }
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

  /** Replaces the set named name (sub: {symbols?, channels, partial?}; null drops it):
   * unsubscribes the previous one's channels, subscribes the new one. */
  setNamed(name, sub) {
    const old = this.subs.get(name);
    if (old && old.channels.length) {
      this.send({ op: 'unsubscribe', ...(old.symbols ? { symbols: old.symbols } : {}), channels: old.channels });
    }
    if (sub && sub.channels.length) {
      this.subs.set(name, sub);
      this.send({ op: 'subscribe', ...sub });
    } else {
      this.subs.delete(name);
    }
  }

  /** Subscribes to symbols x channels (the chart's set), unsubscribing the previous one. */
  setSubscription(symbols, channels) {
    this.setNamed('chart', { symbols, channels });
  }
}
