// metrics.js - plots of the agent's own metrics over time (uPlot): the page scrapes /metrics,
// parses the Prometheus text (prom.js) and keeps a rolling window of figures computed
// between successive scrapes: request rate, latency (all routes, and p50/p99 per route),
// cache hits, source health, process CPU and resident memory.
import { parsePrometheus, rate, buckets, histogramQuantile, hitRatio, select, sum, has, counterDelta, Rolling } from './prom.js';
import { el, mount, note, fmtNum, fmtInt, fmtPct } from './util.js';
import { cacheRatio } from './panels.js';

export const WINDOW_S = 600;
const PALETTE = ['#58a6ff', '#f0b429', '#3fb950', '#f778ba', '#a371f7', '#39c5cf', '#ff7b72', '#d29922'];

const PLOTS = {
  rate: {
    series: { all: { label: 'all', color: '#58a6ff', fill: 'rgba(88,166,255,0.12)' }, errors: { label: '4xx/5xx', color: '#ff7b72' } },
    fmt: (v) => fmtNum(v, 2), empty: 'waiting for a second scrape', range: 'zero',
  },
  latency: {
    series: { p50: { label: 'p50', color: '#3fb950' }, p95: { label: 'p95', color: '#f0b429' }, p99: { label: 'p99', color: '#ff7b72' } },
    fmt: (v) => (v === null ? '–' : `${fmtNum(v, v < 1 ? 3 : 1)}`), empty: 'no requests in the window', range: 'zero',
  },
  cache: {
    series: { all: { label: 'all', color: '#3fb950', fill: 'rgba(63,185,80,0.10)' }, l1: { label: 'L1', color: '#58a6ff' }, l2: { label: 'L2', color: '#a371f7' } },
    fmt: (v) => (v === null ? '–' : `${fmtNum(v, 1)}%`), empty: 'no cache lookups yet', range: 'pct',
  },
  sources: {
    series: {}, // one per source, added as they appear
    fmt: (v) => (v === null ? '–' : `${fmtNum(v, 0)}%`), empty: 'no source reports a health score', range: 'pct',
  },
  route_p50: {
    series: {}, // one per route: the busiest ROUTES_SHOWN routes of each interval
    fmt: (v) => (v === null ? '–' : `${fmtNum(v, v < 1 ? 3 : 1)}`), empty: 'no requests in the window', range: 'zero',
  },
  route_p99: {
    series: {},
    fmt: (v) => (v === null ? '–' : `${fmtNum(v, v < 1 ? 3 : 1)}`), empty: 'no requests in the window', range: 'zero',
  },
  cpu: {
    series: { cpu: { label: 'CPU', color: '#f0b429', fill: 'rgba(240,180,41,0.10)' } },
    fmt: (v) => (v === null ? '–' : `${fmtNum(v, 1)}%`), empty: 'waiting for a second scrape', range: 'zero',
  },
  rss: {
    series: { rss: { label: 'RSS', color: '#a371f7', fill: 'rgba(163,113,247,0.10)' } },
    fmt: (v) => (v === null ? '–' : `${fmtNum(v, 1)} MiB`), empty: 'no process_resident_memory_bytes', range: 'zero',
  },
};
const ROUTES_SHOWN = 6;
const HTTP_DURATION = 'mdagent_http_request_duration_seconds';

/** p50 and p99 (ms) per route between two scrapes, for the ROUTES_SHOWN routes with the most
 * requests between them: [{p50: {route: ms}, p99: {route: ms}}]. */
function routeLatency(prev, cur) {
  const count = `${HTTP_DURATION}_count`;
  const routes = [...new Set(select(cur, count).map((s) => s.labels.route).filter(Boolean))]
    .map((r) => [r, counterDelta(sum(prev, count, { route: r }), sum(cur, count, { route: r })) || 0])
    .filter(([, d]) => d > 0)
    .sort((a, b) => b[1] - a[1])
    .slice(0, ROUTES_SHOWN);
  const out = { p50: {}, p99: {} };
  for (const [r] of routes) {
    const pb = buckets(prev, HTTP_DURATION, { route: r });
    const cb = buckets(cur, HTTP_DURATION, { route: r });
    for (const [k, q] of [['p50', 0.5], ['p99', 0.99]]) {
      const v = histogramQuantile(q, pb, cb);
      out[k][r] = v === null ? null : v * 1000;
    }
  }
  return out;
}

