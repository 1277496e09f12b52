// Validates the API documents with real validators and, given an agent, drives it:
//
//   node check.mjs OPENAPI.json ASYNCAPI.json [AGENT_URL]
//
// - OPENAPI.json against the OpenAPI 3.1 schemas (@seriousme/openapi-schema-validator), every
//   $ref resolved; ASYNCAPI.json with the AsyncAPI parser (@asyncapi/parser: schema and its
//   semantic rules), no error-level diagnostic;
// - with AGENT_URL: the routes the agent lists (/dashboard/routes.json, generated from its
//   route table) and the document's paths are the same set, both ways; every documented GET
//   route is requested (its example parameters) and the agent never answers "no route"; each
//   JSON answer validates (ajv, JSON Schema 2020-12) against the schema the document gives for
//   the status it came with; an unknown path is 404 and a wrong method 405, as documented.
// Prints one line per check and "N passed, M failed"; exit status 1 on any failure.
import fs from 'node:fs';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Parser } from '@asyncapi/parser';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const [openapiPath, asyncapiPath, agent] = process.argv.slice(2);
let passed = 0;
let failed = 0;
function check(ok, what, detail) {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}${!ok && detail ? `: ${detail}` : ''}`);
}

const oaText = fs.readFileSync(openapiPath, 'utf8');
const oa = JSON.parse(oaText);

// -- OpenAPI 3.1 ------------------------------------------------------------------------------
const validator = new Validator();
const res = await validator.validate(JSON.parse(oaText));
check(res.valid, 'openapi.json is a valid OpenAPI document', JSON.stringify(res.errors)?.slice(0, 2000));
check(validator.version === '3.1', `OpenAPI version 3.1 (got ${validator.version})`);
function refs(v, out = []) {
  if (Array.isArray(v)) v.forEach((x) => refs(x, out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) (k === '$ref' && typeof x === 'string' ? out.push(x) : refs(x, out));
  return out;
}
function resolve(doc, ref) {
  if (!ref.startsWith('#/')) return undefined;
  return ref.slice(2).split('/').reduce((o, k) => (o === undefined ? undefined : o[k.replace(/~1/g, '/').replace(/~0/g, '~')]), doc);
}
const dangling = refs(oa).filter((r) => resolve(oa, r) === undefined);
check(dangling.length === 0, 'every $ref of openapi.json resolves', dangling.join(', '));

// -- AsyncAPI 3 -------------------------------------------------------------------------------
const aaText = fs.readFileSync(asyncapiPath, 'utf8');
const parser = new Parser();
const { document, diagnostics } = await parser.parse(aaText);
const errors = diagnostics.filter((d) => d.severity === 0);
check(document && errors.length === 0, 'asyncapi.json parses without an error (@asyncapi/parser)',
  errors.map((d) => `${d.path.join('.')}: ${d.message}`).join('; ').slice(0, 2000));
if (document) {
  check(document.version() === '3.0.0', `AsyncAPI version 3.0.0 (got ${document.version()})`);
  const ids = document.channels().all().map((c) => c.address());
  for (const want of ['/stream', 'quote', 'bar.{interval}', 'ind.{indicator}@{interval}', 'screen.{name}']) check(ids.includes(want), `AsyncAPI channel ${want}`, ids.join(', '));
  const names = document.allMessages().all().map((m) => m.name());
  for (const want of ['subscribe', 'unsubscribe', 'ping', 'welcome', 'subscribed', 'quote', 'bar', 'error', 'lagged', 'pong', 'indicator', 'screen']) {
    check(names.includes(want), `AsyncAPI message ${want}`, names.join(', '));
  }
}

// -- against the agent ----------------------------------------------------------------------
if (agent) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ $id: 'oa', components: oa.components }, 'oa');
  const rewrite = (s) => JSON.parse(JSON.stringify(s).replace(/"#\/components\//g, '"oa#/components/'));

  const listed = (await (await fetch(`${agent}/dashboard/routes.json`)).json()).routes;
  const served = new Set(listed.flatMap((r) => r.methods.map((m) => `${m} ${r.path}`)));
  const documented = new Set(Object.entries(oa.paths).flatMap(([p, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${p}`)));
  const missing = [...served].filter((x) => !documented.has(x));
  const extra = [...documented].filter((x) => !served.has(x));
  check(missing.length === 0, 'every route the agent serves is documented', missing.join(', '));
  check(extra.length === 0, 'every documented route is served', extra.join(', '));

  const examples = { symbol: 'MSFT', id: 'bf-0000000000000000', mic: 'XNYS', path: 'routes.json', name: 'nosuchscreen' };
  const queryExamples = {
    '/prices': 'symbols=MSFT,NOPE,DAX', '/analytics/returns': 'symbols=MSFT,DAX&interval=1w&align=outer',
    '/analytics/correlation': 'symbols=MSFT,DAX,CAC&interval=1d&benchmark=DAX&window=5&pair=MSFT,CAC',
    '/actions/{symbol}': 'cached_only=true', '/analytics/{symbol}/summary': 'adjust=all',
    '/analytics/{symbol}/indicators': 'names=sma:5,macd&limit=20&order=desc', '/historical/{symbol}': 'limit=3&adjust=splits',
    '/calendars/{mic}': 'start=2024-01-01&end=2024-01-10', '/validate/{symbol}': 'limit=3', '/quality/{symbol}': 'issues=3',
  };
  // answers other than the examples' that a schema or an error list once missed
  const moreExamples = [
    ['/quality/{symbol}', '/quality/MSFT?start=2010-01-01&end=2010-02-01'], // nothing to grade: N/A
    ['/historical', '/historical?symbols=DAX,SMI&source=yahoo'], // no sources: 503 no_healthy_source
    ['/historical/{symbol}', '/historical/MSFT?source=yahoo'],
    ['/validate/{symbol}', '/validate/MSFT?limit=0'], // 400 invalid_parameter
  ];
  const gets = Object.entries(oa.paths).filter(([, item]) => item.get).map(([p, item]) =>
    [p, item.get, p.replace(/\{(\w+)\}/g, (_, n) => examples[n]) + (queryExamples[p] ? `?${queryExamples[p]}` : '')]);
  for (const [p, url] of moreExamples) gets.push([p, oa.paths[p].get, url]);
  for (const [p, op, url] of gets) {
    const r = await fetch(`${agent}${url}`);
    const type = (r.headers.get('content-type') || '').split(';')[0];
    const text = await r.text();
    const noRoute = r.status === 404 && /no route for/.test(text);
    check(!noRoute, `GET ${url}: the agent has the route`, text.slice(0, 200));
    const resp = op.responses[String(r.status)];
    check(!!resp, `GET ${url}: status ${r.status} is documented`, Object.keys(op.responses).join(', '));
    if (r.headers.get('link')) {
      check(!!resp?.headers?.Link, `GET ${url}: its Link header is documented`);
      if (type === 'application/json') {
        const next = JSON.parse(text).next;
        check(r.headers.get('link') === `<${next}>; rel="next"`, `GET ${url}: Link is the answer's next`, r.headers.get('link'));
      }
    }
    if (!resp || !resp.content) continue;
    const media = resp.content[type] || (type.startsWith('text/') ? undefined : resp.content['application/octet-stream']);
    check(!!media || p === '/dashboard/{path}', `GET ${url}: content type ${type} is documented`, Object.keys(resp.content).join(', '));
    if (type !== 'application/json' || !media) continue;
    const validate = ajv.compile(rewrite(media.schema));
    const body = JSON.parse(text);
    const ok = validate(body);
    check(ok, `GET ${url}: ${r.status} answer matches its schema`, JSON.stringify(validate.errors)?.slice(0, 1500));
  }
  const nf = await fetch(`${agent}/no/such/route`);
  check(nf.status === 404, 'an undocumented path is 404');
  const wrong = await fetch(`${agent}/symbols`, { method: 'POST' });
  check(wrong.status === 405, 'a method the document does not list is 405');
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
