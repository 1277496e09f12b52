// chart.js - candlesticks and volume of one symbol at one interval (lightweight-charts), with
// indicator overlays from /analytics (SMA, EMA, Bollinger bands and VWAP on the price pane,
// RSI and MACD in panes of their own), updated live by /stream messages: bars and quotes move
// the candles, "indicator" messages (ind.<indicator>@<interval> channels) the indicator lines.
import { el, mount, fmtNum, fmtInt, fmtTs, epochS } from './util.js';

export const INTERVALS = ['1m', '5m', '15m', '30m', '1h', '4h', '1d', '1w', '1mo'];
const SECONDS = { '1m': 60, '5m': 300, '15m': 900, '30m': 1800, '1h': 3600, '4h': 14400, '1d': 86400, '1w': 604800, '1mo': 2678400 };

export const INDICATORS = [
  { id: 'sma20', name: 'sma:20', label: 'SMA 20', kind: 'line', color: '#f0b429' },
  { id: 'ema50', name: 'ema:50', label: 'EMA 50', kind: 'line', color: '#58a6ff' },
  { id: 'bb', name: 'bbands:20:2', label: 'BB 20·2', kind: 'bands', color: '#a371f7' },
  { id: 'vwap', name: 'vwap', label: 'VWAP', kind: 'line', color: '#39c5cf' },
  { id: 'rsi', name: 'rsi:14', label: 'RSI 14', kind: 'rsi', color: '#d2a8ff' },
  { id: 'macd', name: 'macd:12:26:9', label: 'MACD', kind: 'macd', color: '#58a6ff' },
];

// Every other indicator of the agent's table (GET /analytics/indicators, from
// analytics/indicators.def) at its defaults: price-scale ones over the candles, the others in
// a pane of their own, one line per output. The six above keep their own drawing.
const PALETTE = ['#ff7b72', '#7ee787', '#ffa657', '#79c0ff', '#d2a8ff', '#f778ba', '#e3b341', '#56d4dd'];
export function tableIndicators(table) {
  const rows = (table && Array.isArray(table.indicators)) ? table.indicators : [];
  const known = new Set(rows.map((r) => r.name));
  const own = INDICATORS.filter((d) => known.has(d.name.split(':')[0]));
  const ownNames = new Set(own.map((d) => d.name.split(':')[0]));
  const extra = rows.filter((r) => !ownNames.has(r.name)).map((r, i) => ({
    id: r.name, name: r.default, label: r.default.toUpperCase().replace(/:/g, ' '),
    kind: r.scale === 'price' ? 'overlay' : 'pane', outputs: r.outputs.map((o) => o.name),
    color: PALETTE[i % PALETTE.length], extra: true,
  }));
  return own.concat(extra);
}

const UP = '#26a69a';
const histColor = (v) => (v >= 0 ? 'rgba(38,166,154,0.6)' : 'rgba(239,83,80,0.6)');
const DOWN = '#ef5350';

/** Index of an interval in INTERVALS (-1 when unknown). */
export function intervalRank(iv) {
  return INTERVALS.indexOf(iv);
}

/** Start of the bucket of interval iv that holds epoch second ts (UTC; weeks start on
 * Monday, months on the 1st), as API.md aligns bars. */
export function bucketStart(ts, iv) {
  if (iv === '1mo') {
    const d = new Date(ts * 1000);
    return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) / 1000;
  }
  if (iv === '1w') {
    const monday = 4 * 86400; // 1970-01-05 was a Monday
    return Math.floor((ts - monday) / 604800) * 604800 + monday;
  }
  const s = SECONDS[iv] || 60;
  return Math.floor(ts / s) * s;
}

/* Decimals to show: what the prices carry, at least 2, and no more than about five
 * significant digits' worth (50.0625 -> 4, 1.08345 -> 5, 5473.72 -> 2, 0.00123 -> 8). */
function decimals(bars) {
  let d = 2;
  let maxAbs = 0;
  for (const b of bars.slice(-200)) {
    for (const v of [b.open, b.close]) {
      maxAbs = Math.max(maxAbs, Math.abs(v));
      const s = String(v);
      const i = s.indexOf('.');
      if (i >= 0 && !s.includes('e')) d = Math.max(d, s.length - i - 1);
    }
  }
  const cap = maxAbs > 0 ? Math.max(2, 5 - Math.floor(Math.log10(maxAbs))) : 2;
  return Math.min(d, cap, 10);
}

