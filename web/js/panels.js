// panels.js - the status panels: health, deployment, sources, cache, data quality and symbols. Each
// render function takes the panel body and the endpoint's JSON (API.md shapes), and copes
// with fields that are missing or added later: unknown numeric fields are still shown.
import { el, mount, note, fmtInt, fmtNum, fmtPct, fmtBytes, fmtDuration, fmtTs, label, statusClass } from './util.js';

function badge(text, cls = statusClass(text)) {
  return el('span', { class: `badge ${cls}` }, text ?? '–');
}

function meter(frac, title) {
  const f = Number.isFinite(frac) ? Math.max(0, Math.min(1, frac)) : null;
  const cls = f === null ? 'muted' : f >= 0.8 ? 'good' : f >= 0.5 ? 'warn' : 'bad';
  return el('span', { class: `meter ${cls}`, title: title || (f === null ? 'unknown' : fmtPct(f, 0)) },
    el('span', { class: 'meter-fill', style: { width: `${f === null ? 0 : f * 100}%` } }),
    el('span', { class: 'meter-text' }, f === null ? '–' : fmtPct(f, 0)));
}

function scalarText(k, v) {
  if (v === null || v === undefined) return '–';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'number') {
    if (/bytes$/.test(k)) return fmtBytes(v);
    if (/_ms$/.test(k)) return `${fmtNum(v, 3)} ms`;
    if (/_s$/.test(k)) return fmtDuration(v);
    if (/(^|_)(ratio|rate)$/.test(k) && v <= 1) return fmtPct(v);
    return Number.isInteger(v) ? fmtInt(v) : fmtNum(v, 3);
  }
  if (typeof v === 'string') return /^\d{4}-\d\d-\d\dT/.test(v) ? fmtTs(v) : v;
  return JSON.stringify(v);
}

/* -- health ------------------------------------------------------------------------------ */

/* [key, scalar] pairs of an object, nested objects one level down as "parent_child". */
function flatten(obj) {
  const out = [];
  for (const [k, v] of Object.entries(obj)) {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      for (const [k2, v2] of Object.entries(v)) out.push([`${k}_${k2}`, v2 && typeof v2 === 'object' ? JSON.stringify(v2) : v2]);
    } else {
      out.push([k, v]);
    }
  }
  return out;
}

export function renderHealth(body, h) {
  const comps = h && typeof h.components === 'object' && h.components ? Object.entries(h.components) : [];
  mount(body,
    el('div', { class: 'health-top' },
      el('div', { class: `big-status ${statusClass(h.status)}`, id: 'health-status' }, String(h.status ?? 'unknown')),
      el('dl', { class: 'kv' },
        el('dt', {}, 'version'), el('dd', {}, h.version ?? '–'),
        el('dt', {}, 'uptime'), el('dd', {}, fmtDuration(h.uptime_s)))),
    el('table', { class: 'tbl components' },
      el('thead', {}, el('tr', {}, el('th', {}, 'component'), el('th', {}, 'status'), el('th', {}, 'details'))),
      el('tbody', {}, comps.map(([name, c]) => {
        const obj = c && typeof c === 'object' ? c : { status: c };
        const details = flatten(obj).filter(([k]) => k !== 'status')
          .map(([k, v]) => el('span', { class: 'detail', title: typeof v === 'string' ? v : undefined }, el('span', { class: 'detail-k' }, label(k.replace(/_(ms|s|bytes)$/, ''))), ' ', scalarText(k, v)));
        return el('tr', { dataset: { component: name } }, el('td', {}, name), el('td', {}, badge(obj.status)), el('td', { class: 'details' }, details));
      }))));
}

/* -- deployment (GET /cluster) ----------------------------------------------------------------- */

/** Every agent of the deployment side by side, as each announces itself (API.md /cluster):
 * state, health, request rate, stream clients, worker queue depth. The agent serving the page
 * is marked; "shared": false means the list is that agent alone (no Redis, or unreachable). */
function fmtRate(v) {
  if (!Number.isFinite(v)) return '–';
  return v < 100 ? v.toFixed(2) : fmtNum(v, 0);
}

