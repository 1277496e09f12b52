// prom.js - the Prometheus text exposition format (version 0.0.4) read in the page, and the
// figures the metric plots show, computed from two successive scrapes:
//   request rate   (counter deltas / seconds)
//   latency        (histogram_quantile over bucket deltas, like PromQL; all routes or one)
//   cache hit rate (hits / lookups over the interval)
// Pure functions, no DOM: tests/web/prom.test.mjs runs them under node.

/** Parses exposition text. Never throws: a malformed line is skipped and reported in
 * `errors` as {line, text, reason}. Returns {samples: Map(name -> [{labels, value}]),
 * types: Map(name -> type), help: Map(name -> text), errors}. */
export function parsePrometheus(text) {
  const samples = new Map();
  const types = new Map();
  const help = new Map();
  const errors = [];
  if (typeof text !== 'string') {
    errors.push({ line: 0, text: '', reason: 'not text' });
    return { samples, types, help, errors };
  }
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].replace(/\r$/, '');
    const line = raw.trim();
    if (!line) continue;
    if (line[0] === '#') {
      const m = /^#\s*(HELP|TYPE)\s+([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\s+(.*))?$/.exec(line);
      if (m && m[1] === 'TYPE') types.set(m[2], (m[3] || 'untyped').trim());
      else if (m) help.set(m[2], m[3] || '');
      continue; // other comments are allowed anywhere
    }
    const r = parseSample(line);
    if (r.error) {
      errors.push({ line: i + 1, text: raw.slice(0, 200), reason: r.error });
      continue;
    }
    if (!samples.has(r.name)) samples.set(r.name, []);
    samples.get(r.name).push({ labels: r.labels, value: r.value });
  }
  return { samples, types, help, errors };
}

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*/;

function parseSample(line) {
  const nm = NAME_RE.exec(line);
  if (!nm) return { error: 'no metric name' };
  const name = nm[0];
  let pos = name.length;
  const labels = {};
  if (line[pos] === '{') {
    pos++;
    for (;;) {
      while (line[pos] === ' ' || line[pos] === '\t') pos++;
      if (line[pos] === '}') { pos++; break; }
      const lm = LABEL_RE.exec(line.slice(pos));
      if (!lm) return { error: 'bad label name' };
      pos += lm[0].length;
      while (line[pos] === ' ') pos++;
      if (line[pos] !== '=') return { error: `expected '=' after label ${lm[0]}` };
      pos++;
      while (line[pos] === ' ') pos++;
      if (line[pos] !== '"') return { error: `label ${lm[0]}: value must be quoted` };
      pos++;
      let v = '';
      let closed = false;
      while (pos < line.length) {
        const c = line[pos++];
        if (c === '\\') {
          const e = line[pos++];
          if (e === 'n') v += '\n';
          else if (e === '\\' || e === '"') v += e;
          else if (e === undefined) return { error: 'unterminated escape' };
          else v += '\\' + e;
        } else if (c === '"') { closed = true; break; } else v += c;
      }
      if (!closed) return { error: `label ${lm[0]}: unterminated value` };
      labels[lm[0]] = v;
      while (line[pos] === ' ') pos++;
      if (line[pos] === ',') { pos++; continue; }
      if (line[pos] === '}') { pos++; break; }
      return { error: "expected ',' or '}' in labels" };
    }
  }
  if (line[pos] !== ' ' && line[pos] !== '\t') return { error: 'expected a space before the value' };
  const rest = line.slice(pos).trim().split(/\s+/);
  if (rest.length < 1 || rest.length > 2 || rest[0] === '') return { error: 'expected a value and an optional timestamp' };
  const value = parseValue(rest[0]);
  if (value === undefined) return { error: `bad value '${rest[0].slice(0, 40)}'` };
  if (rest.length === 2 && !/^-?\d+$/.test(rest[1])) return { error: 'bad timestamp' };
  return { name, labels, value };
}

function parseValue(s) {
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) return undefined;
  return Number(s);
}

/** Samples of `name` whose labels include every pair of `match`. */
export function select(scrape, name, match = {}) {
  const all = scrape.samples.get(name) || [];
  return all.filter((s) => Object.entries(match).every(([k, v]) => s.labels[k] === v));
}

/** Sum of the values of `name` matching `match` (0 when none). */
export function sum(scrape, name, match = {}) {
  return select(scrape, name, match).reduce((a, s) => a + (Number.isFinite(s.value) ? s.value : 0), 0);
}

/** Whether the scrape has at least one sample of `name`. */
export function has(scrape, name) {
  return (scrape.samples.get(name) || []).length > 0;
}

/** Increase of a counter between two readings; a reading lower than the previous one means
 * the process restarted and counted from zero, so the new reading is the increase. */
export function counterDelta(prev, cur) {
  if (!Number.isFinite(prev) || !Number.isFinite(cur)) return null;
  return cur >= prev ? cur - prev : cur;
}

/** Per-second rate of the counter family `name` (summed over matching series) between two
 * scrapes dt seconds apart; null when it cannot be computed. */
