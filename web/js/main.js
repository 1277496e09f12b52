// main.js - the dashboard's wiring: discovers what the agent serves, loads the chart
// libraries that are installed, polls the status endpoints, draws the chart of the chosen
// symbol and interval (kept in the URL hash: #symbol=MSFT&interval=1w) and follows /stream.
//
// The page asks for stored data only (cached_only=true): viewing it never makes the agent
// call a provider or spend a provider's quota.
//
// Polling: health and metrics every refresh period (2 s by default), sources and cache every
// max(refresh, 5 s), symbols and the quality report every 30 s. A poll waits for the previous
// one, and nothing is polled while the tab is hidden or refresh is paused.
import { Api, streamUrl } from './api.js';
import { el, mount, note, fmtDuration, fmtClock, fmtInt, fmtTs, statusClass } from './util.js';
import { renderHealth, renderCluster, renderSources, renderCache, renderQuality, renderSymbols, symbolList } from './panels.js';
import { PriceChart, INTERVALS, INDICATORS, tableIndicators, intervalRank } from './chart.js';
import { MetricsPlots } from './metrics.js';
import { StreamClient } from './stream.js';
import { renderScreens, renderHeatmap, heatmapSymbols, liveChannels, pushEvent } from './pipeline.js';

const $ = (id) => document.getElementById(id);
const BAR_LIMIT = 1500;
const DEFAULT_INDICATORS = ['sma20', 'ema50', 'rsi'];

const state = {
  api: new Api(),
  L: null,
  uPlot: null,
  chart: null,
  metrics: null,
  stream: null,
  health: null,
  symbols: [],
  symbol: null,
  interval: null,
  adjust: 'splits',     // the chart's prices: none (as traded), splits, all (API.md "Adjustment")
  enabled: loadEnabled(),
  indicators: INDICATORS, // the toggles: the agent's table once read (tableIndicators)
  ind: null,
  filter: '',
  refreshMs: 2000,
  loadToken: 0,
  screens: null,        // GET /analytics/screens
  screenDetails: {},    // name -> GET /analytics/screens/{name}
  screenEvents: [],     // screen messages from the stream, newest first
  heatKey: '',          // the heat map's symbols and interval last asked
};
window.mdDashboard = state; // for a look from the console (and the browser test)

function loadEnabled() {
  try {
    const v = JSON.parse(localStorage.getItem('mdagent.indicators'));
    if (Array.isArray(v)) return new Set(v.filter((x) => typeof x === 'string'));
  } catch { /* storage off or bad value: defaults */ }
  return new Set(DEFAULT_INDICATORS);
}

function saveEnabled() {
  try {
    localStorage.setItem('mdagent.indicators', JSON.stringify([...state.enabled]));
  } catch { /* storage off */ }
}

/* -- polling --------------------------------------------------------------------------- */

function every(periodMs, fn) {
  const run = async () => {
    const p = periodMs();
    if (p > 0 && !document.hidden) {
      try {
        await fn();
      } catch (e) {
        console.warn('dashboard: poll failed', e);
      }
    }
    setTimeout(run, p > 0 ? p : 1000);
  };
  run();
}

/* -- header and health ----------------------------------------------------------------- */

async function pollHealth() {
  const { api } = state;
  // /health says how the components are, /health/ready whether the agent takes traffic (503
  // while it starts and from SIGTERM on, while it drains, when /health still says ok)
  const [r, ready] = await Promise.all([api.get('/health'), api.has('/health/ready') ? api.get('/health/ready') : null]);
  const h = r.data && typeof r.data === 'object' && r.data.status ? r.data : null;
  state.health = h;
  const st = $('status');
  if (!h) {
    st.dataset.status = 'down';
    st.dataset.ready = 'false';
    st.title = '';
    $('status-text').textContent = `unreachable: ${r.error || 'no answer'}`;
    mount($('health'), note('err', r.error || 'no answer from /health'));
    return;
  }
  const unready = ready && !ready.ok && h.status !== 'down';
  st.dataset.status = unready ? 'warn' : statusClass(h.status);
  st.dataset.ready = ready ? String(ready.ok) : '';
  st.title = ready && !ready.ok ? `/health/ready: ${ready.error}` : '';
  $('status-text').textContent = unready ? `${h.status} · not ready` : String(h.status);
  $('fact-version').textContent = h.version ?? '–';
  $('fact-uptime').textContent = fmtDuration(h.uptime_s);
  const store = h.components && h.components.store;
  $('fact-store').textContent = store ? `${store.kind ?? ''} ${store.status ?? ''}`.trim() : '–';
  $('fact-updated').textContent = fmtClock();
  renderHealth($('health'), h);
  setTitle();
  maybeStartStream();
}