export function renderCluster(body, d) {
  const list = d && Array.isArray(d.agents) ? d.agents : null;
  if (!list) return mount(body, note('err', 'unexpected answer from /cluster'));
  const rows = list.map((a) => el('tr', { dataset: { agent: a.id ?? '', state: a.state ?? '' }, class: a.id === d.self ? 'self' : undefined },
    el('td', { title: a.url || undefined }, el('span', { class: 'src-name' }, a.id ?? '?'), a.id === d.self ? el('span', { class: 'tag' }, 'this') : null),
    el('td', {}, badge(a.state, a.state === 'ready' ? 'good' : a.state === 'draining' ? 'warn' : 'muted')),
    el('td', {}, badge(a.health)),
    // requests/s in plain decimals (a quiet agent's 0.09 is not 9.00e-2); the exact figure
    // is the cell's title
    el('td', { class: 'num', dataset: { k: 'rate' }, title: Number.isFinite(a.request_rate) ? `${a.request_rate} requests/s` : undefined },
      fmtRate(a.request_rate)),
    el('td', { class: 'num', dataset: { k: 'clients' } }, fmtInt(a.stream_clients)),
    el('td', { class: 'num', dataset: { k: 'queue' } }, fmtInt(a.queue_depth)),
    el('td', { class: 'err-cell', title: a.seen ? `last heartbeat ${a.seen}` : undefined }, a.version ?? '–')));
  mount(body,
    d.shared === false ? note('na', d.error || 'this agent alone: no Redis shared with other agents') : null,
    el('table', { class: 'tbl', id: 'cluster-table' },
      el('thead', {}, el('tr', {}, ['agent', 'state', 'health', 'req/s', 'stream clients', 'queue', 'version'].map((t) => el('th', {}, t)))),
      el('tbody', {}, rows)));
}

/* -- sources ------------------------------------------------------------------------------ */

function rateTitle(rl) {
  const parts = [];
  if (rl.per_minute) parts.push(`${rl.per_minute}/min`);
  if (rl.per_day) parts.push(`${rl.per_day}/day`);
  if (rl.reset_s > 0) parts.push(`resets in ${fmtDuration(rl.reset_s)}`);
  return parts.join(', ') || 'no limit';
}

function lastCell(s) {
  if (s.enabled === false) return el('td', { class: 'err-cell muted', title: s.reason || undefined }, s.reason || 'disabled');
  if (s.last_error) {
    return el('td', { class: 'err-cell bad-text', title: `${s.last_error}${s.last_error_at ? ` (${fmtTs(s.last_error_at)})` : ''}` }, s.last_error);
  }
  return el('td', { class: 'err-cell', title: s.last_success ? `last success ${s.last_success}` : undefined },
    s.last_success ? `ok ${fmtTs(s.last_success)}` : '–');
}

export function renderSources(body, d) {
  const list = Array.isArray(d) ? d : (d && Array.isArray(d.sources) ? d.sources : null);
  if (!list) return mount(body, note('err', 'unexpected answer from /sources'));
  if (list.length === 0) return mount(body, note('na', 'no sources configured'));
  const rows = list.map((s) => {
    const hs = Number(s.health_score);
    const rl = s.rate_limit && typeof s.rate_limit === 'object' ? s.rate_limit : null;
    return el('tr', { dataset: { source: s.name }, class: s.enabled === false ? 'disabled' : undefined },
      el('td', {}, el('span', { class: 'src-name' }, s.name ?? '?'), s.enabled === false ? el('span', { class: 'tag' }, 'off') : null),
      el('td', { class: 'num' }, s.priority ?? '–'),
      // a disabled source is asked nothing: its circuit and health say nothing either
      el('td', {}, s.enabled === false ? badge('disabled', 'muted') : badge(String(s.circuit ?? '–').replace('_', '-'), statusClass(s.circuit))),
      el('td', { class: 'health' }, s.enabled === false
        ? el('span', { class: 'muted', title: s.reason || 'not configured' }, 'disabled')
        : meter(Number.isFinite(hs) ? (hs > 1 ? hs / 100 : hs) : NaN)),
      el('td', { class: 'num', title: rl ? rateTitle(rl) : undefined },
        rl ? `${rl.remaining ?? '∞'}${rl.reset_s > 0 ? ` · ${fmtDuration(rl.reset_s)}` : ''}` : '–'),
      el('td', { class: 'num' }, fmtInt(s.requests)),
      el('td', { class: 'num' }, fmtInt(s.failures)),
      lastCell(s));
  });
  mount(body, el('table', { class: 'tbl' },
    el('thead', {}, el('tr', {}, ['source', 'prio', 'circuit', 'health', 'rate limit', 'requests', 'failures', 'last'].map((t) => el('th', { class: t === 'last' ? 'err-cell' : undefined }, t)))),
    el('tbody', {}, rows)));
}

