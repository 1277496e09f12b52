/* contract.c - /openapi.json and /asyncapi.json from routes.def, errors.def, the enums of
 * the code's own tables and server/contract.json (contract.h says what comes from where).
 *
 *   data (contract.json) -> placeholders ("@intervals", ...) replaced by the tables' lists
 *   OpenAPI:  one path item per routes.def pattern, one operation per method; parameters
 *             from the pattern's {name} and the route's params column; responses from the
 *             data, plus one error response per HTTP status the route's error codes carry
 *             (the codes grouped by errors.def's status, each an enum of the Error schema);
 *             a response's "headers" (Link of the paged routes) as they are
 *   AsyncAPI: the control channel /stream and one channel per stream channel family, one
 *             operation per message and direction
 * Rendered with jansson once per process (insertion order is kept, so the text is the
 * same on every run: docs/openapi.json and docs/asyncapi.json are compared byte for byte). */
#include "server/contract.h"

#include "core/bar.h"
#include "core/interval.h"
#include "server/routes.h"
#include "stream/proto.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmake/embed.cmake's output of server/contract.json */
extern const char md_contract_json[];
extern const unsigned long md_contract_json_len;

static const char *const method_names[] = {"get", "post", "put", "delete"};
static const int method_bits[] = {MD_HTTP_GET, MD_HTTP_POST, MD_HTTP_PUT, MD_HTTP_DELETE};

/* -- the code's lists ---------------------------------------------------------------------- */

static json_t *list_intervals(void)
{
    json_t *a = json_array();
    for (int i = 0; i < MD_IV_COUNT; i++)
        json_array_append_new(a, json_string(md_interval_name((md_interval)i)));
    return a;
}

/* the names ?source= takes: the providers and the offline sources */
static json_t *list_sources(void)
{
    json_t *a = json_array();
    for (int i = 1; i < MD_SRC_COUNT; i++)
        if (i != MD_SRC_CSV && i != MD_SRC_INGEST)
            json_array_append_new(a, json_string(md_source_name(i)));
    return a;
}

static json_t *list_error_codes(void)
{
    json_t *a = json_array();
    for (int i = 0; i < MD__EIDX_COUNT; i++)
        json_array_append_new(a, json_string(md_error_code(MD__E_BASE - i)));
    return a;
}

static json_t *list_channels(void)
{
    json_t *a = json_array();
    for (int i = 0; i < MD_CH_COUNT; i++) json_array_append_new(a, json_string(md_channel_name(i)));
    return a;
}

/* Replaces every "@name" string in v (recursively) by the list it names. */
static void expand(json_t *v)
{
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        void *tmp;
        json_object_foreach_safe(v, tmp, k, x)
        {
            const char *s = json_is_string(x) ? json_string_value(x) : NULL;
            json_t *list = NULL;
            if (s && strcmp(s, "@intervals") == 0) list = list_intervals();
            if (s && strcmp(s, "@sources") == 0) list = list_sources();
            if (s && strcmp(s, "@error_codes") == 0) list = list_error_codes();
            if (s && strcmp(s, "@channels") == 0) list = list_channels();
            if (list)
                json_object_set_new(v, k, list);
            else
                expand(x);
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) expand(json_array_get(v, i));
    }
}

static int error_status(const char *code)
{
    for (int i = 0; i < MD__EIDX_COUNT; i++)
        if (strcmp(md_error_code(MD__E_BASE - i), code) == 0)
            return md_error_http_status(MD__E_BASE - i);
    return 0;
}

static json_t *load_data(md_error *err)
{
    json_error_t je;
    json_t *d = json_loadb(md_contract_json, md_contract_json_len, 0, &je);
    if (!d) {
        md_error_set(err, MD_EINTERNAL, "server/contract.json:%d: %s", je.line, je.text);
        return NULL;
    }
    expand(d);
    return d;
}

/* -- OpenAPI ------------------------------------------------------------------------------- */

static json_t *param_def(json_t *data, const char *key, const char *name, md_error *err)
{
    json_t *def =
        json_object_get(json_object_get(json_object_get(data, "route_parameters"), key), name);
    if (!def) def = json_object_get(json_object_get(data, "parameters"), name);
    if (!def)
        md_error_set(err, MD_EINTERNAL,
                     "%s takes ?%s= (routes.def) but server/contract.json does not describe it",
                     key, name);
    return def;
}