/* Whether a component is configured, per /health ("disabled" when not). */
function componentOn(name) {
  const c = state.health && state.health.components && state.health.components[name];
  if (!c) return null;
  const s = typeof c === 'object' ? c.status : c;
  return s !== 'disabled';
}

async function pollMetrics() {
  const r = await state.api.get('/metrics', { text: true });
  if (r.ok) state.metrics.ingest(r.data, Date.now());
}

/* A panel fed by one endpoint: "not available" when the agent lacks the route, else what
 * the endpoint says (they answer 200 with their own "disabled" state when the component is
 * off in the configuration). */
async function pollPanel(bodyId, route, render) {
  const body = $(bodyId);
  if (!state.api.has(route)) {
    mount(body, note('na', `not available: this agent does not serve ${route}`));
    body.dataset.state = 'na';
    return;
  }
  const r = await state.api.get(route);
  if (!r.ok) {
    mount(body, note('err', r.error));
    body.dataset.state = 'error';
    return;
  }
  render(body, r.data);
  body.dataset.state = 'ok';
}

/* -- symbols and chart ----------------------------------------------------------------- */

async function pollSymbols() {
  const r = await state.api.get('/symbols');
  if (!r.ok) {
    mount($('symbols'), note('err', r.error));
    return;
  }
  state.symbols = symbolList(r.data).sort((a, b) => a.symbol.localeCompare(b.symbol));
  $('symbols-count').textContent = state.symbols.length ? String(state.symbols.length) : '';
  drawSymbols();
  const sel = $('chart-symbol');
  const want = state.symbols.map((s) => s.symbol).join(',');
  if (sel.dataset.list !== want) {
    mount(sel, state.symbols.map((s) => el('option', { value: s.symbol }, s.symbol)));
    sel.dataset.list = want;
  }
  if (!state.symbol && state.symbols.length) {
    const fromHash = readHash();
    const known = fromHash.symbol && state.symbols.find((s) => s.symbol === fromHash.symbol);
    // without a choice in the URL: the symbol with the newest data
    const newest = [...state.symbols].sort((a, b) => String(b.last).localeCompare(String(a.last)) || a.symbol.localeCompare(b.symbol))[0];
    selectSymbol(known ? known.symbol : newest.symbol, known ? fromHash.interval : null);
  } else if (state.symbol) {
    sel.value = state.symbol;
  }
}

function drawSymbols() {
  renderSymbols($('symbols'), state.symbols, { selected: state.symbol, filter: state.filter, onSymbol: (s) => selectSymbol(s) });
}

function readHash() {
  const p = new URLSearchParams(window.location.hash.slice(1));
  return { symbol: (p.get('symbol') || '').toUpperCase() || null, interval: p.get('interval'), adjust: p.get('adjust') };
}

function writeHash() {
  // the default adjustment (splits, as the agent's) is left out of the address
  const adj = state.adjust !== 'splits' ? `&adjust=${encodeURIComponent(state.adjust)}` : '';
  const h = `#symbol=${encodeURIComponent(state.symbol)}&interval=${encodeURIComponent(state.interval)}${adj}`;
  if (window.location.hash !== h) history.replaceState(null, '', h);
}

/* Intervals that can be charted for a symbol: its finest stored interval and coarser ones
 * (the agent aggregates coarser bars from finer ones). */
function intervalsFor(symbol) {
  const s = state.symbols.find((x) => x.symbol === symbol);
  const ranks = (s && Array.isArray(s.intervals) ? s.intervals : []).map((iv) => intervalRank(iv.interval ?? iv)).filter((r) => r >= 0);
  if (!ranks.length) return INTERVALS.slice();
  return INTERVALS.slice(Math.min(...ranks));
}

