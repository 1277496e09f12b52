// The dashboard in real headless Chromium (Debian's, driven by playwright-core), against a
// real agent with the sample data (started by browser.py). It checks what a person sees:
// the panels show the agent's data, the candlestick chart draws MSFT, switching symbol and
// interval reloads it, panels whose endpoint this agent lacks say so, the page fits a phone's
// width, and the browser console stays free of errors. Screenshots go to $MDTEST_OUT.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';

const AGENT = process.env.MDTEST_AGENT_URL;
const WEB = process.env.MDTEST_WEB;
const OUT = process.env.MDTEST_OUT || os.tmpdir();
const KEY = process.env.MDTEST_API_KEY;
const CHROMIUM = process.env.MDTEST_CHROMIUM || '/usr/bin/chromium';
const { chromium } = createRequire(path.join(WEB, 'package.json'))('playwright-core');

let context;
let page;
let userDataDir;
const problems = []; // console errors, page errors, failed requests, HTTP errors

async function rest(p) {
  const r = await fetch(AGENT + p);
  assert.equal(r.status, 200, `${p} answered ${r.status}`);
  return r.json();
}

function watch(pg, tag) {
  pg.on('console', (m) => { if (m.type() === 'error') problems.push(`${tag} console: ${m.text()}`); });
  pg.on('pageerror', (e) => problems.push(`${tag} page error: ${e.message}`));
  pg.on('requestfailed', (r) => problems.push(`${tag} request failed: ${r.url()} ${r.failure()?.errorText}`));
  pg.on('response', (r) => { if (r.status() >= 400) problems.push(`${tag} HTTP ${r.status()}: ${r.url()}`); });
}

/* Pixels of the candle colours drawn on the chart's canvases (up teal, down red). */
async function candlePixels(pg) {
  return pg.evaluate(() => {
    let up = 0; let down = 0; let painted = 0;
    for (const c of document.querySelectorAll('#chart canvas')) {
      if (!c.width || !c.height) continue;
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      for (let i = 0; i < d.length; i += 4) {
        if (d[i + 3] === 0) continue;
        painted++;
        if (d[i] === 38 && d[i + 1] === 166 && d[i + 2] === 154) up++;
        if (d[i] === 239 && d[i + 1] === 83 && d[i + 2] === 80) down++;
      }
    }
    return { up, down, painted };
  });
}

async function chartShows(pg, symbol, interval, bars) {
  await pg.waitForSelector(`#panel-chart[data-symbol="${symbol}"][data-interval="${interval}"][data-loading="false"]`);
  await pg.waitForFunction((n) => document.querySelector('#panel-chart').dataset.bars === String(n), bars);
}

const sourceRequestsAtStart = new Map();

before(async () => {
  assert.ok(AGENT, 'MDTEST_AGENT_URL not set: run through browser.py');
  const r = await fetch(`${AGENT}/sources`);
  if (r.ok) for (const s of (await r.json()).sources) sourceRequestsAtStart.set(s.name, s.requests);
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'md-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 800 },
    timeout: 60000,
  });
  context.setDefaultTimeout(20000);
  page = context.pages()[0] || (await context.newPage());
  watch(page, 'desktop');
});

after(async () => {
  if (context) await context.close();
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
});

test('the page loads and the health panel shows the agent status', async () => {
  const health = await rest('/health');
  await page.goto(`${AGENT}/dashboard`);
  await page.waitForSelector('body[data-ready="true"]');
  await page.waitForFunction((s) => document.querySelector('#health-status')?.textContent === s, health.status);
  assert.equal(await page.textContent('#status-text'), health.status);
  assert.equal(await page.textContent('#fact-version'), health.version);
  for (const name of Object.keys(health.components)) {
    assert.ok(await page.$(`#health tr[data-component="${name}"]`), `component ${name} listed`);
  }
  assert.match(await page.textContent('#health tr[data-component="store"]'), /sqlite/);
});

