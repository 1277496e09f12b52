// util.js - DOM building without innerHTML (server text is always set as text) and the
// number, size and time formats the panels share.

/** el('div', {class: 'x', onclick: fn, title: 't'}, child, 'text', ...) */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k === 'style') setStyle(node.style, v);
    else if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  append(node, children);
  return node;
}

/* Custom properties ('--tog') need setProperty: assigning them as fields does nothing. */
function setStyle(style, v) {
  for (const [p, x] of Object.entries(v)) {
    if (p.startsWith('--')) style.setProperty(p, String(x));
    else style[p] = x;
  }
}

function append(node, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(node, c);
    else node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces the children of node. */
export function mount(node, ...children) {
  node.replaceChildren();
  append(node, children);
}

/** The panel body for an endpoint this agent does not serve, or one that failed. */
export function note(kind, text) {
  return el('div', { class: `note note-${kind}` }, el('span', { class: 'note-icon' }, kind === 'na' ? '○' : '!'), text);
}

export function fmtInt(v) {
  if (v === null || v === undefined || !Number.isFinite(Number(v))) return '–';
  return Math.round(Number(v)).toLocaleString('en-US');
}

export function fmtNum(v, digits = 2) {
  if (v === null || v === undefined || !Number.isFinite(Number(v))) return '–';
  const n = Number(v);
  const a = Math.abs(n);
  if (a !== 0 && (a < 10 ** -digits || a >= 1e9)) return n.toExponential(2);
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

export function fmtPct(v, digits = 1) {
  if (v === null || v === undefined || !Number.isFinite(Number(v))) return '–';
  return `${(Number(v) * 100).toFixed(digits)}%`;
}

export function fmtBytes(v) {
  if (v === null || v === undefined || !Number.isFinite(Number(v))) return '–';
  let n = Number(v);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function fmtDuration(s) {
  if (s === null || s === undefined || !Number.isFinite(Number(s))) return '–';
  let n = Math.max(0, Math.floor(Number(s)));
  const d = Math.floor(n / 86400); n %= 86400;
  const h = Math.floor(n / 3600); n %= 3600;
  const m = Math.floor(n / 60); const sec = n % 60;
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${sec}s`;
  return `${sec}s`;
}

/** "2001-09-27" for midnight UTC timestamps, else "2001-09-27 14:30" (UTC). */
export function fmtTs(ts) {
  if (!ts) return '–';
  const d = typeof ts === 'number' ? new Date(ts * 1000) : new Date(ts);
  if (Number.isNaN(d.getTime())) return String(ts);
  const iso = d.toISOString();
  return iso.endsWith('T00:00:00.000Z') ? iso.slice(0, 10) : `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

export function fmtClock(date = new Date()) {
  return date.toLocaleTimeString('en-GB', { hour12: false });
}

/** Seconds since the epoch from an RFC 3339 string (null when unparsable). */
export function epochS(ts) {
  const t = Date.parse(ts);
  return Number.isNaN(t) ? null : Math.floor(t / 1000);
}

/** A human label for a snake_case key: "health_score" -> "health score". */
export function label(key) {
  return String(key).replace(/_/g, ' ');
}

/** The CSS state class for a status word. */
export function statusClass(s) {
  const v = String(s ?? '').toLowerCase();
  if (['ok', 'up', 'ready', 'closed', 'healthy', 'a', 'b', 'live'].includes(v)) return 'good';
  if (['degraded', 'half_open', 'half-open', 'c', 'd', 'warn', 'warning', 'connecting', 'stale'].includes(v)) return 'warn';
  if (['down', 'open', 'error', 'failed', 'e', 'f', 'unhealthy'].includes(v)) return 'bad';
  return 'muted';
}