function selectSymbol(symbol, interval = null) {
  const allowed = intervalsFor(symbol);
  const s = state.symbols.find((x) => x.symbol === symbol);
  const stored = s && Array.isArray(s.intervals) && s.intervals.length ? (s.intervals[0].interval ?? s.intervals[0]) : allowed[0];
  let iv = interval || state.interval;
  if (!allowed.includes(iv)) iv = allowed.includes(stored) ? stored : allowed[0];
  state.symbol = symbol;
  state.interval = iv;
  $('chart-symbol').value = symbol;
  drawIntervals();
  drawSymbols();
  loadChart();
}

function drawIntervals() {
  const allowed = new Set(intervalsFor(state.symbol));
  mount($('chart-intervals'), INTERVALS.map((iv) => el('button', {
    type: 'button',
    class: iv === state.interval ? 'on' : undefined,
    disabled: !allowed.has(iv),
    title: allowed.has(iv) ? `${iv} bars` : `no data finer than ${[...allowed][0]} stored for ${state.symbol}`,
    dataset: { interval: iv },
    onclick: () => { state.interval = iv; drawIntervals(); loadChart(); },
  }, iv)));
}

/* The adjustment toggle: what /historical and /analytics are asked (adjust=) and which bar
 * channel the stream serves (bar.<iv>@<mode>; raw is the plain bar.<iv>). */
const ADJUSTMENTS = [
  { id: 'none', label: 'raw', title: 'prices as traded' },
  { id: 'splits', label: 'split-adj', title: 'adjusted for splits (prices before a split divided by its ratio, volumes multiplied)' },
  { id: 'all', label: 'total-adj', title: 'adjusted for splits and cash dividends' },
];

function drawAdjust() {
  mount($('chart-adjust'), ADJUSTMENTS.map((a) => el('button', {
    type: 'button',
    class: a.id === state.adjust ? 'on' : undefined,
    title: a.title,
    'aria-pressed': a.id === state.adjust ? 'true' : 'false',
    dataset: { adjust: a.id },
    onclick: () => { state.adjust = a.id; drawAdjust(); loadChart(); },
  }, a.label)));
}

function drawIndicatorToggles() {
  const box = $('chart-indicators');
  if (!state.api.has('/analytics/{symbol}/indicators')) {
    mount(box, el('span', { class: 'muted small' }, 'indicators not available'));
    return;
  }
  mount(box, state.indicators.map((d) => el('button', {
    type: 'button',
    class: `tog${state.enabled.has(d.id) ? ' on' : ''}`,
    dataset: { indicator: d.id },
    style: { '--tog': d.color },
    'aria-pressed': state.enabled.has(d.id) ? 'true' : 'false',
    onclick: () => {
      if (state.enabled.has(d.id)) state.enabled.delete(d.id);
      else state.enabled.add(d.id);
      saveEnabled();
      drawIndicatorToggles();
      // the table's other indicators are asked for only while shown
      if (d.extra && state.enabled.has(d.id)) loadChart();
      else if (state.chart) state.chart.setIndicators(state.ind, state.enabled);
      subscribeChart();
    },
  }, d.label)));
}

/* The tab title: the charted symbol's last price, then the agent's status. */
function setTitle() {
  const bars = state.chart ? state.chart.bars : [];
  // the close as the chart's legend shows it (its precision), not the double's 17 digits
  const last = bars.length ? bars[bars.length - 1].close.toFixed(state.chart.precision ?? 2) : null;
  const status = state.health ? state.health.status : null;
  document.title = [state.symbol && last !== null ? `${state.symbol} ${last}` : state.symbol, status && status !== 'ok' ? status.toUpperCase() : null, 'mdagent']
    .filter(Boolean).join(' · ');
}

function chartNote(text) {
  const n = $('chart-note');
  n.hidden = !text;
  n.textContent = text || '';
}

/* The names asked for: the dashboard's own six always (toggling them needs no new request),
 * the table's others while shown (at most 16 in all, as the agent takes). */
function indicatorNames() {
  const defs = state.indicators;
  const own = defs.filter((d) => !d.extra).map((d) => d.name);
  const shown = defs.filter((d) => d.extra && state.enabled.has(d.id)).map((d) => d.name);
  return own.concat(shown).slice(0, 16);
}