test('the symbols list holds every stored symbol, MSFT among them', async () => {
  const syms = (await rest('/symbols')).symbols.map((s) => s.symbol).sort();
  await page.waitForSelector('#symbols tr[data-symbol="MSFT"]');
  const shown = await page.$$eval('#symbols tr[data-symbol]', (rows) => rows.map((r) => r.dataset.symbol).sort());
  assert.deepEqual(shown, syms);
  assert.match(await page.textContent('#symbols tr[data-symbol="MSFT"]'), /249/);
  // the filter narrows the list
  await page.fill('#symbols-filter', 'ms');
  await page.waitForFunction(() => document.querySelectorAll('#symbols tr[data-symbol]').length === 1);
  await page.fill('#symbols-filter', '');
  await page.waitForFunction((n) => document.querySelectorAll('#symbols tr[data-symbol]').length === n, syms.length);
});

test('clicking MSFT draws its candlestick chart with indicators', async () => {
  const hist = await rest('/historical/MSFT?interval=1d&limit=1500&order=desc&cached_only=true');
  await page.click('#symbols tr[data-symbol="MSFT"]');
  await chartShows(page, 'MSFT', '1d', hist.count);
  assert.equal(await page.inputValue('#chart-symbol'), 'MSFT');
  assert.match(page.url(), /#symbol=MSFT&interval=1d$/);
  // the legend shows the last bar
  const last = hist.bars[0]; // order=desc: newest first
  const legend = await page.textContent('#chart-legend');
  assert.match(legend, /MSFT/);
  assert.ok(legend.includes(String(last.close)), `legend ${legend} shows the last close ${last.close}`);
  // candles are on the canvas, in both colours
  await page.waitForFunction(() => document.querySelectorAll('#chart canvas').length > 0);
  const px = await candlePixels(page);
  assert.ok(px.up > 50 && px.down > 50, `candles drawn: ${JSON.stringify(px)}`);
  // indicator overlays came from /analytics
  const series = await page.evaluate(() => window.mdDashboard.chart.extra.length);
  assert.ok(series >= 3, `indicator series drawn: ${series}`);
  await page.screenshot({ path: path.join(OUT, 'dashboard-1280x800.png') });
});

test('switching the interval reloads the chart with aggregated bars', async () => {
  const weekly = await rest('/historical/MSFT?interval=1w&limit=1500&order=desc&cached_only=true');
  assert.equal(await page.isDisabled('#chart-intervals button[data-interval="1m"]'), true, 'no minute data for MSFT');
  await page.click('#chart-intervals button[data-interval="1w"]');
  await chartShows(page, 'MSFT', '1w', weekly.count);
  assert.match(await page.textContent('#chart-legend'), /1w/);
  assert.match(page.url(), /interval=1w/);
  const monthly = await rest('/historical/MSFT?interval=1mo&limit=1500&order=desc&cached_only=true');
  await page.click('#chart-intervals button[data-interval="1mo"]');
  await chartShows(page, 'MSFT', '1mo', monthly.count);
  const px = await candlePixels(page);
  assert.ok(px.up + px.down > 50, `monthly candles drawn: ${JSON.stringify(px)}`);
});

test('switching the symbol from the selector reloads the chart', async () => {
  const dax = await rest('/historical/DAX?interval=1mo&limit=1500&order=desc&cached_only=true');
  await page.selectOption('#chart-symbol', 'DAX');
  await chartShows(page, 'DAX', '1mo', dax.count);
  assert.ok(await page.$('#symbols tr.selected[data-symbol="DAX"]'), 'DAX highlighted in the list');
  const daily = await rest('/historical/MSFT?interval=1d&limit=1500&order=desc&cached_only=true');
  await page.goto(`${AGENT}/dashboard#symbol=MSFT&interval=1d`);
  await chartShows(page, 'MSFT', '1d', daily.count);
});

test('a history longer than the chart holds is marked as cut', async () => {
  // SMI: 1,860 daily bars, more than the 1,500 the chart asks for
  const all = await rest('/symbols');
  const smi = all.symbols.find((x) => x.symbol === 'SMI').intervals.find((iv) => iv.interval === '1d');
  const hist = await rest('/historical/SMI?interval=1d&limit=1500&order=desc&cached_only=true');
  assert.ok(smi.count > hist.count && hist.truncated, `SMI ${smi.count} bars, ${hist.count} answered`);
  await page.goto(`${AGENT}/dashboard#symbol=SMI&interval=1d`);
  await chartShows(page, 'SMI', '1d', hist.count);
  assert.equal(await page.getAttribute('#panel-chart', 'data-truncated'), 'true');
  assert.equal(await page.isVisible('#chart-note'), true, 'the cut is said');
  const oldest = hist.bars[hist.bars.length - 1].timestamp.slice(0, 10);
  assert.match(await page.textContent('#chart-note'), new RegExp(`newest 1,500 1d bars, from ${oldest}`));
  // a history that fits says nothing
  const msft = await rest('/historical/MSFT?interval=1d&limit=1500&order=desc&cached_only=true');
  await page.goto(`${AGENT}/dashboard#symbol=MSFT&interval=1d`);
  await chartShows(page, 'MSFT', '1d', msft.count);
  assert.equal(await page.getAttribute('#panel-chart', 'data-truncated'), 'false');
  assert.equal(await page.isVisible('#chart-note'), false);
});

test('indicator toggles add and remove overlays', async () => {
  // each toggle is marked in its line's colour (the --tog custom property)
  const marks = await page.$$eval('#chart-indicators button[data-indicator]', (bs) => bs.map((b) => [b.dataset.indicator,
    getComputedStyle(b).getPropertyValue('--tog').trim(), window.mdDashboard.indicators.find((d) => d.id === b.dataset.indicator).color]));
  assert.ok(marks.length >= 6, `toggles ${marks}`);
  for (const [id, shown, color] of marks) assert.equal(shown, color, `${id}: toggle colour`);
  const before = await page.evaluate(() => window.mdDashboard.chart.extra.length);
  const bbOn = await page.getAttribute('#chart-indicators button[data-indicator="bb"]', 'aria-pressed');
  await page.click('#chart-indicators button[data-indicator="bb"]');
  const afterClick = await page.evaluate(() => window.mdDashboard.chart.extra.length);
  assert.equal(afterClick, before + (bbOn === 'true' ? -3 : 3), 'Bollinger bands are three lines');
  await page.click('#chart-indicators button[data-indicator="bb"]');
  assert.equal(await page.evaluate(() => window.mdDashboard.chart.extra.length), before);
});

test('every indicator of the agent\'s table has a toggle; one of them draws its pane', async () => {
  const table = await rest('/analytics/indicators');
  const buttons = await page.$$eval('#chart-indicators button[data-indicator]', (b) => b.map((x) => x.dataset.indicator));
  assert.equal(buttons.length, table.indicators.length, `toggles ${buttons}`);
  const before = await page.evaluate(() => window.mdDashboard.chart.extra.length);
  await page.click('#chart-indicators button[data-indicator="adx"]');
  await page.waitForFunction((n) => window.mdDashboard.chart.extra.length === n + 3, before, { timeout: 15000 });
  const names = await page.evaluate(() => Object.keys(window.mdDashboard.ind.indicators));
  assert.ok(names.includes('adx:14'), `asked ${names}`);
  await page.click('#chart-indicators button[data-indicator="adx"]');
  await page.waitForFunction((n) => window.mdDashboard.chart.extra.length === n, before, { timeout: 15000 });
});

test('metric plots fill from /metrics', async () => {
  await page.waitForFunction(() => window.mdDashboard.metrics && window.mdDashboard.metrics.points().rate >= 2, null, { timeout: 30000 });
  await page.waitForFunction(() => document.querySelector('#kpis .kpi-v') && document.querySelector('#kpis .kpi-v').textContent !== '–');
  for (const id of ['rate', 'latency', 'cache', 'sources', 'route_p50', 'route_p99', 'cpu', 'rss']) {
    assert.ok(await page.$(`#plot-${id} canvas`), `plot ${id} drawn`);
  }
  // the page's own polls are requests on /health and /metrics: each has its p50/p99 series
  await page.waitForFunction(() => ['route_p50', 'route_p99'].every((k) => window.mdDashboard.metrics.data[k].keys().includes('/health')));
  const proc = await page.evaluate(() => ({ cpu: window.mdDashboard.metrics.data.cpu.last('cpu'), rss: window.mdDashboard.metrics.data.rss.last('rss') }));
  assert.ok(proc.cpu !== null && proc.cpu >= 0, `cpu ${proc.cpu}`);
  assert.ok(proc.rss > 1, `resident memory ${proc.rss} MiB`);
  const painted = await page.evaluate(() => {
    const c = document.querySelector('#plot-rate canvas');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] === 88 && d[i + 1] === 166 && d[i + 2] === 255) n++;
    return n;
  });
  assert.ok(painted > 20, `request rate line drawn (${painted} px)`);
});

