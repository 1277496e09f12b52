// Validates the API documents with real validators and, given an agent, drives it:
//
//   node check.mjs OPENAPI.json ASYNCAPI.json [AGENT_URL [MESSAGES.json]]
//
// - OPENAPI.json against the OpenAPI 3.1 schemas (@seriousme/openapi-schema-validator), every
//   $ref resolved; ASYNCAPI.json with the AsyncAPI parser (@asyncapi/parser: schema and its
//   semantic rules), no error-level diagnostic;
// - with AGENT_URL: the routes the agent lists (/dashboard/routes.json, generated from its
//   route table) and the document's paths are the same set, both ways; every documented GET
//   route is requested (its example parameters) and the agent never answers "no route"; each
//   JSON answer validates (ajv, JSON Schema 2020-12) against the schema the document gives for
//   the status it came with, and names no member the schema does not document (a member
//   of an object whose schema lists its properties must be one of them: additions are
//   documented, not sent silently); an unknown path is 404 and a wrong method 405, as
//   documented;
// - with MESSAGES.json (a JSON array of what the agent sent on /stream): each message
//   validates against the AsyncAPI payload of its type, with the same rule for members.
// Prints one line per check and "N passed, M failed"; exit status 1 on any failure.
import fs from 'node:fs';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Parser } from '@asyncapi/parser';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const [openapiPath, asyncapiPath, agent, messagesPath] = process.argv.slice(2);
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

// The members of an answer no schema documents: an object's members must be in the
// properties its schema (with its allOf parts, and the anyOf/oneOf branch that accepts it)
// lists, unless the schema allows others (additionalProperties, patternProperties) or lists
// none. Paths of the offending members, e.g. "$.components.store.kind".
function undocumented(validateWith, doc, schema, inst, path = '$', out = []) {
  const deref = (s) => {
    for (let i = 0; s && s.$ref && i < 20; i++) s = resolve(doc, s.$ref);
    return s;
  };
  const parts = (s) => { // the schema and every part that applies to inst
    const all = [];
    const stack = [s];
    while (stack.length) {
      const x = deref(stack.pop());
      if (!x || typeof x !== 'object') continue;
      all.push(x);
      for (const a of x.allOf || []) stack.push(a);
      for (const k of ['anyOf', 'oneOf']) {
        const hit = (x[k] || []).find((b) => validateWith(b, inst));
        if (hit) stack.push(hit);
      }
    }
    return all;
  };
  const ps = parts(schema);
  if (Array.isArray(inst)) {
    const items = ps.map((x) => x.items).find((x) => x && typeof x === 'object');
    if (items) inst.slice(0, 200).forEach((v, i) => undocumented(validateWith, doc, items, v, `${path}[${i}]`, out));
  } else if (inst && typeof inst === 'object') {
    const props = Object.assign({}, ...ps.map((x) => x.properties || {}));
    const extra = ps.map((x) => x.additionalProperties).find((x) => x !== undefined);
    const open = extra === true || ps.some((x) => x.patternProperties);
    const listed = Object.keys(props).length > 0 || extra === false;
    for (const [k, v] of Object.entries(inst)) {
      if (k in props) undocumented(validateWith, doc, props[k], v, `${path}.${k}`, out);
      else if (extra && typeof extra === 'object') undocumented(validateWith, doc, extra, v, `${path}.${k}`, out);
      else if (!open && listed) out.push(`${path}.${k}`);
    }
  }
  return [...new Set(out.map((p) => p.replace(/\[\d+\]/g, '[]')))];
}

// -- against the agent ----------------------------------------------------------------------
if (agent && agent !== '-') {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ $id: 'oa', components: oa.components }, 'oa');
  const rewrite = (s) => JSON.parse(JSON.stringify(s).replace(/"#\/components\//g, '"oa#/components/'));
  const validWith = (s, v) => ajv.validate(rewrite(s), v);

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
    ['/symbols', '/symbols?limit=1'], // a route without parameters: 400 invalid_parameter
    ['/health', '/health?verbose=1'],
    ['/analytics/{symbol}/summary', '/analytics/MSFT/summary?source=yahoo'], // 503 no_healthy_source
    ['/analytics/{symbol}/indicators', '/analytics/MSFT/indicators?names=sma&source=yahoo'],
    ['/historical', '/historical?symbols=MSFT,DAX&limit=3&adjust=all'], // adjustments
    ['/historical/{symbol}', '/historical/MSFT?limit=2&adjust=none'],
    ['/price/{symbol}', `/price/MSFT?x=${'a'.repeat(9000)}`], // 414 uri_too_long
  ];
  const gets = Object.entries(oa.paths).filter(([, item]) => item.get).map(([p, item]) =>
    [p, item.get, p.replace(/\{(\w+)\}/g, (_, n) => examples[n]) + (queryExamples[p] ? `?${queryExamples[p]}` : '')]);
  for (const [p, url] of moreExamples) gets.push([p, oa.paths[p].get, url]);
  for (const [p, op, url] of gets) {
    const r = await fetch(`${agent}${url}`);
    const type = (r.headers.get('content-type') || '').split(';')[0];
    const text = await r.text();
    const noRoute = r.status === 404 && /no route for/.test(text);
    check(!noRoute, `GET ${url.slice(0, 120)}: the agent has the route`, text.slice(0, 200));
    const resp = op.responses[String(r.status)];
    check(!!resp, `GET ${url.slice(0, 120)}: status ${r.status} is documented`, Object.keys(op.responses).join(', '));
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
    const shown = url.length > 120 ? `${url.slice(0, 120)}...` : url;
    check(ok, `GET ${shown}: ${r.status} answer matches its schema`, JSON.stringify(validate.errors)?.slice(0, 1500));
    const extra = undocumented(validWith, oa, media.schema, body);
    check(extra.length === 0, `GET ${shown}: every member of the answer is documented`, extra.join(', '));
  }
  const nf = await fetch(`${agent}/no/such/route`);
  check(nf.status === 404, 'an undocumented path is 404');
  const wrong = await fetch(`${agent}/symbols`, { method: 'POST' });
  check(wrong.status === 405, 'a method the document does not list is 405');
  const schema405 = oa.paths['/symbols'].get.responses['405']?.content?.['application/json']?.schema;
  check(schema405 && ajv.validate(rewrite(schema405), await wrong.json()), 'the 405 answer matches its schema', JSON.stringify(ajv.errors));
  check(/\bGET\b/.test(wrong.headers.get('allow') || ''), 'the 405 answer has an Allow header', wrong.headers.get('allow'));
}

// -- the stream's messages against the AsyncAPI document --------------------------------------
if (messagesPath) {
  const aa = JSON.parse(aaText);
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ $id: 'aa', components: aa.components }, 'aa');
  const rewrite = (s) => JSON.parse(JSON.stringify(s).replace(/"#\/components\//g, '"aa#/components/'));
  const validWith = (s, v) => ajv.validate(rewrite(s), v);
  const seen = new Set();
  for (const m of JSON.parse(fs.readFileSync(messagesPath, 'utf8'))) {
    const def = aa.components.messages[m.type];
    const what = `stream ${JSON.stringify(m).slice(0, 100)}`;
    check(!!def, `${what}: its type is a documented message`);
    if (!def) continue;
    seen.add(m.type);
    check(validWith(def.payload, m), `${what}: matches its payload schema`, JSON.stringify(ajv.errors)?.slice(0, 1500));
    const extra = undocumented(validWith, aa, def.payload, m);
    check(extra.length === 0, `${what}: every member is documented`, extra.join(', '));
  }
  console.log(`stream message types checked: ${[...seen].sort().join(' ')}`);
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