/* order=desc answers list the newest first; the chart wants the oldest first. */
function oldestFirst(hist, ind) {
  if (hist && hist.ok && hist.data && hist.data.order === 'desc' && Array.isArray(hist.data.bars)) {
    hist.data.bars.reverse();
    hist.data.order = 'asc';
  }
  const d = ind && ind.ok ? ind.data : null;
  if (!d || d.order !== 'desc') return;
  for (const k of ['timestamps', 'partial', 'close']) if (Array.isArray(d[k])) d[k].reverse();
  for (const v of Object.values(d.indicators || {})) {
    if (Array.isArray(v)) v.reverse();
    else for (const s of Object.values(v || {})) if (Array.isArray(s)) s.reverse();
  }
  d.order = 'asc';
}

async function loadChart() {
  const { api, symbol, interval } = state;
  if (!symbol || !interval) return;
  const token = ++state.loadToken;
  const panel = $('panel-chart');
  panel.dataset.loading = 'true';
  writeHash();
  const sym = encodeURIComponent(symbol);
  // the newest BAR_LIMIT bars: a limited answer takes the oldest end unless order=desc,
  // which lists newest first (oldestFirst turns both answers around for the chart)
  const adj = `&adjust=${state.adjust}`;
  const histP = api.get(`/historical/${sym}?interval=${interval}&limit=${BAR_LIMIT}&order=desc&cached_only=true${adj}`);
  const indP = api.has('/analytics/{symbol}/indicators')
    ? api.get(`/analytics/${sym}/indicators?interval=${interval}&limit=${BAR_LIMIT}&order=desc&cached_only=true${adj}&names=${indicatorNames().join(',')}`)
    : Promise.resolve(null);
  const [hist, ind] = await Promise.all([histP, indP]);
  oldestFirst(hist, ind);
  if (token !== state.loadToken) return; // a newer choice is loading
  panel.dataset.loading = 'false';
  if (!state.chart) {
    chartNote(state.L ? 'chart library failed to start' : 'charts need lightweight-charts: run scripts/install-deps.sh');
    return;
  }
  const bars = hist.ok && hist.data && Array.isArray(hist.data.bars) ? hist.data.bars : [];
  state.ind = ind && ind.ok ? ind.data : null;
  state.chart.setData(symbol, interval, bars, state.ind, state.enabled);
  if (!hist.ok) chartNote(`no bars: ${hist.error}`);
  else if (!bars.length) chartNote(`no ${interval} bars stored for ${symbol}`);
  else if (ind && !ind.ok) chartNote(`indicators unavailable: ${ind.error}`);
  // a longer history than BAR_LIMIT is cut: say so, or the chart passes for all of it
  else if (hist.data.truncated) chartNote(`the newest ${fmtInt(bars.length)} ${interval} bars, from ${fmtTs(bars[0].timestamp)}: older ones are not drawn`);
  else chartNote('');
  panel.dataset.truncated = String(Boolean(hist.ok && hist.data && hist.data.truncated));
  panel.dataset.symbol = symbol;
  panel.dataset.interval = interval;
  panel.dataset.adjust = state.adjust;
  panel.dataset.bars = String(state.chart.count);
  setTitle();
  subscribeChart();
}

/* The chart's stream subscriptions: bars and quotes of the symbol, and the live values of the
 * indicators shown (forming-bar values too, so the lines follow the last candle) - a set of
 * their own, so an agent at its live-indicator limit refuses only those. */
function subscribeChart() {
  const { stream, symbol, interval } = state;
  if (!stream || !symbol || !interval) return;
  const bars = state.adjust === 'none' ? `bar.${interval}` : `bar.${interval}@${state.adjust}`;
  stream.setSubscription([symbol], [bars, 'quote']);
  const ind = state.api.has('/analytics/{symbol}/indicators') ? liveChannels(state.indicators, state.enabled, interval) : [];
  stream.setNamed('indicators', { symbols: [symbol], channels: ind, partial: true });
}

/* -- screens and correlation ------------------------------------------------------------- */