/* -- cache -------------------------------------------------------------------------------- */

const CACHE_MAIN = ['hits', 'misses', 'hit_ratio', 'entries', 'bytes'];

/** Hit ratio (0..1) of a /cache/stats object or level; null without lookups. The header's
 * "cache hit" uses it too, so the header and the panel show the same figure. */
export function cacheRatio(v) {
  if (!v || typeof v !== 'object') return null;
  if (typeof v.hit_ratio === 'number' && (v.hits || v.misses)) return v.hit_ratio;
  const h = Number(v.hits); const m = Number(v.misses);
  return h + m > 0 ? h / (h + m) : null;
}

export function renderCache(body, d) {
  if (!d || typeof d !== 'object') return mount(body, note('err', 'unexpected answer from /cache/stats'));
  // levels: {"levels":{"l1":{...},"l2":{...}}}, {"l1":{...},"l2":{...}} or [{level,...}]
  const src = d.levels && typeof d.levels === 'object' ? d.levels : d;
  const levels = Array.isArray(src)
    ? src.map((x, i) => [x.level || x.name || `level ${i + 1}`, x])
    : Object.entries(src).filter(([, v]) => v && typeof v === 'object' && !Array.isArray(v));
  const ratio = cacheRatio;
  const memory = (v) => fmtBytes(v.bytes);
  const state = (v) => {
    const st = v.status ?? (v.enabled === false ? 'disabled' : null);
    return st ? badge(st) : '';
  };
  const parts = [];
  const top = [];
  if (d.status !== undefined) top.push(el('span', { class: 'chip' }, el('span', { class: 'chip-k' }, 'status'), ' ', badge(d.status)));
  else if (d.enabled !== undefined) top.push(el('span', { class: 'chip' }, el('span', { class: 'chip-k' }, 'enabled'), ' ', d.enabled ? 'yes' : 'no'));
  if (typeof d.hits === 'number' && typeof d.misses === 'number') {
    top.push(el('span', { class: 'chip', dataset: { total: 'hit_ratio' } }, el('span', { class: 'chip-k' }, 'hit ratio'), ' ',
      `${fmtPct(ratio(d))} of ${fmtInt(d.hits + d.misses)} lookups`));
  }
  if (top.length) parts.push(el('div', { class: 'chips top' }, top));
  if (levels.length) {
    parts.push(el('table', { class: 'tbl cache-levels' },
      el('thead', {}, el('tr', {}, ['level', 'state', 'hits', 'misses', 'hit ratio', 'entries', 'memory'].map((t, i) => el('th', { class: i >= 2 ? 'num' : undefined }, t)))),
      el('tbody', {}, levels.map(([name, v]) => el('tr', { dataset: { level: name } },
        el('td', {}, el('span', { class: 'sym' }, name.toUpperCase())),
        el('td', {}, state(v)),
        el('td', { class: 'num' }, fmtInt(v.hits)),
        el('td', { class: 'num' }, fmtInt(v.misses)),
        el('td', { class: 'num' }, fmtPct(ratio(v))),
        el('td', { class: 'num' }, fmtInt(v.entries)),
        el('td', { class: 'num', title: typeof v.max_bytes === 'number' ? `limit ${fmtBytes(v.max_bytes)}` : undefined }, memory(v)))))));
    // the other figures of each level, as a line under the table
    for (const [name, v] of levels) {
      const rest = Object.entries(v).filter(([k, x]) => !CACHE_MAIN.includes(k) && !['status', 'enabled'].includes(k) && x !== null && typeof x !== 'object');
      if (!rest.length) continue;
      parts.push(el('div', { class: 'chips level-more' }, el('span', { class: 'chip-k' }, `${name.toUpperCase()}:`),
        rest.map(([k, x]) => el('span', { class: 'chip' }, el('span', { class: 'chip-k' }, k === 'max_bytes' ? 'limit' : label(k)), ' ',
          typeof x === 'string' && statusClass(x) !== 'muted' ? badge(x) : scalarText(k, x)))));
    }
  }
  if (!parts.length) parts.push(note('na', 'the cache reports no figures'));
  mount(body, parts);
}

/* -- data quality ------------------------------------------------------------------------- */

function reportRows(d) {
  if (Array.isArray(d)) return d;
  if (!d || typeof d !== 'object') return null;
  for (const k of ['symbols', 'report', 'grades', 'items', 'results']) if (Array.isArray(d[k])) return d[k];
  const arr = Object.values(d).find(Array.isArray);
  return arr || null;
}