test('the deployment panel lists every agent of the deployment side by side', async () => {
  const PEER = process.env.MDTEST_PEER_URL;
  const want = PEER ? 2 : 1;
  await page.waitForFunction((n) => document.querySelectorAll('#cluster-table tbody tr').length === n, want, { timeout: 20000 });
  const rows = await page.$$eval('#cluster-table tbody tr', (trs) => trs.map((tr) => ({
    agent: tr.dataset.agent, state: tr.dataset.state, self: tr.classList.contains('self'),
    url: tr.querySelector('td').title,
    cells: [...tr.querySelectorAll('td[data-k]')].map((td) => [td.dataset.k, td.textContent]),
  })));
  const view = await rest('/cluster');
  assert.deepEqual(rows.map((r) => r.agent), view.agents.map((a) => a.id), 'the rows are /cluster\'s agents, in its order');
  assert.deepEqual(rows.filter((r) => r.self).map((r) => r.url), [AGENT], 'the serving agent is marked');
  if (PEER) assert.ok(rows.some((r) => r.url === PEER && !r.self), `the peer ${PEER} is listed`);
  for (const r of rows) {
    assert.equal(r.state, 'ready');
    assert.deepEqual(r.cells.map(([k]) => k), ['rate', 'clients', 'queue']);
    for (const [k, v] of r.cells) assert.match(v, /^[\d.,]+$/, `${r.agent} ${k}: ${v}`);
  }
});