static json_t *parameters(json_t *data, const md_route *rt, const char *key, json_t *rd,
                          md_error *err)
{
    json_t *ps = json_array();
    const char *open = strchr(rt->pattern, '{');
    if (open) {
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)strcspn(open + 1, "}"), open + 1);
        json_t *def = json_object_get(json_object_get(data, "path_parameters"), name);
        if (!def) {
            json_decref(ps);
            md_error_set(err, MD_EINTERNAL, "%s: no path_parameters.%s in contract.json", key,
                         name);
            return NULL;
        }
        json_t *p = json_pack("{s:s, s:s, s:b}", "name", name, "in", "path", "required", 1);
        json_object_update(p, def);
        json_array_append_new(ps, p);
    }
    if (!rt->params || strcmp(rt->params, "*") == 0) return ps;
    json_t *required = json_object_get(rd, "required_params");
    for (const char *w = rt->params; *w;) {
        size_t n = strcspn(w, " ");
        if (n == 0) {
            w++;
            continue;
        }
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)n, w);
        w += n;
        json_t *def = param_def(data, key, name, err);
        if (!def) {
            json_decref(ps);
            return NULL;
        }
        int req = 0;
        for (size_t i = 0; i < json_array_size(required); i++)
            req |= strcmp(json_string_value(json_array_get(required, i)), name) == 0;
        json_t *p = json_pack("{s:s, s:s}", "name", name, "in", "query");
        if (req) json_object_set_new(p, "required", json_true());
        json_object_update(p, def);
        json_array_append_new(ps, p);
    }
    return ps;
}

/* Adds code to the list once. */
static void add_code(json_t *codes, json_t *code)
{
    for (size_t i = 0; i < json_array_size(codes); i++)
        if (json_equal(json_array_get(codes, i), code)) return;
    json_array_append(codes, code);
}

/* The error codes a route can answer: the data's own, and those of what every route,
 * every route with parameters, an API key or a body can meet. */
static json_t *route_errors(json_t *data, const md_route *rt, json_t *rd)
{
    json_t *common = json_object_get(data, "errors"), *codes = json_array();
    const char *groups[4] = {"all", NULL, NULL, NULL};
    int g = 1;
    if (rt->params && *rt->params && strcmp(rt->params, "*") != 0) groups[g++] = "params";
    if (rt->flags & MD_RT_AUTH) groups[g++] = "auth";
    if (rt->flags & MD_RT_BODY) groups[g++] = "body";
    json_t *own = json_object_get(rd, "errors");
    for (size_t i = 0; i < json_array_size(own); i++) add_code(codes, json_array_get(own, i));
    for (int k = 0; k < g; k++) {
        json_t *l = json_object_get(common, groups[k]);
        for (size_t i = 0; i < json_array_size(l); i++) add_code(codes, json_array_get(l, i));
    }
    return codes;
}

static json_t *content(json_t *resp)
{
    json_t *c = json_object();
    json_t *js = json_object_get(resp, "json");
    if (js) json_object_set_new(c, "application/json", json_pack("{s:O}", "schema", js));
    const char *mime;
    json_t *schema;
    json_object_foreach(json_object_get(resp, "content"), mime, schema)
    {
        json_object_set_new(c, mime, json_pack("{s:O}", "schema", schema));
    }
    return c;
}

static json_t *responses(const char *key, json_t *rd, json_t *codes, md_error *err)
{
    json_t *out = json_object();
    const char *status;
    json_t *r;
    json_object_foreach(json_object_get(rd, "responses"), status, r)
    {
        json_t *d = json_object_get(r, "description");
        json_t *resp = json_object();
        json_object_set_new(resp, "description", d ? json_incref(d) : json_string(status));
        json_t *h = json_object_get(r, "headers");
        if (h) json_object_set(resp, "headers", h);
        json_t *c = content(r);
        if (json_object_size(c))
            json_object_set_new(resp, "content", c);
        else
            json_decref(c);
        json_object_set_new(out, status, resp);
    }
    /* the error codes grouped by status, in the order of their first code */
    for (size_t i = 0; i < json_array_size(codes); i++) {
        const char *code = json_string_value(json_array_get(codes, i));
        int st = code ? error_status(code) : 0;
        if (!st) {
            json_decref(out);
            md_error_set(err, MD_EINTERNAL, "%s: error code '%s' is not in errors.def", key,
                         code ? code : "?");
            return NULL;
        }
        char s[8];
        snprintf(s, sizeof s, "%d", st);
        if (json_object_get(out, s)) continue; /* done with its first code */
        json_t *same = json_array();
        for (size_t j = i; j < json_array_size(codes); j++)
            if (error_status(json_string_value(json_array_get(codes, j))) == st)
                json_array_append(same, json_array_get(codes, j));
        char desc[512] = "error:";
        for (size_t j = 0; j < json_array_size(same); j++)
            snprintf(desc + strlen(desc), sizeof desc - strlen(desc), "%s %s", j ? "," : "",
                     json_string_value(json_array_get(same, j)));
        json_t *schema = json_pack("{s:[{s:s},{s:{s:{s:{s:{s:o}}}}}]}", "allOf", "$ref",
                                   "#/components/schemas/Error", "properties", "error",
                                   "properties", "code", "enum", same);
        json_object_set_new(out, s,
                            json_pack("{s:s, s:{s:{s:o}}}", "description", desc, "content",
                                      "application/json", "schema", schema));
    }
    return out;
}