export function renderQuality(body, d, onSymbol) {
  const rows = reportRows(d);
  if (!rows) return mount(body, note('err', 'unexpected answer from /quality/report'));
  if (!rows.length) return mount(body, note('na', 'no graded symbols yet'));
  const issueText = (x) => (typeof x === 'string' ? x : x && (x.message || x.rule || x.code)) || '';
  mount(body, el('table', { class: 'tbl quality' },
    el('thead', {}, el('tr', {}, ['symbol', 'grade', 'score', 'interval', 'bars', 'weakest', 'issues'].map((t) =>
      el('th', { class: t === 'bars' ? 'num' : undefined }, t)))),
    el('tbody', {}, rows.map((r) => {
      const list = Array.isArray(r.issues) ? r.issues : null;
      const nIssues = list ? list.length : (typeof r.issues === 'number' ? r.issues : (r.issue_count ?? null));
      const top = r.top_issue ? issueText(r.top_issue) : (list && list.length ? issueText(list[0]) : '');
      const score = Number(r.score);
      const dims = r.dimensions && typeof r.dimensions === 'object'
        ? Object.entries(r.dimensions).filter(([, v]) => Number.isFinite(v)).sort((a, b) => a[1] - b[1]) : [];
      const weakest = dims.length ? dims[0] : null;
      return el('tr', { class: 'clickable', dataset: { symbol: r.symbol }, title: r.symbol ? `chart ${r.symbol}` : undefined,
        onclick: () => r.symbol && onSymbol(r.symbol, r.interval) },
        el('td', {}, el('span', { class: 'sym' }, r.symbol ?? '?')),
        el('td', {}, el('span', { class: `grade grade-${String(r.grade || '').charAt(0).toLowerCase()}` }, r.grade ?? '–')),
        el('td', {}, meter(Number.isFinite(score) && r.score !== null ? score / 100 : NaN, Number.isFinite(score) ? fmtNum(score, 1) : undefined)),
        el('td', {}, r.interval ?? '–'),
        el('td', { class: 'num' }, fmtInt(r.bars)),
        el('td', { class: 'weakest', title: dims.map(([k, v]) => `${label(k)} ${fmtNum(v, 1)}`).join('\n') || undefined },
          weakest ? `${label(weakest[0])} ${fmtNum(weakest[1], 0)}` : '–'),
        el('td', { class: 'issues', title: list ? list.map(issueText).join('\n') : (top || undefined) },
          nIssues === null ? '–' : `${fmtInt(nIssues)}${top ? ` · ${top}` : ''}`));
    }))));
}

/* -- symbols ------------------------------------------------------------------------------ */

export function symbolList(d) {
  const list = Array.isArray(d) ? d : (d && Array.isArray(d.symbols) ? d.symbols : []);
  return list.filter((s) => s && typeof s.symbol === 'string');
}

export function renderSymbols(body, list, { selected, filter, onSymbol }) {
  const f = (filter || '').trim().toUpperCase();
  const shown = f ? list.filter((s) => s.symbol.includes(f)) : list;
  if (!list.length) return mount(body, note('na', 'no data stored yet: load some with `mdagent load`'));
  if (!shown.length) return mount(body, note('na', `no symbol matches "${filter}"`));
  mount(body, el('table', { class: 'tbl symbols' },
    el('thead', {}, el('tr', {}, el('th', {}, 'symbol'), el('th', {}, 'intervals'), el('th', { class: 'num' }, 'bars'), el('th', { class: 'range' }, 'last bar'))),
    el('tbody', {}, shown.map((s) => el('tr', {
      class: `clickable${s.symbol === selected ? ' selected' : ''}`,
      dataset: { symbol: s.symbol },
      tabindex: 0,
      onclick: () => onSymbol(s.symbol),
      onkeydown: (e) => { if (e.key === 'Enter') onSymbol(s.symbol); },
    },
    el('td', {}, el('span', { class: 'sym' }, s.symbol)),
    el('td', {}, (s.intervals || []).map((iv) => el('span', { class: 'chip small' }, iv.interval ?? iv))),
    el('td', { class: 'num' }, fmtInt(s.count)),
    el('td', { class: 'range', title: `${fmtTs(s.first)} → ${fmtTs(s.last)}` }, fmtTs(s.last).slice(0, 10)))))));
}
