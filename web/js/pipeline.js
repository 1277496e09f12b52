// pipeline.js - the analytics pipeline on the page (docs/pipeline.md): the screens panel
// (GET /analytics/screens[/{name}] and the screen.<name> stream channels), the correlation
// heat map (GET /analytics/correlation) and the live indicator channels the chart follows
// (ind.<indicator>@<interval>). The pure helpers at the top have no DOM and are tested under
// node (tests/web/pipeline.test.mjs).
import { el, mount, note, fmtNum, fmtTs } from './util.js';

/* -- pure helpers ------------------------------------------------------------------------ */

/** Background of a heat-map cell for a correlation in -1..1: teal for positive, red for
 * negative, stronger with |v|; grey for null. */
export function heatColor(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return 'rgba(139,149,163,0.15)';
  const a = Math.min(1, Math.abs(v));
  const alpha = (0.08 + 0.82 * a).toFixed(3);
  return v >= 0 ? `rgba(38,166,154,${alpha})` : `rgba(239,83,80,${alpha})`;
}

/** The symbols of the heat map: the agent's watchlist (sources.watchlist, as GET
 * /analytics/screens reports it) when it has one; else the symbols its screens watch by
 * name; else the stored symbols with daily (or coarser-aggregatable) bars. At most max. */
export function heatmapSymbols(screensDoc, stored, max = 12) {
  const uniq = (xs) => [...new Set(xs.filter((s) => typeof s === 'string' && s))];
  const wl = uniq((screensDoc && screensDoc.watchlist) || []);
  if (wl.length >= 2) return { symbols: wl.slice(0, max), from: 'watchlist' };
  const listed = uniq(((screensDoc && screensDoc.screens) || []).flatMap((s) => (Array.isArray(s.symbols) ? s.symbols : [])));
  if (listed.length >= 2) return { symbols: listed.slice(0, max), from: 'screens' };
  const daily = (stored || []).filter((s) => Array.isArray(s.intervals) &&
    s.intervals.some((iv) => ['1m', '5m', '15m', '30m', '1h', '4h', '1d'].includes(iv.interval ?? iv)));
  return { symbols: uniq(daily.map((s) => s.symbol)).slice(0, max), from: 'stored' };
}

/** The live indicator channels for the chart: ind.<name>@<interval> for each enabled
 * indicator of defs (psar cannot be computed live: the agent refuses it). */
export function liveChannels(defs, enabled, interval) {
  return (defs || []).filter((d) => enabled.has(d.id) && !/^psar(:|$)/.test(d.name))
    .map((d) => `ind.${d.name}@${interval}`);
}

/** Keeps the newest n events, newest first. */
export function pushEvent(list, m, n = 20) {
  return [m, ...list].slice(0, n);
}

/* -- screens panel -------------------------------------------------------------------------- */

/** doc: GET /analytics/screens; details: name -> GET /analytics/screens/{name}; events: the
 * recent screen messages from the stream, newest first. */
export function renderScreens(body, doc, details, events, { onSymbol } = {}) {
  const screens = doc && Array.isArray(doc.screens) ? doc.screens : [];
  if (!screens.length) {
    mount(body, note('na', 'no screens configured (pipeline.jobs in mdagent.yaml)'));
    return;
  }
  const cards = screens.map((s) => {
    const d = details[s.name];
    const matches = d && Array.isArray(d.matches) ? d.matches : [];
    const run = (d && d.last_run) || s.last_run;
    return el('div', { class: 'screen', dataset: { screen: s.name, matches: String(matches.length) } },
      el('div', { class: 'screen-head' },
        el('b', {}, s.name), el('span', { class: 'muted small' }, ` ${s.schedule} · ${s.interval} · ${Array.isArray(s.symbols) ? s.symbols.length + ' symbols' : s.symbols}`),
        el('span', { class: 'screen-count' }, run ? `${matches.length} / ${run.symbols}` : 'not run yet')),
      el('code', { class: 'screen-cond', title: s.canonical }, s.condition),
      run ? el('div', { class: 'muted small' }, `last run ${fmtTs(run.at)}${run.failed ? ` · ${run.failed} failed` : ''}`) : null,
      matches.length ? el('div', { class: 'chips' }, matches.map((m) => el('button', {
        type: 'button', class: 'chip', dataset: { symbol: m.symbol },
        title: `${Object.entries(m.values || {}).map(([k, v]) => `${k} ${fmtNum(v, 4)}`).join(', ')}\nsince ${fmtTs(m.since)}`,
        onclick: () => onSymbol && onSymbol(m.symbol),
      }, m.symbol))) : null);
  });
  const ev = (events || []).map((m) => el('li', { class: `screen-event ${m.event}`, dataset: { screen: m.screen, symbol: m.symbol, event: m.event } },
    el('span', { class: 'ev-kind' }, m.event === 'enter' ? '▲' : '▼'), ` ${m.symbol} ${m.event === 'enter' ? 'entered' : 'left'} `,
    el('b', {}, m.screen), el('span', { class: 'muted small' }, ` ${fmtTs(m.at)}`)));
  mount(body, cards, ev.length ? el('ul', { class: 'screen-events' }, ev) : null);
}

/* -- correlation heat map ------------------------------------------------------------------- */

/** doc: GET /analytics/correlation; from: where the symbols came from (heatmapSymbols). */
export function renderHeatmap(body, doc, from) {
  const syms = doc && Array.isArray(doc.symbols) ? doc.symbols : [];
  const m = doc && Array.isArray(doc.matrix) ? doc.matrix : [];
  if (syms.length < 2) {
    mount(body, note('na', 'a heat map needs two symbols or more (set sources.watchlist)'));
    return;
  }
  const head = el('tr', {}, el('th', {}), syms.map((s) => el('th', { scope: 'col' }, s)));
  const rows = syms.map((a, i) => el('tr', {}, el('th', { scope: 'row' }, a), syms.map((b, j) => {
    const v = m[i] ? m[i][j] : null;
    return el('td', {
      class: 'heat', style: { background: heatColor(v) },
      dataset: { a, b, value: v === null || v === undefined ? '' : String(v) },
      title: `${a} / ${b}: ${v === null || v === undefined ? 'n/a' : v.toFixed(4)}`,
    }, v === null || v === undefined ? '–' : v.toFixed(2));
  })));
  mount(body,
    el('table', { class: 'heatmap' }, el('thead', {}, head), el('tbody', {}, rows)),
    el('div', { class: 'muted small' }, `${doc.interval} returns, ${doc.observations} rows in common` +
      `${doc.start ? ` (${fmtTs(doc.start)} – ${fmtTs(doc.end)})` : ''}; symbols from the ${from}`));
}
