// The page's Prometheus text parser and the figures the metric plots draw (web/js/prom.js),
// on exposition text written as the format's documentation describes it, on the agent's own
// output shape, and on malformed input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const SRC = process.env.MDTEST_SRC || path.resolve(import.meta.dirname, '..', '..');
const P = await import(pathToFileURL(path.join(SRC, 'web', 'js', 'prom.js')).href);

// The example from the Prometheus exposition format documentation.
const DOC_EXAMPLE = `# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000

# Escaping in label values:
msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9

# Minimalistic line:
metric_without_timestamp_and_labels 12.47

# A weird metric from before the epoch:
something_weird{problem="division by zero"} +Inf -3982045

# A histogram, which has a pretty complex representation in the text format:
# HELP http_request_duration_seconds A histogram of the request duration.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.05"} 24054
http_request_duration_seconds_bucket{le="0.1"} 33444
http_request_duration_seconds_bucket{le="0.2"} 100392
http_request_duration_seconds_bucket{le="0.5"} 129389
http_request_duration_seconds_bucket{le="1"} 133988
http_request_duration_seconds_bucket{le="+Inf"} 144320
http_request_duration_seconds_sum 53423
http_request_duration_seconds_count 144320

# Finally a summary, which has a complex representation, too:
# HELP rpc_duration_seconds A summary of the RPC duration in seconds.
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.01"} 3102
rpc_duration_seconds{quantile="0.5"} 4773
rpc_duration_seconds_sum 1.7560473e+07
rpc_duration_seconds_count 2693
`;

test('parses the documentation example', () => {
  const s = P.parsePrometheus(DOC_EXAMPLE);
  assert.deepEqual(s.errors, []);
  assert.equal(s.types.get('http_requests_total'), 'counter');
  assert.equal(s.types.get('http_request_duration_seconds'), 'histogram');
  assert.equal(s.help.get('http_requests_total'), 'The total number of HTTP requests.');
  assert.equal(P.sum(s, 'http_requests_total'), 1030);
  assert.equal(P.sum(s, 'http_requests_total', { code: '400' }), 3);
  const ms = P.select(s, 'msdos_file_access_time_seconds')[0];
  assert.equal(ms.labels.path, 'C:\\DIR\\FILE.TXT');
  assert.equal(ms.labels.error, 'Cannot find file:\n"FILE.TXT"');
  assert.equal(ms.value, 1.458255915e9);
  assert.equal(P.sum(s, 'metric_without_timestamp_and_labels'), 12.47);
  assert.equal(P.select(s, 'something_weird')[0].value, Infinity);
  assert.equal(P.select(s, 'rpc_duration_seconds', { quantile: '0.5' })[0].value, 4773);
  const b = P.buckets(s, 'http_request_duration_seconds');
  assert.deepEqual(b.map((x) => x.le), [0.05, 0.1, 0.2, 0.5, 1, Infinity]);
  assert.equal(b[5].count, 144320);
});

test('parses NaN, signed and exponent values and empty label sets', () => {
  const s = P.parsePrometheus('a NaN\nb -Inf\nc{} -1.5e-3\nd{x="1",} 7\ne 0x10\n');
  assert.ok(Number.isNaN(P.select(s, 'a')[0].value));
  assert.equal(P.select(s, 'b')[0].value, -Infinity);
  assert.equal(P.select(s, 'c')[0].value, -0.0015);
  assert.equal(P.select(s, 'd', { x: '1' })[0].value, 7, 'a trailing comma in labels is allowed');
  assert.equal(s.errors.length, 1, 'hex is not a Prometheus number');
  assert.equal(s.errors[0].line, 5);
});

