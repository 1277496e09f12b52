// The dashboard's pipeline helpers (web/js/pipeline.js) that need no DOM: the heat map's
// colour scale and choice of symbols, the live indicator channels the chart subscribes to,
// and the recent-events list.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const SRC = process.env.MDTEST_SRC || path.resolve(import.meta.dirname, '..', '..');
const P = await import(pathToFileURL(path.join(SRC, 'web', 'js', 'pipeline.js')).href);

const alpha = (c) => Number(c.match(/,([0-9.]+)\)$/)[1]);

test('heat colours: teal for positive, red for negative, stronger with the size, grey for null', () => {
  assert.match(P.heatColor(0.5), /^rgba\(38,166,154,/);
  assert.match(P.heatColor(-0.5), /^rgba\(239,83,80,/);
  assert.ok(alpha(P.heatColor(0.9)) > alpha(P.heatColor(0.2)));
  assert.equal(alpha(P.heatColor(-0.7)), alpha(P.heatColor(0.7)));
  assert.equal(alpha(P.heatColor(1)), alpha(P.heatColor(3)), 'clamped at 1');
  assert.equal(P.heatColor(null), P.heatColor(NaN));
  assert.match(P.heatColor(null), /^rgba\(139,149,163,/);
});

test('the heat map takes the watchlist, else the screens\' symbols, else stored daily symbols', () => {
  const stored = [
    { symbol: 'MSFT', intervals: [{ interval: '1d' }] },
    { symbol: 'IBM', intervals: ['1m'] },
    { symbol: 'MONTHLY', intervals: [{ interval: '1mo' }] },
  ];
  assert.deepEqual(P.heatmapSymbols({ watchlist: ['AAPL', 'MSFT', 'AAPL'], screens: [] }, stored),
    { symbols: ['AAPL', 'MSFT'], from: 'watchlist' });
  const screens = { watchlist: ['ONE'], screens: [{ symbols: ['DAX', 'SMI'] }, { symbols: 'all' }, { symbols: ['SMI', 'CAC'] }] };
  assert.deepEqual(P.heatmapSymbols(screens, stored), { symbols: ['DAX', 'SMI', 'CAC'], from: 'screens' });
  assert.deepEqual(P.heatmapSymbols(null, stored), { symbols: ['MSFT', 'IBM'], from: 'stored' });
  const many = { watchlist: Array.from({ length: 30 }, (_, i) => `S${i}`) };
  assert.equal(P.heatmapSymbols(many, []).symbols.length, 12, 'at most 12');
});

test('live channels: one per indicator shown, psar left out (it cannot be computed live)', () => {
  const defs = [
    { id: 'sma20', name: 'sma:20' }, { id: 'rsi', name: 'rsi:14' },
    { id: 'psar', name: 'psar:0.02:0.2' }, { id: 'wma', name: 'wma:20' },
  ];
  assert.deepEqual(P.liveChannels(defs, new Set(['sma20', 'psar', 'wma']), '5m'),
    ['ind.sma:20@5m', 'ind.wma:20@5m']);
  assert.deepEqual(P.liveChannels(defs, new Set(), '1d'), []);
});

test('recent events: newest first, bounded', () => {
  let list = [];
  for (let i = 0; i < 25; i++) list = P.pushEvent(list, { n: i });
  assert.equal(list.length, 20);
  assert.equal(list[0].n, 24);
  assert.equal(list[19].n, 5);
});