test('panels say "not available" for endpoints this agent lacks, and show data otherwise', async () => {
  const routes = new Set((await rest('/dashboard/routes.json')).routes.map((r) => r.path));
  const panels = [
    ['sources', '/sources'],
    ['cache', '/cache/stats'],
    ['quality', '/quality/report'],
  ];
  for (const [id, route] of panels) {
    await page.waitForFunction((i) => document.getElementById(i).dataset.state, id, { timeout: 40000 });
    const st = await page.getAttribute(`#${id}`, 'data-state');
    const text = await page.textContent(`#${id}`);
    if (!routes.has(route)) {
      assert.equal(st, 'na', `${id}: ${text}`);
      assert.match(text, /not available/);
    } else {
      assert.equal(st, 'ok', `${id} shows data: ${text}`);
      assert.doesNotMatch(text, /not available/);
    }
  }
  if (routes.has('/quality/report')) {
    await page.waitForSelector('#quality tr[data-symbol]');
    const n = await page.$$eval('#quality tr[data-symbol]', (r) => r.length);
    assert.ok(n >= 1, 'graded symbols listed');
  }
  if (routes.has('/cache/stats')) {
    const stats = await rest('/cache/stats');
    if (stats.enabled !== false) assert.ok(await page.$('#cache table tr[data-level]'), 'cache levels listed');
  }
  if (routes.has('/sources')) {
    const src = (await rest('/sources')).sources;
    for (const s of src) assert.ok(await page.$(`#sources tr[data-source="${s.name}"]`), `source ${s.name} listed`);
    if (!src.length) assert.match(await page.textContent('#sources'), /no sources configured/);
  }
  await page.screenshot({ path: path.join(OUT, 'dashboard-full.png'), fullPage: true });
});