async function pollScreens() {
  const body = $('screens');
  if (!state.api.has('/analytics/screens')) {
    mount(body, note('na', 'not available: this agent does not serve /analytics/screens'));
    body.dataset.state = 'na';
    return;
  }
  const r = await state.api.get('/analytics/screens');
  if (!r.ok) {
    mount(body, note('err', r.error));
    body.dataset.state = 'error';
    return;
  }
  state.screens = r.data;
  const names = (r.data.screens || []).map((s) => s.name);
  const details = await Promise.all(names.map((n) => state.api.get(`/analytics/screens/${encodeURIComponent(n)}`)));
  state.screenDetails = {};
  names.forEach((n, i) => { if (details[i].ok) state.screenDetails[n] = details[i].data; });
  drawScreens();
  body.dataset.state = 'ok';
  const heat = heatmapSymbols(state.screens, state.symbols);
  if (heat.symbols.join(',') !== state.heatKey) pollHeatmap(); // the watchlist is known now
  if (state.stream) state.stream.setNamed('screens', { channels: names.map((n) => `screen.${n}`) });
}

function drawScreens() {
  renderScreens($('screens'), state.screens, state.screenDetails, state.screenEvents, { onSymbol: (s) => selectSymbol(s) });
}

async function pollHeatmap() {
  const body = $('corr');
  if (!state.api.has('/analytics/correlation')) {
    mount(body, note('na', 'not available: this agent does not serve /analytics/correlation'));
    body.dataset.state = 'na';
    return;
  }
  const { symbols, from } = heatmapSymbols(state.screens, state.symbols);
  state.heatKey = symbols.join(',');
  if (symbols.length < 2) {
    renderHeatmap(body, { symbols }, from);
    body.dataset.state = 'ok';
    return;
  }
  const r = await state.api.get(`/analytics/correlation?symbols=${symbols.map(encodeURIComponent).join(',')}&interval=1d&cached_only=true`);
  if (!r.ok) {
    mount(body, note('err', r.error));
    body.dataset.state = 'error';
    return;
  }
  renderHeatmap(body, r.data, from);
  body.dataset.state = 'ok';
  body.dataset.symbols = symbols.join(',');
  $('corr-sub').textContent = `daily returns of the ${from}`;
}

/* -- live updates ------------------------------------------------------------------------ */

/* Without a live stream, the newest bars of the chart are polled every refresh period. */
async function pollChartTail() {
  const { api, symbol, interval, chart } = state;
  if (!chart || !symbol || !interval || $('panel-chart').dataset.loading !== 'false') return;
  if (state.stream && state.stream.state === 'live') return;
  const token = state.loadToken;
  const r = await api.get(`/historical/${encodeURIComponent(symbol)}?interval=${interval}&limit=3&order=desc&cached_only=true&adjust=${state.adjust}`);
  if (token !== state.loadToken || !r.ok || !r.data || !Array.isArray(r.data.bars)) return;
  oldestFirst(r, null);
  if (chart.mergeTail(symbol, interval, r.data.bars)) {
    $('panel-chart').dataset.bars = String(chart.count);
    setTitle();
  }
}

function streamAvailable() {
  return state.api.has('/stream') || componentOn('stream') === true;
}

function maybeStartStream() {
  const live = $('chart-live');
  if (state.stream || !state.health) return;
  if (!streamAvailable()) {
    live.dataset.state = 'polling';
    live.querySelector('.live-text').textContent = 'polling';
    live.title = 'this agent does not stream (/stream not available): the newest bars are polled every refresh period';
    return;
  }
  state.stream = new StreamClient(streamUrl(), {
    onState: (s, detail) => {
      live.dataset.state = s;
      live.querySelector('.live-text').textContent = s === 'live' ? 'live' : s;
      live.title = detail ? `${s}: ${detail}` : `stream ${s}`;
    },
    onMessage: (m) => {
      if (!state.chart) return;
      if (m.type === 'bar') state.chart.applyBar(m);
      else if (m.type === 'quote') state.chart.applyQuote(m);
      else if (m.type === 'indicator') {
        if (state.chart.applyIndicator(m)) $('panel-chart').dataset.liveIndicators = String(state.chart.liveCount);
      } else if (m.type === 'screen') {
        state.screenEvents = pushEvent(state.screenEvents, m);
        $('screens').dataset.events = String(state.screenEvents.length);
        drawScreens();
        pollScreens(); // the new matches
      } else if (m.type === 'error') console.warn('stream:', m.code, m.message);
      if (m.type === 'bar' || m.type === 'quote') {
        $('panel-chart').dataset.live = String(state.stream.received);
        $('panel-chart').dataset.bars = String(state.chart.count);
        setTitle();
      }
    },
  });
  subscribeChart();
  if (state.screens) state.stream.setNamed('screens', { channels: (state.screens.screens || []).map((s) => `screen.${s.name}`) });
  state.stream.start();
}