/** "14:05" (or "14:05:30" with seconds) in the viewer's time zone. */
function clock(s, seconds = false) {
  const d = new Date(s * 1000);
  const p = (n) => String(n).padStart(2, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}${seconds ? `:${p(d.getSeconds())}` : ''}`;
}

export class MetricsPlots {
  /** uPlot: the uPlot constructor or null; root: the metrics panel; kpis: the KPI strip. */
  constructor(uPlot, root, kpis) {
    this.uPlot = uPlot;
    this.kpis = kpis;
    this.prev = null;
    this.data = {};
    this.plots = {};
    this.boxes = {};
    this.parseErrors = 0;
    for (const id of Object.keys(PLOTS)) {
      this.data[id] = new Rolling(WINDOW_S);
      this.boxes[id] = root.querySelector(`#plot-${id} .plot-box`);
      if (!uPlot) mount(this.boxes[id], note('na', 'uPlot is not installed (run scripts/install-deps.sh)'));
    }
    if (uPlot && typeof ResizeObserver !== 'undefined') {
      this.ro = new ResizeObserver(() => this.resize());
      for (const b of Object.values(this.boxes)) this.ro.observe(b);
    }
  }

  /** Takes one scrape (the /metrics text) made at tMs. */
  ingest(text, tMs = Date.now()) {
    const cur = parsePrometheus(text);
    this.parseErrors = cur.errors.length;
    const t = tMs / 1000;
    const p = this.prev;
    const dt = p ? t - p.t : 0;
    if (p && dt > 0) {
      const req = 'mdagent_http_requests_total';
      const errNow = select(cur, req).filter((s) => Number(s.labels.status) >= 400).reduce((a, s) => a + s.value, 0);
      const errPrev = select(p.scrape, req).filter((s) => Number(s.labels.status) >= 400).reduce((a, s) => a + s.value, 0);
      const errD = counterDelta(errPrev, errNow);
      this.data.rate.push(t, { all: rate(p.scrape, cur, dt, req), errors: errD === null ? null : errD / dt });
      const pb = buckets(p.scrape, HTTP_DURATION); // every route: sum by le
      const cb = buckets(cur, HTTP_DURATION);
      const q = (x) => { const v = histogramQuantile(x, pb, cb); return v === null ? null : v * 1000; };
      this.data.latency.push(t, { p50: q(0.5), p95: q(0.95), p99: q(0.99) });
      const pct = (v) => (v === null ? null : v * 100);
      this.data.cache.push(t, { all: pct(hitRatio(p.scrape, cur)), l1: pct(hitRatio(p.scrape, cur, 'l1')), l2: pct(hitRatio(p.scrape, cur, 'l2')) });
      const rl = routeLatency(p.scrape, cur);
      this.data.route_p50.push(t, rl.p50);
      this.data.route_p99.push(t, rl.p99);
      const cpu = rate(p.scrape, cur, dt, 'process_cpu_seconds_total'); // CPU seconds per second
      this.data.cpu.push(t, { cpu: cpu === null ? null : cpu * 100 });
    }
    if (has(cur, 'process_resident_memory_bytes')) this.data.rss.push(t, { rss: sum(cur, 'process_resident_memory_bytes') / 1048576 });
    const health = {};
    for (const s of select(cur, 'mdagent_source_health_score')) {
      if (s.labels.source && Number.isFinite(s.value)) health[s.labels.source] = (s.value > 1 ? s.value : s.value * 100);
    }
    this.data.sources.push(t, health);
    this.prev = { scrape: cur, t };
    this.updateKpis(cur);
    this.draw();
    return cur;
  }

  /** The cache panel's figure (/cache/stats: hits over lookups since start), which the
   * header shows too, so the two never disagree; null: the cache is off or unreported. */
  setCacheHit(stats) {
    this.cacheHit = stats && stats.enabled !== false ? cacheRatio(stats) : null;
    this.cacheHitKnown = true;
    if (this.last) this.updateKpis(this.last);
  }

  /** Hits over lookups since start from the /metrics counters, the formula of /cache/stats
   * (a lookup goes to L2 only after an L1 miss): used until the cache panel has reported. */
  static cacheHitSinceStart(cur) {
    const name = 'mdagent_cache_requests_total';
    if (!has(cur, name)) return null;
    const hits = sum(cur, name, { result: 'hit' });
    const lookups = select(cur, name, { level: 'l1' }).length
      ? sum(cur, name, { level: 'l1', result: 'hit' }) + sum(cur, name, { level: 'l1', result: 'miss' })
      : hits + sum(cur, name, { result: 'miss' });
    return lookups > 0 ? Math.min(1, hits / lookups) : null;
  }

  updateKpis(cur) {
    this.last = cur;
    const kv = (k, v, title) => el('div', { class: 'kpi', title }, el('span', { class: 'kpi-v' }, v), el('span', { class: 'kpi-k' }, k));
    const r = this.data.rate.last('all');
    const p95 = this.data.latency.last('p95');
    const hit = this.cacheHitKnown ? this.cacheHit : MetricsPlots.cacheHitSinceStart(cur);
    mount(this.kpis,
      kv('req/s', r === null ? '–' : fmtNum(r, 1), 'HTTP requests per second'),
      kv('p95 ms', p95 === null ? '–' : fmtNum(p95, p95 < 1 ? 2 : 1), '95th percentile response time'),
      el('div', { class: 'kpi', id: 'kpi-cache', title: 'cache hit ratio since start: hits over lookups, as the cache panel shows it' },
        el('span', { class: 'kpi-v' }, fmtPct(hit)), el('span', { class: 'kpi-k' }, 'cache hit')),
      kv('ws clients', has(cur, 'mdagent_stream_clients') ? fmtInt(sum(cur, 'mdagent_stream_clients')) : '–', 'WebSocket clients connected'),
      kv('rows written', has(cur, 'mdagent_store_write_rows_total') ? fmtInt(sum(cur, 'mdagent_store_write_rows_total')) : '–', 'bars written to the store since start'),
      kv('rejected', fmtInt(sum(cur, 'mdagent_ingest_rejected_total')), 'bars and quotes rejected by validation since start'));
  }

  draw() {
    if (!this.uPlot) return;
    for (const [id, def] of Object.entries(PLOTS)) {
      const roll = this.data[id];
      const keys = Object.keys(def.series).length ? Object.keys(def.series) : roll.keys().sort(); // fixed, or as they appear
      const data = roll.data(keys);
      const any = data.slice(1).some((a) => a.some((v) => v !== null));
      const box = this.boxes[id];
      let plot = this.plots[id];
      const sig = keys.join(',');
      if (plot && plot.sig !== sig) {
        plot.u.destroy();
        plot = this.plots[id] = null;
      }
      if (!plot) {
        mount(box);
        const u = new this.uPlot(this.options(id, def, keys, box), data, box);
        plot = this.plots[id] = { u, sig, empty: el('div', { class: 'plot-empty' }, def.empty) };
        box.append(plot.empty);
      } else {
        plot.u.setData(data);
      }
      plot.empty.hidden = any;
    }
  }

  options(id, def, keys, box) {
    const axis = { stroke: '#8b95a3', grid: { stroke: '#1f2630', width: 1 }, ticks: { stroke: '#2a313c', width: 1 }, font: '11px ui-sans-serif, system-ui, sans-serif' };
    return {
      width: Math.max(120, box.clientWidth || 300),
      height: 150,
      legend: { show: true, live: false },
      cursor: { drag: { x: false, y: false }, points: { size: 5 } },
      scales: {
        x: { time: true, range: (u, min, max) => (min === max || min === null ? [(min ?? Date.now() / 1000) - 60, (max ?? Date.now() / 1000) + 1] : [min, max]) },
        y: { range: (u, min, max) => (def.range === 'pct' ? [0, 100] : [0, max > 0 ? max * 1.15 : 1]) },
      },
      axes: [
        { ...axis, space: 70, values: (u, vals) => vals.map((v) => clock(v, vals.length > 1 && vals[1] - vals[0] < 60)) },
        { ...axis, size: 46, values: (u, vals) => vals.map((v) => (def.range === 'pct' ? `${v}%` : fmtNum(v, 2))) },
      ],
      series: [
        { value: (u, v) => (v === null ? '–' : clock(v, true)) },
        ...keys.map((k, i) => {
          const s = def.series[k] || { label: k, color: PALETTE[i % PALETTE.length] };
          return { label: s.label, stroke: s.color, fill: s.fill, width: 1.5, points: { show: false }, spanGaps: false, value: (u, v) => def.fmt(v) };
        }),
      ],
    };
  }

  resize() {
    for (const [id, p] of Object.entries(this.plots)) {
      const w = this.boxes[id].clientWidth;
      if (p && w > 0 && Math.abs(p.u.width - w) > 1) p.u.setSize({ width: w, height: 150 });
    }
  }

  /** Points held per plot (tests). */
  points() {
    return Object.fromEntries(Object.entries(this.data).map(([k, r]) => [k, r.xs.length]));
  }
}