export class PriceChart {
  /** container: the chart box; legend: the element above it; L: the lightweight-charts module. */
  constructor(container, legend, L) {
    this.L = L;
    this.container = container;
    this.legend = legend;
    this.symbol = null;
    this.interval = null;
    this.bars = [];
    this.byTime = new Map();
    this.extra = []; // indicator series, removed on every reload
    this.lines = new Map(); // indicator name -> {output name -> series} (live updates)
    this.live = new Map();  // indicator name -> Map(time -> message): values from the stream
    this.liveCount = 0;
    this.defs = INDICATORS; // the indicators the toggles offer (tableIndicators)
    this.chart = L.createChart(container, {
      autoSize: true,
      layout: {
        background: { type: L.ColorType.Solid, color: 'transparent' },
        textColor: '#9aa4b2',
        fontSize: 11,
        fontFamily: 'ui-sans-serif, system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
        panes: { separatorColor: '#2a313c', separatorHoverColor: '#3a4452', enableResize: true },
      },
      grid: { vertLines: { color: '#1b212a' }, horzLines: { color: '#1b212a' } },
      rightPriceScale: { borderColor: '#2a313c' },
      timeScale: { borderColor: '#2a313c', rightOffset: 4, barSpacing: 7 },
      crosshair: { mode: L.CrosshairMode.Normal },
    });
    this.candles = this.chart.addSeries(L.CandlestickSeries, {
      upColor: UP, downColor: DOWN, borderVisible: false, wickUpColor: UP, wickDownColor: DOWN,
    });
    this.candles.priceScale().applyOptions({ scaleMargins: { top: 0.06, bottom: 0.24 } });
    this.volume = this.chart.addSeries(L.HistogramSeries, {
      priceFormat: { type: 'volume' }, priceScaleId: 'vol', lastValueVisible: false, priceLineVisible: false,
    });
    this.chart.priceScale('vol').applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
    this.chart.subscribeCrosshairMove((p) => this.showLegend(p && p.time !== undefined ? this.byTime.get(p.time) : null));
  }

  /** Replaces everything: bars from /historical, ind from /analytics/indicators (or null),
   * enabled: the INDICATORS ids to draw. */
  setData(symbol, interval, bars, ind, enabled) {
    this.symbol = symbol;
    this.interval = interval;
    this.live = new Map();
    const seen = new Set();
    this.bars = [];
    for (const b of bars) {
      const t = epochS(b.timestamp);
      if (t === null || seen.has(t) || !(Number.isFinite(b.open) && Number.isFinite(b.close))) continue;
      if (this.bars.length && t < this.bars[this.bars.length - 1].time) continue;
      seen.add(t);
      this.bars.push({ time: t, open: b.open, high: b.high, low: b.low, close: b.close, volume: Number(b.volume) || 0 });
    }
    this.byTime = new Map(this.bars.map((b) => [b.time, b]));
    const prec = decimals(this.bars);
    this.precision = prec;
    this.candles.applyOptions({ priceFormat: { type: 'price', precision: prec, minMove: 10 ** -prec } });
    this.chart.applyOptions({ timeScale: { timeVisible: SECONDS[interval] < 86400, secondsVisible: false } });
    this.candles.setData(this.bars.map(({ time, open, high, low, close }) => ({ time, open, high, low, close })));
    this.showVolume(this.bars.some((b) => b.volume > 0));
    this.setIndicators(ind, enabled);
    this.chart.timeScale().fitContent();
    const n = this.bars.length;
    if (n > 160) this.chart.timeScale().setVisibleLogicalRange({ from: n - 160, to: n + 3 });
    this.showLegend(null);
  }

  /* Index data has no volume: then the price takes the whole pane (zero-height volume bars
   * would draw a dotted line along the bottom). */
  showVolume(on) {
    this.hasVolume = on;
    this.volume.setData(on ? this.bars.map((b) => this.volBar(b)) : []);
    this.candles.priceScale().applyOptions({ scaleMargins: { top: 0.06, bottom: on ? 0.24 : 0.06 } });
  }

  volBar(b) {
    return { time: b.time, value: b.volume, color: b.close >= b.open ? 'rgba(38,166,154,0.45)' : 'rgba(239,83,80,0.45)' };
  }