static json_t *operation(json_t *data, const md_route *rt, const char *method, md_error *err)
{
    char key[160];
    snprintf(key, sizeof key, "%s %s", method, rt->pattern);
    for (char *p = key; *p && *p != ' '; p++) *p = (char)(*p - 'a' + 'A');
    json_t *rd = json_object_get(json_object_get(data, "routes"), key);
    if (!rd) {
        md_error_set(err, MD_EINTERNAL, "route %s (routes.def) has no entry in contract.json", key);
        return NULL;
    }
    /* operationId: the method and the path's words ("get_price_symbol") */
    char id[160];
    size_t n = (size_t)snprintf(id, sizeof id, "%s", method);
    for (const char *p = rt->pattern; *p && n + 2 < sizeof id; p++) {
        int word = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9');
        if (word)
            id[n++] = *p;
        else if (id[n - 1] != '_')
            id[n++] = '_';
    }
    while (n && id[n - 1] == '_') n--;
    id[n] = 0;
    json_t *op =
        json_pack("{s:s, s:O?}", "operationId", id, "summary", json_object_get(rd, "summary"));
    if (json_object_get(rd, "description"))
        json_object_set(op, "description", json_object_get(rd, "description"));
    if (json_object_get(rd, "tags")) json_object_set(op, "tags", json_object_get(rd, "tags"));
    json_t *ps = parameters(data, rt, key, rd, err);
    json_t *codes = ps ? route_errors(data, rt, rd) : NULL;
    json_t *rs = codes ? responses(key, rd, codes, err) : NULL;
    json_decref(codes);
    if (!rs) {
        json_decref(ps);
        json_decref(op);
        return NULL;
    }
    if (json_array_size(ps))
        json_object_set_new(op, "parameters", ps);
    else
        json_decref(ps);
    json_t *body = json_object_get(rd, "requestBody");
    if (body) {
        json_t *c = json_object();
        const char *mime;
        json_t *schema;
        json_object_foreach(body, mime, schema)
        {
            json_object_set_new(c, mime, json_pack("{s:O}", "schema", schema));
        }
        json_object_set_new(op, "requestBody",
                            json_pack("{s:b, s:o}", "required", 1, "content", c));
    }
    json_object_set_new(op, "responses", rs);
    if (rt->flags & MD_RT_AUTH)
        json_object_set_new(op, "security", json_pack("[{s:[]},{s:[]}]", "bearer", "apiKey"));
    return op;
}

static json_t *openapi(json_t *data, md_error *err)
{
    json_t *info = json_deep_copy(json_object_get(data, "info"));
    json_object_set_new(info, "version", json_string(MD_VERSION));
    json_t *doc = json_pack("{s:s, s:o, s:[{s:s}], s:[]}", "openapi", "3.1.0", "info", info,
                            "servers", "url", "/", "security");
    json_t *paths = json_object();
    size_t n;
    const md_route *rt = md_route_table(&n);
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_object_get(paths, rt[i].pattern);
        if (!item) {
            item = json_object();
            json_object_set_new(paths, rt[i].pattern, item);
        }
        for (size_t m = 0; m < sizeof method_bits / sizeof method_bits[0]; m++) {
            if (!(rt[i].methods & method_bits[m])) continue;
            json_t *op = operation(data, &rt[i], method_names[m], err);
            if (!op) {
                json_decref(paths);
                json_decref(doc);
                return NULL;
            }
            json_object_set_new(item, method_names[m], op);
        }
    }
    json_object_set_new(doc, "paths", paths);
    json_t *schemes =
        json_pack("{s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s}}", "bearer", "type", "http", "scheme",
                  "bearer", "description", "Authorization: Bearer <key>, a key of MDAGENT_API_KEYS",
                  "apiKey", "type", "apiKey", "in", "header", "name", "X-API-Key", "description",
                  "X-API-Key: <key>, a key of MDAGENT_API_KEYS");
    json_object_set_new(doc, "components",
                        json_pack("{s:O, s:o}", "schemas", json_object_get(data, "schemas"),
                                  "securitySchemes", schemes));
    return doc;
}