/* -- start ------------------------------------------------------------------------------- */

async function loadLibs() {
  const libs = state.api.libs || {};
  if (libs['lightweight-charts']) {
    try {
      state.L = await import(libs['lightweight-charts']);
    } catch (e) {
      console.warn('dashboard: lightweight-charts did not load', e);
    }
  }
  if (libs.uplot) {
    try {
      state.uPlot = (await import(libs.uplot)).default;
      const css = libs.uplot.replace(/uPlot\.esm\.js$/, 'uPlot.min.css');
      document.head.append(el('link', { rel: 'stylesheet', href: css }));
    } catch (e) {
      console.warn('dashboard: uPlot did not load', e);
    }
  }
}

async function start() {
  const { api } = state;
  if (!(await api.init())) {
    $('status').dataset.status = 'bad';
    $('status-text').textContent = 'cannot reach the agent';
  }
  await loadLibs();
  if (state.L) state.chart = new PriceChart($('chart'), $('chart-legend'), state.L);
  else chartNote('charts need lightweight-charts: run scripts/install-deps.sh');
  state.metrics = new MetricsPlots(state.uPlot, $('panel-metrics'), $('kpis'));
  if (api.has('/analytics/indicators')) {
    const t = await api.get('/analytics/indicators');
    if (t.ok) state.indicators = tableIndicators(t.data);
  }
  if (state.chart) state.chart.defs = state.indicators;
  drawIndicatorToggles();
  const adj0 = readHash().adjust;
  if (ADJUSTMENTS.some((a) => a.id === adj0)) state.adjust = adj0;
  drawAdjust();
  $('foot-text').textContent = `mdagent ${api.version ?? ''} · ${api.routes.size} routes · data from this agent's REST API`;

  $('chart-symbol').addEventListener('change', (e) => selectSymbol(e.target.value));
  $('symbols-filter').addEventListener('input', (e) => { state.filter = e.target.value; drawSymbols(); });
  $('refresh').addEventListener('change', (e) => { state.refreshMs = Number(e.target.value); });
  window.addEventListener('hashchange', () => {
    const h = readHash();
    const adj = ADJUSTMENTS.some((a) => a.id === h.adjust) ? h.adjust : 'splits';
    if (adj !== state.adjust) {
      state.adjust = adj;
      drawAdjust();
      if (h.symbol === state.symbol) loadChart();
    }
    if (h.symbol && (h.symbol !== state.symbol || (h.interval && h.interval !== state.interval))) selectSymbol(h.symbol, h.interval);
  });

  const fast = () => state.refreshMs;
  const medium = () => (state.refreshMs ? Math.max(state.refreshMs, 5000) : 0);
  const slow = () => (state.refreshMs ? 30000 : 0);
  every(fast, async () => {
    await pollHealth();
    await pollMetrics();
    await pollChartTail();
  });
  every(fast, async () => {
    await pollPanel('cluster', '/cluster', renderCluster);
  });
  every(medium, async () => {
    if (!state.health) await pollHealth();
    await Promise.all([
      pollPanel('sources', '/sources', renderSources),
      pollPanel('cache', '/cache/stats', (body, d) => { renderCache(body, d); state.metrics.setCacheHit(d); }),
    ]);
  });
  every(medium, async () => {
    await pollScreens();
  });
  every(slow, async () => {
    await pollSymbols();
    await pollHeatmap();
  });
  every(slow, async () => {
    await Promise.all([
      pollPanel('quality', '/quality/report', (body, d) => renderQuality(body, d, (s, iv) => selectSymbol(s, iv))),
    ]);
  });
  document.body.dataset.ready = 'true';
}

start();