test('the screens panel shows each screen with the symbols it matches now', async () => {
  const list = await rest('/analytics/screens');
  assert.deepEqual(list.screens.map((s) => s.name), ['eu']);
  let doc;
  for (let i = 0; i < 50; i++) { /* the first run, two seconds at most after the start */
    doc = await rest('/analytics/screens/eu');
    if (doc.last_run) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.ok(doc.last_run, 'the screen ran');
  await page.waitForSelector(`#screens .screen[data-screen="eu"][data-matches="${doc.count}"]`, { timeout: 30000 });
  const chips = await page.$$eval('#screens .screen[data-screen="eu"] .chip', (c) => c.map((x) => x.dataset.symbol));
  assert.deepEqual(chips, doc.matches.map((m) => m.symbol));
  assert.match(await page.textContent('#screens .screen[data-screen="eu"]'), /close > sma:20/);
});

test('the correlation heat map shows the agent\'s matrix for the screened symbols', async () => {
  await page.waitForSelector('#corr[data-symbols="DAX,SMI,CAC,FTSE"] table.heatmap', { timeout: 40000 });
  const corr = await rest('/analytics/correlation?symbols=DAX,SMI,CAC,FTSE&interval=1d&cached_only=true');
  const cells = await page.$$eval('#corr td.heat', (c) => c.map((x) => [x.dataset.a, x.dataset.b, x.dataset.value, x.textContent, getComputedStyle(x).backgroundColor]));
  assert.equal(cells.length, 16);
  for (const [a, b, v, text, bg] of cells) {
    const want = corr.matrix[corr.symbols.indexOf(a)][corr.symbols.indexOf(b)];
    assert.equal(Number(v), want, `${a}/${b}`);
    assert.equal(text, want.toFixed(2));
    if (a === b) assert.equal(text, '1.00');
    assert.ok(bg !== 'rgba(0, 0, 0, 0)', `${a}/${b} is coloured`);
  }
  assert.match(await page.textContent('#corr'), /symbols from the screens/);
});

test('a symbol entering or leaving a screen shows up as it happens', async () => {
  const doc = await rest('/analytics/screens/eu');
  const inNow = doc.matches.some((m) => m.symbol === 'DAX');
  const close = inNow ? 1 : 1e6; // far below (or above) its 20-day average
  await post('/ingest/bars', { bars: [{ symbol: 'DAX', interval: '1d', timestamp: '1998-08-17T00:00:00Z',
    open: close, high: close, low: close, close, volume: 0 }] });
  const ev = await page.waitForSelector(`#screens .screen-event[data-symbol="DAX"][data-event="${inNow ? 'leave' : 'enter'}"]`, { timeout: 30000 });
  assert.match(await ev.textContent(), inNow ? /DAX left eu/ : /DAX entered eu/);
});

test('the header and the cache panel agree; a disabled source shows as disabled', async () => {
  // stored data only (no provider call): new answers miss, repeated ones hit
  for (let i = 0; i < 6; i++) await rest(`/historical/${i % 2 ? 'FTSE' : 'SMI'}?interval=1w&limit=${10 + (i >> 1)}&cached_only=true`);
  const stats = await rest('/cache/stats');
  // wait for a cache panel drawn after those lookups, then read both at the same instant
  await page.waitForFunction((n) => {
    const chip = document.querySelector('#cache [data-total="hit_ratio"]');
    const m = chip && chip.textContent.match(/of ([\d,]+) lookups/);
    return m && Number(m[1].replace(/,/g, '')) >= n;
  }, stats.hits + stats.misses, { timeout: 30000 });
  const seen = await page.evaluate(() => ({
    header: document.querySelector('#kpi-cache .kpi-v').textContent,
    panel: document.querySelector('#cache [data-total="hit_ratio"]').textContent,
  }));
  const pct = seen.panel.match(/(\d+(?:\.\d+)?%)/)[1];
  assert.equal(seen.header, pct, `header ${seen.header}, panel ${seen.panel}`);
  assert.notEqual(pct, '100.0%', 'the lookups included misses');

  const src = (await rest('/sources')).sources;
  const off = src.filter((s) => s.enabled === false);
  assert.ok(off.length >= 1, 'the agent has a disabled source (polygon: no key)');
  await page.waitForSelector(`#sources tr[data-source="${off[0].name}"]`);
  for (const s of src) {
    const row = await page.$eval(`#sources tr[data-source="${s.name}"]`, (tr) => ({
      health: tr.querySelector('td.health').textContent, meter: !!tr.querySelector('td.health .meter'), text: tr.textContent,
    }));
    if (s.enabled === false) {
      assert.equal(row.health, 'disabled', `${s.name}: ${row.text}`);
      assert.ok(!row.meter, `${s.name} has no health meter`);
      assert.doesNotMatch(row.text, /100%/, `${s.name} shows no health figure`);
    } else {
      assert.ok(row.meter, `${s.name} (enabled) shows its health`);
    }
  }
});

test('a quote with bid above ask is rejected as crossed_quote', async () => {
  const r = await fetch(`${AGENT}/ingest/quotes`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
    body: JSON.stringify({ quotes: [
      { symbol: 'XCROSS', price: 10, bid: 10.2, ask: 10.1, timestamp: new Date().toISOString() },
      { symbol: 'XCROSS', price: 10, bid: 9.9, ask: 10.1, timestamp: new Date().toISOString() },
    ] }),
  });
  const body = await r.json();
  assert.equal(body.accepted, 1, JSON.stringify(body));
  assert.equal(body.rejected, 1);
  assert.equal(body.errors[0].index, 0);
  assert.equal(body.errors[0].code, 'crossed_quote', JSON.stringify(body.errors));
  assert.match(body.errors[0].message, /bid 10\.2 > ask 10\.1/);
  const metrics = await (await fetch(`${AGENT}/metrics`)).text();
  assert.match(metrics, /mdagent_ingest_rejected_total\{reason="crossed_quote"\} 1/);
  assert.doesNotMatch(metrics, /mdagent_ingest_rejected_total\{reason="high_below_low"\}/);
});