/* -- AsyncAPI ------------------------------------------------------------------------------ */

static json_t *msg_refs(const char *channel, json_t *names)
{
    json_t *a = json_array();
    for (size_t i = 0; i < json_array_size(names); i++) {
        char ref[128];
        snprintf(ref, sizeof ref, "#/channels/%s/messages/%s", channel,
                 json_string_value(json_array_get(names, i)));
        json_array_append_new(a, json_pack("{s:s}", "$ref", ref));
    }
    return a;
}

static json_t *channel_messages(json_t *names)
{
    json_t *o = json_object();
    for (size_t i = 0; i < json_array_size(names); i++) {
        const char *name = json_string_value(json_array_get(names, i));
        char ref[128];
        snprintf(ref, sizeof ref, "#/components/messages/%s", name);
        json_object_set_new(o, name, json_pack("{s:s}", "$ref", ref));
    }
    return o;
}

/* One operation per message: send for what the client sends, receive for the rest. */
static void add_operations(json_t *ops, const char *channel, json_t *names, const char *action)
{
    for (size_t i = 0; i < json_array_size(names); i++) {
        const char *name = json_string_value(json_array_get(names, i));
        char id[96], ref[96];
        snprintf(id, sizeof id, "%s%c%s", action, name[0] - 'a' + 'A', name + 1);
        snprintf(ref, sizeof ref, "#/channels/%s", channel);
        json_t *one = json_array();
        json_array_append_new(one, json_string(name));
        json_object_set_new(ops, id,
                            json_pack("{s:s, s:{s:s}, s:o}", "action", action, "channel", "$ref",
                                      ref, "messages", msg_refs(channel, one)));
        json_decref(one);
    }
}

static json_t *asyncapi(json_t *data, md_error *err)
{
    json_t *st = json_object_get(data, "stream");
    json_t *info = json_pack("{s:s, s:s, s:O}", "title", "mdagent /stream", "version", MD_VERSION,
                             "description", json_object_get(st, "description"));
    json_t *doc =
        json_pack("{s:s, s:o, s:s, s:{s:{s:s, s:s, s:s, s:s}}}", "asyncapi", "3.0.0", "info", info,
                  "defaultContentType", "application/json", "servers", "agent", "host",
                  "localhost:8080", "protocol", "ws", "pathname", "/stream", "description",
                  "the agent's listen address (listen, --listen); wss behind a TLS proxy");
    json_t *client = json_object_get(st, "client"), *server = json_object_get(st, "server");
    json_t *control = json_array();
    json_array_extend(control, client);
    json_array_extend(control, server);
    json_t *channels = json_object(), *ops = json_object();
    json_object_set_new(channels, "stream",
                        json_pack("{s:s, s:s, s:o}", "address", "/stream", "description",
                                  "the connection: subscriptions, pings, errors", "messages",
                                  channel_messages(control)));
    json_decref(control);
    add_operations(ops, "stream", client, "send");
    add_operations(ops, "stream", server, "receive");
    const char *name;
    json_t *ch;
    json_object_foreach(json_object_get(st, "channels"), name, ch)
    {
        json_t *c = json_pack("{s:O, s:O, s:o}", "address", json_object_get(ch, "address"),
                              "description", json_object_get(ch, "description"), "messages",
                              channel_messages(json_object_get(ch, "messages")));
        if (json_object_get(ch, "parameters"))
            json_object_set(c, "parameters", json_object_get(ch, "parameters"));
        json_object_set_new(channels, name, c);
        add_operations(ops, name, json_object_get(ch, "messages"), "receive");
    }
    json_object_set_new(doc, "channels", channels);
    json_object_set_new(doc, "operations", ops);
    json_t *messages = json_object();
    json_t *m;
    json_object_foreach(json_object_get(st, "messages"), name, m)
    {
        json_t *msg = json_pack("{s:s, s:O, s:s, s:O}", "name", name, "summary",
                                json_object_get(m, "summary"), "contentType", "application/json",
                                "payload", json_object_get(m, "payload"));
        json_object_set_new(messages, name, msg);
    }
    /* the schemas the payloads refer to */
    json_t *schemas = json_object(), *all = json_object_get(data, "schemas");
    const char *used[] = {"Symbol", "Interval", "Timestamp", "Adjustment"};
    for (size_t i = 0; i < sizeof used / sizeof used[0]; i++)
        json_object_set(schemas, used[i], json_object_get(all, used[i]));
    json_object_set_new(doc, "components",
                        json_pack("{s:o, s:o}", "messages", messages, "schemas", schemas));
    (void)err;
    return doc;
}