export function rate(prev, cur, dt, name, match = {}) {
  if (!prev || !cur || !(dt > 0)) return null;
  if (!has(cur, name)) return null;
  const d = counterDelta(sum(prev, name, match), sum(cur, name, match));
  return d === null ? null : d / dt;
}

/** Cumulative histogram buckets of `name` as [{le, count}] sorted by le (+Inf last), summed
 * over the series matching `match` (PromQL's sum by (le): every route of a histogram with a
 * route label, or one route with match {route}). */
export function buckets(scrape, name, match = {}) {
  const by = new Map();
  for (const s of select(scrape, `${name}_bucket`, match)) {
    if (s.labels.le === undefined) continue;
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    if (Number.isNaN(le) || !Number.isFinite(s.value)) continue;
    by.set(le, (by.get(le) || 0) + s.value);
  }
  return [...by].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
}

/** Quantile q (0..1) of the observations that fell between two scrapes, from bucket deltas,
 * by linear interpolation inside the bucket (PromQL's histogram_quantile). null when no
 * observation happened. A quantile in the +Inf bucket gives the highest finite bound. */
export function histogramQuantile(q, prevBuckets, curBuckets) {
  if (!curBuckets || curBuckets.length === 0) return null;
  const prevBy = new Map((prevBuckets || []).map((b) => [b.le, b.count]));
  const d = curBuckets.map((b) => ({ le: b.le, count: counterDelta(prevBy.get(b.le) ?? 0, b.count) ?? 0 }));
  // cumulative counts must not decrease (a partial reset can break that): keep them monotonic
  for (let i = 1; i < d.length; i++) if (d[i].count < d[i - 1].count) d[i].count = d[i - 1].count;
  const total = d[d.length - 1].count;
  if (!(total > 0)) return null;
  const rank = Math.min(Math.max(q, 0), 1) * total;
  let lowerLe = 0;
  let lowerCount = 0;
  for (const b of d) {
    if (b.count >= rank) {
      if (b.le === Infinity) return lowerLe;
      const inBucket = b.count - lowerCount;
      if (inBucket <= 0) return b.le;
      return lowerLe + (b.le - lowerLe) * ((rank - lowerCount) / inBucket);
    }
    lowerLe = b.le;
    lowerCount = b.count;
  }
  return lowerLe;
}

/** Mean of the observations between two scrapes of histogram `name` (from _sum/_count). */
export function histogramMean(prev, cur, name) {
  const dc = counterDelta(sum(prev, `${name}_count`), sum(cur, `${name}_count`));
  const ds = counterDelta(sum(prev, `${name}_sum`), sum(cur, `${name}_sum`));
  if (!dc || ds === null) return null;
  return ds / dc;
}

/** Hit ratio (0..1) of cache level `level` between two scrapes of
 * mdagent_cache_requests_total{level,result}; null when there was no lookup. Without a
 * level: the share of requests answered by any level. A lookup goes to L2 only after an L1
 * miss, so that is (L1 hits + L2 hits) / (L1 hits + L1 misses) when L1 is reported. */
export function hitRatio(prev, cur, level) {
  const name = 'mdagent_cache_requests_total';
  if (!prev || !cur || !has(cur, name)) return null;
  const d = (match) => counterDelta(sum(prev, name, match), sum(cur, name, match));
  let hits;
  let lookups;
  if (level) {
    hits = d({ level, result: 'hit' });
    const misses = d({ level, result: 'miss' });
    lookups = hits === null || misses === null ? null : hits + misses;
  } else if (select(cur, name, { level: 'l1' }).length) {
    hits = d({ result: 'hit' });
    const l1 = d({ level: 'l1' });
    lookups = l1;
  } else {
    hits = d({ result: 'hit' });
    const misses = d({ result: 'miss' });
    lookups = hits === null || misses === null ? null : hits + misses;
  }
  if (hits === null || !lookups) return null;
  return Math.min(1, hits / lookups);
}

/** A rolling window of aligned time series for uPlot: x in seconds, one array per key.
 * Keys may appear later (earlier points are null) and points older than windowS go. */
export class Rolling {
  constructor(windowS) {
    this.windowS = windowS;
    this.xs = [];
    this.series = new Map();
  }

  push(t, values) {
    for (const k of Object.keys(values)) {
      if (!this.series.has(k)) this.series.set(k, new Array(this.xs.length).fill(null));
    }
    this.xs.push(t);
    for (const [k, arr] of this.series) arr.push(values[k] ?? null);
    let drop = 0;
    while (drop < this.xs.length && this.xs[drop] < t - this.windowS) drop++;
    if (drop) {
      this.xs.splice(0, drop);
      for (const arr of this.series.values()) arr.splice(0, drop);
    }
  }

  keys() {
    return [...this.series.keys()];
  }

  /** [xs, ...one array per key in keys order] */
  data(keys = this.keys()) {
    return [this.xs.slice(), ...keys.map((k) => (this.series.get(k) || []).slice())];
  }

  /** The last non-null value of key, or null. */
  last(key) {
    const arr = this.series.get(key) || [];
    for (let i = arr.length - 1; i >= 0; i--) if (arr[i] !== null && arr[i] !== undefined) return arr[i];
    return null;
  }
}