test('the adjustment toggle changes the plotted prices across a split', async () => {
  // Apple's 4-for-1 of 2020-08-31: its as-traded bars (the Polygon fixture, adjusted=false)
  // and the split, ingested under AAPL20; the chart asks /historical with the toggle's adjust=
  const fixture = JSON.parse(fs.readFileSync(new URL('../fixtures/providers/polygon/aggs_AAPL20_1_day.json', import.meta.url)));
  const raw = fixture.results.map((r) => ({ date: new Date(r.t).toISOString().slice(0, 10), o: r.o, h: r.h, l: r.l, c: r.c, v: r.v }));
  const send = async (kind, items) => {
    const r = await fetch(`${AGENT}/ingest/${kind}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ [kind]: items }),
    });
    const answer = await r.json();
    assert.equal(r.status, 200, JSON.stringify(answer));
    assert.equal(answer.accepted, items.length, JSON.stringify(answer));
  };
  await send('actions', [{ symbol: 'AAPL20', type: 'split', ex_date: '2020-08-31', numerator: 4, denominator: 1 }]);
  await send('bars', raw.map((b) => ({ symbol: 'AAPL20', interval: '1d', timestamp: b.date, open: b.o, high: b.h, low: b.l, close: b.c, volume: b.v })));
  const plotted = () => page.evaluate(() => window.mdDashboard.chart.bars.map((b) => [new Date(b.time * 1000).toISOString().slice(0, 10), b.close]));
  const shows = async (adjust) => {
    await page.waitForSelector(`#panel-chart[data-symbol="AAPL20"][data-adjust="${adjust}"][data-loading="false"]`);
    await page.waitForFunction((n) => document.querySelector('#panel-chart').dataset.bars === String(n), raw.length);
    return new Map(await plotted());
  };
  await page.goto(`${AGENT}/dashboard#symbol=AAPL20&interval=1d`);
  const split = await shows('splits'); // the default
  assert.equal(await page.getAttribute('#chart-adjust button[data-adjust="splits"]', 'aria-pressed'), 'true');
  await page.click('#chart-adjust button[data-adjust="none"]');
  const asTraded = await shows('none');
  assert.match(page.url(), /adjust=none/);
  for (const b of raw) {
    assert.equal(asTraded.get(b.date), b.c, `${b.date}: raw close`);
    const want = b.date < '2020-08-31' ? b.c / 4 : b.c; // the split's ratio, before its ex-date
    assert.ok(Math.abs(split.get(b.date) - want) < 1e-9, `${b.date}: split-adjusted ${split.get(b.date)} != ${want}`);
  }
  // toggling back: the plotted closes before the split are a quarter again
  await page.click('#chart-adjust button[data-adjust="all"]');
  const total = await shows('all');
  const rest_ = await rest('/historical/AAPL20?interval=1d&start=2020-01-01&end=2021-01-01&adjust=all&cached_only=true');
  for (const b of rest_.bars) assert.equal(total.get(b.timestamp.slice(0, 10)), b.close, b.timestamp);
  await page.click('#chart-adjust button[data-adjust="splits"]');
  const again = await shows('splits');
  assert.deepEqual([...again], [...split]);
  await page.goto(`${AGENT}/dashboard#symbol=MSFT&interval=1d`);
  await page.waitForSelector('#panel-chart[data-symbol="MSFT"][data-loading="false"]');
});

test('the page fits a phone-sized screen', async () => {
  const phone = await context.newPage();
  watch(phone, 'phone');
  await phone.setViewportSize({ width: 390, height: 844 });
  const hist = await rest('/historical/MSFT?interval=1d&limit=1500&order=desc&cached_only=true');
  await phone.goto(`${AGENT}/dashboard#symbol=MSFT&interval=1d`);
  await chartShows(phone, 'MSFT', '1d', hist.count);
  const px = await candlePixels(phone);
  assert.ok(px.up > 20 && px.down > 20, `candles drawn on the phone: ${JSON.stringify(px)}`);
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `no sideways scrolling (page ${overflow}px wider than the screen)`);
  await phone.screenshot({ path: path.join(OUT, 'dashboard-390x844.png'), fullPage: true });
  await phone.close();
});