/* -- checks and the cached text --------------------------------------------------------------- */

/* 1 when the channel name matches an address ("bar.{interval}" with a value of the
 * parameter's enum, or the literal address). */
static int channel_covered(json_t *channels, const char *name)
{
    const char *k;
    json_t *ch;
    json_object_foreach(channels, k, ch)
    {
        const char *addr = json_string_value(json_object_get(ch, "address"));
        if (!addr) continue;
        const char *open = strchr(addr, '{');
        if (!open) {
            if (strcmp(addr, name) == 0) return 1;
            continue;
        }
        size_t pre = (size_t)(open - addr);
        if (strncmp(addr, name, pre) != 0) continue;
        char param[64];
        snprintf(param, sizeof param, "%.*s", (int)strcspn(open + 1, "}"), open + 1);
        json_t *values =
            json_object_get(json_object_get(json_object_get(ch, "parameters"), param), "enum");
        for (size_t i = 0; i < json_array_size(values); i++)
            if (strcmp(json_string_value(json_array_get(values, i)), name + pre) == 0) return 1;
    }
    return 0;
}

int md_contract_check(md_error *err)
{
    json_t *data = load_data(err);
    if (!data) return MD_EINTERNAL;
    json_t *doc = openapi(data, err);
    int rc = doc ? 0 : MD_EINTERNAL;
    json_decref(doc);
    /* and no entry documents a route that routes.def does not have */
    size_t n;
    const md_route *rt = md_route_table(&n);
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(data, "routes"), key, v)
    {
        int found = 0;
        for (size_t i = 0; i < n && !found; i++)
            for (size_t m = 0; m < sizeof method_bits / sizeof method_bits[0] && !found; m++) {
                if (!(rt[i].methods & method_bits[m])) continue;
                char k[160];
                snprintf(k, sizeof k, "%s %s", method_names[m], rt[i].pattern);
                for (char *p = k; *p && *p != ' '; p++) *p = (char)(*p - 'a' + 'A');
                found = strcmp(k, key) == 0;
            }
        if (!found && rc == 0)
            rc = md_error_set(err, MD_EINTERNAL,
                              "contract.json documents %s, which routes.def does not have", key);
    }
    json_t *channels = json_object_get(json_object_get(data, "stream"), "channels");
    for (int i = 0; rc == 0 && i < MD_CH_COUNT; i++)
        if (!channel_covered(channels, md_channel_name(i)))
            rc = md_error_set(err, MD_EINTERNAL,
                              "stream channel '%s' has no channel in contract.json's stream",
                              md_channel_name(i));
    json_decref(data);
    return rc;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char *docs[2];
static size_t doc_len[2];
static md_error doc_err;

static void render(void)
{
    json_t *data = load_data(&doc_err);
    for (int k = 0; data && k < 2; k++) {
        json_t *doc = k == MD_CONTRACT_OPENAPI ? openapi(data, &doc_err) : asyncapi(data, &doc_err);
        if (!doc) break;
        char *s = json_dumps(doc, JSON_INDENT(2) | JSON_ENSURE_ASCII);
        json_decref(doc);
        size_t n = strlen(s);
        docs[k] = malloc(n + 2);
        if (!docs[k]) abort();
        memcpy(docs[k], s, n);
        docs[k][n] = '\n';
        docs[k][n + 1] = 0;
        doc_len[k] = n + 1;
        free(s);
    }
    json_decref(data);
}

const char *md_contract_doc(md_contract_kind kind, size_t *len, md_error *err)
{
    pthread_once(&once, render);
    if (!docs[kind]) {
        md_error_set(err, MD_EINTERNAL, "%s", doc_err.msg[0] ? doc_err.msg : "no document");
        return NULL;
    }
    if (len) *len = doc_len[kind];
    return docs[kind];
}