  setIndicators(ind, enabled) {
    for (const s of this.extra) this.chart.removeSeries(s);
    this.extra = [];
    this.lines = new Map();
    if (!ind || !Array.isArray(ind.timestamps) || !ind.indicators) return;
    const times = ind.timestamps.map(epochS);
    const line = (arr) => {
      const out = [];
      if (!Array.isArray(arr)) return out;
      for (let i = 0; i < times.length && i < arr.length; i++) {
        if (times[i] !== null && arr[i] !== null && Number.isFinite(arr[i])) out.push({ time: times[i], value: arr[i] });
      }
      return out;
    };
    const add = (type, opts, data, pane = 0) => {
      const s = this.chart.addSeries(type, { lastValueVisible: false, priceLineVisible: false, crosshairMarkerVisible: false, ...opts }, pane);
      s.setData(data);
      this.extra.push(s);
      return s;
    };
    const L = this.L;
    let pane = 0;
    for (const def of this.defs) {
      if (!enabled.has(def.id)) continue;
      const v = ind.indicators[def.name];
      if (v === undefined) continue;
      const out = {}; // the series of each output, for the live values ("value": one output)
      if (def.kind === 'line') {
        out.value = add(L.LineSeries, { color: def.color, lineWidth: 2, title: def.label }, line(v));
      } else if (def.kind === 'bands' && v && typeof v === 'object') {
        out.upper = add(L.LineSeries, { color: def.color, lineWidth: 1, title: 'BB' }, line(v.upper));
        out.middle = add(L.LineSeries, { color: def.color, lineWidth: 1, lineStyle: L.LineStyle.Dotted }, line(v.middle));
        out.lower = add(L.LineSeries, { color: def.color, lineWidth: 1 }, line(v.lower));
      } else if (def.kind === 'rsi') {
        pane += 1;
        const s = add(L.LineSeries, { color: def.color, lineWidth: 2, title: 'RSI 14', lastValueVisible: true }, line(v), pane);
        for (const level of [70, 30]) s.createPriceLine({ price: level, color: '#4b5563', lineWidth: 1, lineStyle: L.LineStyle.Dashed, axisLabelVisible: false });
        out.value = s;
      } else if (def.kind === 'overlay' || def.kind === 'pane') {
        const series = Array.isArray(v) ? { value: v } : (v || {});
        if (def.kind === 'pane') pane += 1;
        def.outputs.forEach((o, k) => {
          out[def.outputs.length === 1 ? 'value' : o] = add(L.LineSeries, {
            color: def.color, lineWidth: k ? 1 : 2, lineStyle: k ? L.LineStyle.Dotted : L.LineStyle.Solid,
            title: k ? o : def.label, lastValueVisible: def.kind === 'pane' && !k,
          }, line(series[def.outputs.length === 1 ? 'value' : o] ?? series[o]), def.kind === 'pane' ? pane : 0);
        });
      } else if (def.kind === 'macd' && v && typeof v === 'object') {
        pane += 1;
        const h = line(v.histogram).map((p) => ({ ...p, color: histColor(p.value) }));
        out.histogram = add(L.HistogramSeries, { title: '' }, h, pane);
        out.macd = add(L.LineSeries, { color: '#58a6ff', lineWidth: 2, title: 'MACD', lastValueVisible: true }, line(v.macd), pane);
        out.signal = add(L.LineSeries, { color: '#f0b429', lineWidth: 1, title: 'signal' }, line(v.signal), pane);
      }
      this.lines.set(def.name, out);
      // values the stream brought since the page loaded the series
      for (const m of (this.live.get(def.name) || new Map()).values()) this.drawIndicator(m);
    }
    const panes = this.chart.panes();
    if (panes.length > 1) {
      panes[0].setStretchFactor(panes.length > 2 ? 2.6 : 3.2);
      for (let i = 1; i < panes.length; i++) panes[i].setStretchFactor(1);
    }
  }

  /** An indicator message from /stream (ind.<indicator>@<interval>, API.md): the value at
   * its bar, drawn on the indicator's series (a forming bar's value, "partial", is replaced
   * by the next one of that bar). Returns whether it was the chart's. */
  applyIndicator(m) {
    if (m.symbol !== this.symbol || m.interval !== this.interval || typeof m.indicator !== 'string') return false;
    const t = epochS(m.timestamp);
    if (t === null) return false;
    if (!this.live.has(m.indicator)) this.live.set(m.indicator, new Map());
    this.live.get(m.indicator).set(t, m);
    this.liveCount++;
    this.drawIndicator(m);
    return true;
  }