test('malformed lines are reported and skipped, never thrown', () => {
  const bad = [
    'no_value',
    'name{unterminated="x} 1',
    'name{a=unquoted} 1',
    'name{a="1" b="2"} 1',
    'name{="x"} 1',
    '{a="1"} 1',
    'name 1 2 3',
    'name abc',
    'name 1 12.5',
    'name{a="\\',
    '9name 1',
  ];
  const s = P.parsePrometheus(['ok_metric 1', ...bad, 'ok_metric{x="y"} 2'].join('\n'));
  assert.equal(s.errors.length, bad.length, JSON.stringify(s.errors));
  for (const e of s.errors) assert.ok(e.reason.length > 0);
  assert.equal(P.sum(s, 'ok_metric'), 3);
  assert.deepEqual(P.parsePrometheus(undefined).errors.length, 1);
  assert.equal(P.parsePrometheus('').samples.size, 0);
  assert.equal(P.parsePrometheus('\r\n# just a comment\r\nx 1\r\n').samples.get('x')[0].value, 1);
});

test('counter rates handle restarts', () => {
  assert.equal(P.counterDelta(10, 15), 5);
  assert.equal(P.counterDelta(10, 3), 3, 'a reset counts from zero');
  assert.equal(P.counterDelta(NaN, 3), null);
  const a = P.parsePrometheus('mdagent_http_requests_total{route="/a",status="200"} 10\nmdagent_http_requests_total{route="/b",status="404"} 2\n');
  const b = P.parsePrometheus('mdagent_http_requests_total{route="/a",status="200"} 30\nmdagent_http_requests_total{route="/b",status="404"} 4\n');
  assert.equal(P.rate(a, b, 2, 'mdagent_http_requests_total'), 11);
  assert.equal(P.rate(a, b, 2, 'mdagent_http_requests_total', { status: '404' }), 1);
  assert.equal(P.rate(a, b, 0, 'mdagent_http_requests_total'), null);
  assert.equal(P.rate(a, b, 2, 'absent_total'), null);
});

test('histogram quantiles interpolate inside buckets like PromQL', () => {
  const prev = [{ le: 0.1, count: 0 }, { le: 0.2, count: 0 }, { le: 0.4, count: 0 }, { le: Infinity, count: 0 }];
  const cur = [{ le: 0.1, count: 50 }, { le: 0.2, count: 90 }, { le: 0.4, count: 100 }, { le: Infinity, count: 100 }];
  assert.equal(P.histogramQuantile(0.5, prev, cur), 0.1);
  assert.ok(Math.abs(P.histogramQuantile(0.7, prev, cur) - 0.15) < 1e-12);
  assert.ok(Math.abs(P.histogramQuantile(0.95, prev, cur) - 0.3) < 1e-12);
  assert.ok(Math.abs(P.histogramQuantile(0.25, prev, cur) - 0.05) < 1e-12, 'first bucket starts at 0');
  // only the observations between the scrapes count
  const later = cur.map((b) => ({ le: b.le, count: b.count + (b.le >= 0.4 ? 10 : 0) }));
  assert.ok(Math.abs(P.histogramQuantile(0.5, cur, later) - 0.3) < 1e-12);
  // everything in +Inf: the highest finite bound
  const inf = [{ le: 0.1, count: 0 }, { le: Infinity, count: 5 }];
  assert.equal(P.histogramQuantile(0.9, null, inf), 0.1);
  assert.equal(P.histogramQuantile(0.5, cur, cur), null, 'no observations');
  assert.equal(P.histogramQuantile(0.5, null, []), null);
});

test('cache hit ratio per level and overall', () => {
  const t = (h1, m1, h2, m2) => P.parsePrometheus([
    `mdagent_cache_requests_total{level="l1",result="hit"} ${h1}`,
    `mdagent_cache_requests_total{level="l1",result="miss"} ${m1}`,
    `mdagent_cache_requests_total{level="l2",result="hit"} ${h2}`,
    `mdagent_cache_requests_total{level="l2",result="miss"} ${m2}`,
  ].join('\n'));
  const a = t(0, 0, 0, 0);
  const b = t(9, 1, 1, 0);
  assert.equal(P.hitRatio(a, b, 'l1'), 0.9);
  assert.equal(P.hitRatio(a, b, 'l2'), 1);
  assert.equal(P.hitRatio(a, b), 1, 'the one L1 miss was an L2 hit');
  // L2 is asked only after an L1 miss: overall = (L1 hits + L2 hits) / L1 lookups
  assert.ok(Math.abs(P.hitRatio(a, t(6, 4, 1, 3)) - 0.7) < 1e-12);
  const flat = (h, m) => P.parsePrometheus(`mdagent_cache_requests_total{result="hit"} ${h}\nmdagent_cache_requests_total{result="miss"} ${m}`);
  assert.equal(P.hitRatio(flat(0, 0), flat(3, 1)), 0.75, 'without levels: hits / lookups');
  assert.equal(P.hitRatio(b, b, 'l1'), null, 'no lookups in between');
  assert.equal(P.hitRatio(a, P.parsePrometheus('x 1'), 'l1'), null, 'metric absent');
});