async function post(p, body) {
  const r = await fetch(AGENT + p, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${KEY}` },
    body: JSON.stringify(body),
  });
  const answer = await r.json();
  assert.equal(r.status, 200, JSON.stringify(answer));
  assert.equal(answer.accepted, 1, JSON.stringify(answer));
}

test('new data reaches the open chart (over /stream, else by polling)', async () => {
  const health = await rest('/health');
  const streaming = health.components.stream && health.components.stream.status !== 'disabled';
  const bars = Number(await page.getAttribute('#panel-chart', 'data-bars'));
  const last = await page.evaluate(() => { const b = window.mdDashboard.chart.bars; return b[b.length - 1]; });
  // a plausible next price, with more digits than the chart shows
  const price = Math.round(last.close * 1.002 * 100) / 100 + 0.0012345;
  if (streaming) {
    await page.waitForSelector('#chart-live[data-state="live"]', { timeout: 20000 });
    const ts = new Date(Date.now() - 60000).toISOString().replace(/\.\d+Z$/, 'Z');
    await post('/ingest/quotes', { quotes: [{ symbol: 'MSFT', price, timestamp: ts, volume: 100 }] });
  } else {
    assert.equal(await page.getAttribute('#chart-live', 'data-state'), 'polling', 'live badge says polling');
    const next = new Date((last.time + 86400) * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
    await post('/ingest/bars', { bars: [{ symbol: 'MSFT', interval: '1d', timestamp: next, open: last.close,
      high: Math.max(last.close, price) + 0.5, low: Math.min(last.close, price) - 0.5, close: price, volume: 1000000 }] });
  }
  // no reload: the page keeps its chart and adds the new bar
  await page.waitForFunction((n) => Number(document.querySelector('#panel-chart').dataset.bars) === n, bars + 1, { timeout: 30000 });
  if (streaming) {
    // the indicator lines follow the forming bar from the stream (ind.<indicator>@1d with
    // partial values), not from a new request
    await page.waitForFunction(() => Number(document.querySelector('#panel-chart').dataset.liveIndicators) > 0, null, { timeout: 30000 });
    const live = await page.evaluate(() => [...window.mdDashboard.chart.live.keys()]);
    assert.ok(live.includes('sma:20') || live.includes('rsi:14'), `live values of the lines shown: ${live}`);
  }
  const close = await page.evaluate(() => { const b = window.mdDashboard.chart.bars; return b[b.length - 1].close; });
  assert.equal(close, price);
  // the title shows it as the legend does (the chart's precision), not its 17 digits
  const prec = await page.evaluate(() => window.mdDashboard.chart.precision);
  assert.ok(prec >= 2 && prec < 7, `precision ${prec}`);
  assert.match(await page.title(), new RegExp(`^MSFT ${price.toFixed(prec).replace('.', '\\.')} `));
});

test('looking at the dashboard made no provider call (it asks for stored data only)', async () => {
  const routes = new Set((await rest('/dashboard/routes.json')).routes.map((r) => r.path));
  if (!routes.has('/sources')) return;
  const now = (await rest('/sources')).sources;
  for (const s of now) {
    const before = sourceRequestsAtStart.get(s.name) ?? 0;
    assert.equal(s.requests, before, `source ${s.name} was asked ${s.requests - before} times`);
  }
});

test('a draining agent shows as not ready in the top bar, as /health/ready answers', async () => {
  // an agent of its own (browser.py's must stop cleanly at the end): SIGTERM with an upload in
  // flight keeps it draining - /health still "ok", /health/ready 503 - until the upload ends
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'md-drain-'));
  const portFile = path.join(dir, 'port');
  const env = { PATH: process.env.PATH, MDAGENT_SOURCES_PRIORITY: '', ASAN_OPTIONS: process.env.ASAN_OPTIONS || '', UBSAN_OPTIONS: process.env.UBSAN_OPTIONS || '' };
  const agent = spawn(process.env.MDAGENT_BIN, ['serve', '--db', `sqlite:${dir}/md.db`, '--create', '--listen', '127.0.0.1:0',
    '--port-file', portFile, '--insecure-dev', '--set', 'server.shutdown_grace_ms=30000'], { cwd: dir, env, stdio: 'ignore' });
  const exited = new Promise((resolve) => agent.on('exit', (code) => resolve(code)));
  const errors = [];
  const pg = await context.newPage();
  pg.on('pageerror', (e) => errors.push(e.message));
  let upload;
  try {
    for (let i = 0; i < 300 && !(fs.existsSync(portFile) && fs.readFileSync(portFile, 'utf8').trim()); i++) await new Promise((r) => setTimeout(r, 50));
    const url = `http://127.0.0.1:${fs.readFileSync(portFile, 'utf8').trim()}`;
    for (let i = 0; i < 100 && (await fetch(`${url}/health/ready`).catch(() => ({ status: 0 }))).status !== 200; i++) await new Promise((r) => setTimeout(r, 100));
    await pg.goto(`${url}/dashboard`);
    await pg.waitForSelector('#status[data-status="good"]');
    assert.equal(await pg.textContent('#status-text'), 'ok');
    upload = net.connect(Number(new URL(url).port), '127.0.0.1');
    await new Promise((r) => upload.on('connect', r));
    upload.write('POST /ingest/bars HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"bars":[');
    await new Promise((r) => setTimeout(r, 200));
    agent.kill('SIGTERM');
    // each on a new connection: the drain closes idle keep-alive ones, and a request racing
    // that close would fail
    const once = (p) => new Promise((resolve, reject) => http.get(`${url}${p}`, { agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    }).on('error', reject));
    for (let i = 0; i < 50 && (await once('/health/ready')).status !== 503; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal((await once('/health/ready')).status, 503);
    assert.equal(JSON.parse((await once('/health')).body).status, 'ok', '/health still says ok while draining');
    await pg.waitForSelector('#status[data-status="warn"][data-ready="false"]', { timeout: 10000 });
    assert.equal(await pg.textContent('#status-text'), 'ok · not ready');
    assert.match(await pg.getAttribute('#status', 'title'), /not ready/);
    await pg.waitForSelector('#cluster-table tr[data-state="draining"]', { timeout: 10000 });
  } finally {
    if (upload) upload.end(']}'.padEnd(91, ' '));
    await pg.close();
    if (agent.exitCode === null) agent.kill('SIGTERM');
    const code = await exited;
    fs.rmSync(dir, { recursive: true, force: true });
    assert.equal(code, 0, 'the draining agent exited cleanly');
  }
  assert.deepEqual(errors, []);
});

test('the browser console stayed free of errors', () => {
  assert.deepEqual(problems, []);
});