  drawIndicator(m) {
    const out = this.lines.get(m.indicator);
    if (!out) return;
    const t = epochS(m.timestamp);
    const values = m.values && typeof m.values === 'object' ? m.values : { value: m.value };
    for (const [name, v] of Object.entries(values)) {
      const s = out[name];
      if (!s || v === null || !Number.isFinite(v)) continue;
      try { /* a value older than the series' last point cannot be drawn: skipped */
        s.update(name === 'histogram' ? { time: t, value: v, color: histColor(v) } : { time: t, value: v });
      } catch { /* older than the last point */ }
    }
  }

  /** A bar message from /stream ({"type":"bar","symbol","interval","timestamp",OHLCV}). */
  applyBar(m) {
    if (m.symbol !== this.symbol || m.interval !== this.interval) return false;
    const t = epochS(m.timestamp);
    const last = this.bars[this.bars.length - 1];
    if (t === null || (last && t < last.time)) return false;
    const b = { time: t, open: m.open, high: m.high, low: m.low, close: m.close, volume: Number(m.volume) || 0 };
    this.put(b);
    return true;
  }

  /** The newest bars from a /historical poll (when there is no stream): each one at or after
   * the last bar drawn replaces or extends it. Returns how many were applied. */
  mergeTail(symbol, interval, bars) {
    if (symbol !== this.symbol || interval !== this.interval) return 0;
    let n = 0;
    for (const m of bars) {
      const t = epochS(m.timestamp);
      const last = this.bars[this.bars.length - 1];
      if (t === null || (last && t < last.time) || !Number.isFinite(m.close)) continue;
      const b = { time: t, open: m.open, high: m.high, low: m.low, close: m.close, volume: Number(m.volume) || 0 };
      if (last && last.time === t && last.open === b.open && last.high === b.high && last.low === b.low &&
          last.close === b.close && last.volume === b.volume) continue;
      this.put(b);
      n++;
    }
    return n;
  }

  /** A quote message: moves the last bar's close (and high/low), or opens the next bar. */
  applyQuote(m) {
    if (m.symbol !== this.symbol || !Number.isFinite(m.price)) return false;
    const t = epochS(m.timestamp);
    const last = this.bars[this.bars.length - 1];
    if (t === null || !last) return false;
    const start = bucketStart(t, this.interval);
    if (start < last.time) return false;
    const p = m.price;
    const b = start === last.time
      ? { ...last, high: Math.max(last.high, p), low: Math.min(last.low, p), close: p }
      : { time: start, open: p, high: p, low: p, close: p, volume: 0 };
    this.put(b);
    return true;
  }

  put(b) {
    const last = this.bars[this.bars.length - 1];
    if (last && last.time === b.time) this.bars[this.bars.length - 1] = b;
    else this.bars.push(b);
    this.byTime.set(b.time, b);
    this.candles.update({ time: b.time, open: b.open, high: b.high, low: b.low, close: b.close });
    if (this.hasVolume) this.volume.update(this.volBar(b));
    else if (b.volume > 0) this.showVolume(true);
    this.showLegend(null);
  }

  showLegend(bar) {
    const b = bar || this.bars[this.bars.length - 1];
    if (!b) return mount(this.legend, el('span', { class: 'lg-sym' }, this.symbol || ''));
    const i = this.bars.indexOf(b);
    const prev = i > 0 ? this.bars[i - 1] : null;
    const chg = prev ? (b.close - prev.close) / prev.close : null;
    const d = decimals([b]);
    const f = (v) => fmtNum(v, d);
    mount(this.legend,
      el('span', { class: 'lg-sym' }, this.symbol), el('span', { class: 'lg-iv' }, this.interval),
      el('span', { class: 'lg-t' }, fmtTs(b.time)),
      ['O', b.open, 'H', b.high, 'L', b.low, 'C', b.close].reduce((acc, x, k, arr) => {
        if (k % 2 === 0) acc.push(el('span', { class: 'lg-kv' }, el('b', {}, x), ' ', f(arr[k + 1])));
        return acc;
      }, []),
      el('span', { class: 'lg-kv' }, el('b', {}, 'V'), ' ', fmtInt(b.volume)),
      chg === null ? null : el('span', { class: `lg-chg ${chg >= 0 ? 'up' : 'down'}` }, `${chg >= 0 ? '+' : ''}${(chg * 100).toFixed(2)}%`));
  }

  /** Number of bars drawn (for tests and the note). */
  get count() {
    return this.bars.length;
  }
}