test('the rolling window aligns series and drops old points', () => {
  const r = new P.Rolling(10);
  r.push(0, { a: 1 });
  r.push(5, { a: 2, b: 20 });
  assert.deepEqual(r.data(['a', 'b']), [[0, 5], [1, 2], [null, 20]]);
  r.push(12, { b: 30 });
  assert.deepEqual(r.data(['a', 'b']), [[5, 12], [2, null], [20, 30]]);
  assert.equal(r.last('a'), 2);
  assert.equal(r.last('zzz'), null);
});

test("the agent's own /metrics shape parses without errors", () => {
  const text = `# HELP mdagent_http_requests_total HTTP requests answered, by route pattern and status
# TYPE mdagent_http_requests_total counter
mdagent_http_requests_total{route="/historical/{symbol}",status="200"} 4
mdagent_http_requests_total{route="(unknown)",status="404"} 1
# HELP mdagent_http_request_duration_seconds time from request to response
# TYPE mdagent_http_request_duration_seconds histogram
mdagent_http_request_duration_seconds_bucket{le="0.0001"} 0
mdagent_http_request_duration_seconds_bucket{le="0.00025"} 1
mdagent_http_request_duration_seconds_bucket{le="+Inf"} 5
mdagent_http_request_duration_seconds_sum 0.0035881889999999994
mdagent_http_request_duration_seconds_count 5
# HELP mdagent_source_health_score source health score 0..1 from success rate and latency
# TYPE mdagent_source_health_score gauge
mdagent_source_health_score{source="yahoo"} 0.97
# HELP mdagent_uptime_seconds seconds since the agent started`;
  const s = P.parsePrometheus(text);
  assert.deepEqual(s.errors, []);
  assert.equal(P.sum(s, 'mdagent_http_requests_total'), 5);
  assert.equal(P.select(s, 'mdagent_http_requests_total', { route: '/historical/{symbol}' })[0].value, 4);
  assert.equal(P.select(s, 'mdagent_source_health_score', { source: 'yahoo' })[0].value, 0.97);
  assert.equal(P.buckets(s, 'mdagent_http_request_duration_seconds').length, 3);
});

test('histogram buckets sum over routes (sum by le), or one route when asked', () => {
  const text = [
    'h_bucket{route="/a",le="0.1"} 10', 'h_bucket{route="/a",le="1"} 10', 'h_bucket{route="/a",le="+Inf"} 10',
    'h_bucket{route="/b",le="0.1"} 0', 'h_bucket{route="/b",le="1"} 30', 'h_bucket{route="/b",le="+Inf"} 30',
  ].join('\n');
  const s = P.parsePrometheus(text);
  assert.deepEqual(P.buckets(s, 'h'), [{ le: 0.1, count: 10 }, { le: 1, count: 40 }, { le: Infinity, count: 40 }]);
  assert.deepEqual(P.buckets(s, 'h', { route: '/b' }).map((b) => b.count), [0, 30, 30]);
  // the median of all 40: rank 20, the 10th of the 30 in (0.1, 1] -> 0.1 + 0.9 * 10/30
  assert.ok(Math.abs(P.histogramQuantile(0.5, [], P.buckets(s, 'h')) - 0.4) < 1e-12);
  // /a alone: every observation at or below 0.1
  assert.ok(P.histogramQuantile(0.99, [], P.buckets(s, 'h', { route: '/a' })) <= 0.1);
});
