/* request.c - request heads: where they end, what they say, and the checks RFC 9112 asks for
 * that http-parser 2.9 leaves out (see request.h for the table of rejections).
 *
 * What http-parser 2.9.4 does with the hostile forms (checked on Debian's build): duplicate
 * Content-Length (equal values too) and Content-Length with Transfer-Encoding are errors
 * (HPE_UNEXPECTED_CONTENT_LENGTH); a Transfer-Encoding that does not end in chunked is an
 * error; a NUL byte in the target is an error; but obsolete line folding is joined into the
 * previous value, white space between a field name and its colon is dropped, a space inside
 * a field name is taken, and a line starting with white space right after the request line
 * is taken as a field. Those four are checked here, on the raw lines, before the parser sees
 * them. Percent-decoding is ours: the parser does not decode. */
#include "server/request.h"

#include "core/mem.h"

#include <http_parser.h>
#include <limits.h>
#include <string.h>
#include <strings.h>

/* -- the request line ---------------------------------------------------------------------- */

static const struct {
    const char *name;
    md_http_method method;
} served[] = {
    {"GET", MD_HTTP_GET}, {"HEAD", MD_HTTP_HEAD},     {"POST", MD_HTTP_POST},
    {"PUT", MD_HTTP_PUT}, {"DELETE", MD_HTTP_DELETE}, {"OPTIONS", MD_HTTP_OPTIONS},
};

static int is_tchar(unsigned char c)
{
    if (c >= 'a' && c <= 'z') return 1;
    if (c >= 'A' && c <= 'Z') return 1;
    if (c >= '0' && c <= '9') return 1;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Copies at most n bytes of s for a message, printable ASCII only (the rest becomes '?'). */
static void printable(char *dst, size_t cap, const char *s, size_t n)
{
    size_t i = 0;
    for (; i < n && i + 1 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        dst[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    dst[i] = 0;
}

/* Checks what the request line settles: its method as soon as the method is complete, the
 * HTTP/2 preface, the URL length, the version once the line is complete. */
static int check_line(const char *s, size_t n, int complete, size_t max_url, md_error *err)
{
    if (complete && n && s[n - 1] == '\r') n--;
    const char *sp = memchr(s, ' ', n);
    if (!sp && !complete) {
        if (n > 32) return md_error_set(err, MD_ENOTIMPL, "request method too long");
        for (size_t i = 0; i < n; i++)
            if (!is_tchar((unsigned char)s[i]))
                return md_error_set(err, MD_EBADREQ, "malformed request line");
        return 0;
    }
    if (!sp) return md_error_set(err, MD_EBADREQ, "malformed request line");
    size_t ml = (size_t)(sp - s);
    if (ml == 3 && memcmp(s, "PRI", 3) == 0 && n >= 5 && s[4] == '*')
        return md_error_set(err, MD_EVERSION,
                            "HTTP/2 is not supported here: use HTTP/1.1 (the prior-knowledge "
                            "preface is refused)");
    if (ml == 0) return md_error_set(err, MD_EBADREQ, "malformed request line");
    for (size_t i = 0; i < ml; i++)
        if (!is_tchar((unsigned char)s[i]))
            return md_error_set(err, MD_EBADREQ, "malformed request line");
    int known = 0;
    for (size_t i = 0; i < MD_ARRAY_LEN(served); i++)
        if (strlen(served[i].name) == ml && memcmp(served[i].name, s, ml) == 0) known = 1;
    if (!known) {
        char m[40];
        printable(m, sizeof m, s, ml);
        return md_error_set(err, MD_ENOTIMPL,
                            "method %s is not implemented (GET, HEAD, POST, PUT, DELETE, OPTIONS)",
                            m);
    }
    const char *target = sp + 1;
    const char *end = s + n;
    const char *sp2 = complete ? memrchr(target, ' ', (size_t)(end - target)) : NULL;
    size_t tl = (size_t)((sp2 ? sp2 : end) - target);
    if (tl >= max_url)
        return md_error_set(err, MD_EURILONG,
                            "request URL of %zu bytes or more (server.max_url_bytes)", max_url);
    if (!complete) return 0;
    if (!sp2 || tl == 0) return md_error_set(err, MD_EBADREQ, "malformed request line");
    const char *v = sp2 + 1;
    size_t vl = (size_t)(end - v);
    if (vl == 8 && memcmp(v, "HTTP/1.", 7) == 0 && (v[7] == '0' || v[7] == '1')) return 0;
    if (vl == 8 && memcmp(v, "HTTP/", 5) == 0 && v[5] >= '0' && v[5] <= '9' && v[6] == '.' &&
        v[7] >= '0' && v[7] <= '9')
        return md_error_set(err, MD_EVERSION, "HTTP version not supported: use HTTP/1.1");
    return md_error_set(err, MD_EBADREQ, "malformed request line");
}

long md_http_head_scan(const char *buf, size_t len, size_t max_url, md_http_scan *sc, md_error *err)
{
    const char *nl, *end = buf + len;
    if (sc->fields && sc->pos < len && buf[sc->pos] == '\n') {
        nl = buf + sc->pos; /* the request line was checked; lines up to here were scanned */
    } else {
        size_t i = 0;
        /* empty lines before the request line are ignored (RFC 9112 2.2), a few of them */
        while (i < len && i < 8 && (buf[i] == '\r' || buf[i] == '\n')) i++;
        if (i == 8 && i < len && (buf[i] == '\r' || buf[i] == '\n'))
            return md_error_set(err, MD_EBADREQ, "malformed request line");
        const char *ls = buf + i;
        nl = memchr(ls, '\n', len - i);
        size_t ll = nl ? (size_t)(nl - ls) : len - i;
        int rc = check_line(ls, ll, nl != NULL, max_url, err);
        if (rc < 0) return rc;
        if (!nl) return 0;
        sc->fields = (size_t)(nl + 1 - buf);
    }
    /* the head ends at an empty line: "\n\n" or "\n\r\n" counting the line's own '\n' */
    const char *last = nl;
    for (const char *p = nl; p;) {
        last = p;
        const char *q = p + 1;
        if (q < end && *q == '\r') q++;
        if (q < end && *q == '\n') {
            if ((size_t)(q + 1 - buf) - sc->fields >= MD_HTTP_MAX_HEADER_BYTES) break;
            return (long)(q + 1 - buf);
        }
        if (q >= end) break;
        p = memchr(p + 1, '\n', (size_t)(end - (p + 1)));
    }
    sc->pos = (size_t)(last - buf);
    if (len - sc->fields >= MD_HTTP_MAX_HEADER_BYTES)
        return md_error_set(err, MD_EHEADERS, "request header fields of %d bytes or more",
                            MD_HTTP_MAX_HEADER_BYTES);
    return 0;
}

/* -- the head ------------------------------------------------------------------------------ */

typedef struct {
    md_http_head *h;
    const char *url;
    size_t url_len;
    const char *field, *value;
    size_t field_len, value_len;
    int in_value;
    int hosts;
    int done;
    const char *upgrade;
    size_t upgrade_len;
} parse_ctx;

static int name_is(const char *f, size_t n, const char *name)
{
    return strlen(name) == n && strncasecmp(f, name, n) == 0;
}

/* Trims blanks around a field value and copies it. */
static char *value_dup(const char *v, size_t n)
{
    while (n && (*v == ' ' || *v == '\t')) v++, n--;
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r')) n--;
    return md_strndup(v, n);
}

/* RFC 9112 3.2 (a Host that is not uri-host[:port] is 400): the bytes RFC 3986 allows in a
 * reg-name, an IP literal or a port - unreserved, sub-delims, '%', ':', '[', ']'. Empty is
 * allowed (a target without an authority). */
static int host_field_ok(const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              strchr("-._~!$&'()*+,;=%:[]", *p)))
            return 0;
    return 1;
}

static void keep(char **slot, const char *v, size_t n)
{
    if (!*slot) *slot = value_dup(v, n); /* the first of repeated fields */
}

static void field_done(parse_ctx *c)
{
    if (!c->field) return;
    md_http_head *h = c->h;
    const char *f = c->field, *v = c->value ? c->value : "";
    size_t fl = c->field_len, vl = c->value_len;
    if (name_is(f, fl, "authorization"))
        keep(&h->authorization, v, vl);
    else if (name_is(f, fl, "x-api-key"))
        keep(&h->x_api_key, v, vl);
    else if (name_is(f, fl, "content-type"))
        keep(&h->content_type, v, vl);
    else if (name_is(f, fl, "host")) {
        c->hosts++;
        keep(&h->host, v, vl);
    } else if (name_is(f, fl, "transfer-encoding"))
        h->chunked = 1;
    else if (name_is(f, fl, "upgrade"))
        c->upgrade = v, c->upgrade_len = vl;
    else if (name_is(f, fl, "expect")) {
        char *e = value_dup(v, vl);
        if (strcasecmp(e, "100-continue") == 0) h->expect_continue = 1;
        md_free(e);
    } else if (name_is(f, fl, "sec-websocket-key"))
        keep(&h->ws_key, v, vl);
    else if (name_is(f, fl, "sec-websocket-version"))
        keep(&h->ws_version, v, vl);
    else if (name_is(f, fl, "sec-websocket-protocol"))
        keep(&h->ws_protocol, v, vl);
    c->field = c->value = NULL;
    c->field_len = c->value_len = 0;
}

/* The head is one contiguous buffer, so each element normally comes in one call; a second
 * call for the same element continues right where the first ended. */
static int on_url(http_parser *p, const char *at, size_t n)
{
    parse_ctx *c = p->data;
    if (!c->url) c->url = at;
    c->url_len = (size_t)(at + n - c->url);
    return 0;
}

static int on_field(http_parser *p, const char *at, size_t n)
{
    parse_ctx *c = p->data;
    if (c->in_value || !c->field) {
        field_done(c);
        c->field = at;
        c->in_value = 0;
    }
    c->field_len = (size_t)(at + n - c->field);
    return 0;
}

static int on_value(http_parser *p, const char *at, size_t n)
{
    parse_ctx *c = p->data;
    if (!c->in_value) {
        c->value = at;
        c->in_value = 1;
    }
    c->value_len = (size_t)(at + n - c->value);
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    parse_ctx *c = p->data;
    field_done(c);
    c->done = 1;
    return 0;
}

static const http_parser_settings settings = {
    .on_url = on_url,
    .on_header_field = on_field,
    .on_header_value = on_value,
    .on_headers_complete = on_headers_complete,
};

/* RFC 9112 5.1 and 5.2 on the raw field lines: no white space before the colon, no obsolete
 * line folding, names that are tokens, at most MD_HTTP_MAX_FIELDS fields. */
static int check_fields(const char *buf, size_t len, md_error *err)
{
    const char *end = buf + len;
    const char *p = buf;
    while (p < end && (*p == '\r' || *p == '\n')) p++; /* ignored empty lines */
    p = memchr(p, '\n', (size_t)(end - p));            /* past the request line */
    int fields = 0;
    while (p && ++p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) break;
        size_t n = (size_t)(eol - p);
        if (n && p[n - 1] == '\r') n--;
        if (n == 0) break; /* the empty line: end of the head */
        if (*p == ' ' || *p == '\t')
            return md_error_set(err, MD_EBADREQ,
                                "obsolete line folding (a field line starting with white space)");
        const char *colon = memchr(p, ':', n);
        if (colon && colon > p && (colon[-1] == ' ' || colon[-1] == '\t'))
            return md_error_set(err, MD_EBADREQ, "white space between a field name and its colon");
        for (const char *q = p; colon && q < colon; q++) /* RFC 9110 5.1: a name is a token */
            if (!is_tchar((unsigned char)*q))
                return md_error_set(err, MD_EBADREQ, "invalid character in a header field name");
        if (++fields > MD_HTTP_MAX_FIELDS)
            return md_error_set(err, MD_EHEADERS, "more than %d header fields", MD_HTTP_MAX_FIELDS);
        p = eol;
    }
    return 0;
}

static int has_token(const char *v, size_t n, const char *token)
{
    size_t tl = strlen(token);
    for (size_t i = 0; i + tl <= n; i++) {
        if (strncasecmp(v + i, token, tl) != 0) continue;
        int before = i == 0 || v[i - 1] == ',' || v[i - 1] == ' ' || v[i - 1] == '\t';
        size_t j = i + tl;
        int after = j == n || v[j] == ',' || v[j] == ' ' || v[j] == '\t' || v[j] == '\r';
        if (before && after) return 1;
    }
    return 0;
}

/* Reduces the request-target to origin-form ("/path?query"); NULL when it is none of
 * origin-form, absolute-form (http or https) or "*". For absolute-form, *auth and *auth_len
 * give its authority (RFC 9112 3.2.2: it replaces the Host field). */
static char *target_of(const char *u, size_t n, int *asterisk, const char **auth, size_t *auth_len)
{
    *asterisk = 0;
    *auth = NULL;
    *auth_len = 0;
    if (n == 1 && u[0] == '*') {
        *asterisk = 1;
        return md_strdup("*");
    }
    if (n && u[0] == '/') return md_strndup(u, n);
    size_t skip = 0;
    if (n > 7 && strncasecmp(u, "http://", 7) == 0)
        skip = 7;
    else if (n > 8 && strncasecmp(u, "https://", 8) == 0)
        skip = 8;
    else
        return NULL;
    size_t i = skip;
    while (i < n && u[i] != '/' && u[i] != '?' && u[i] != '#') i++;
    if (i == skip) return NULL; /* no authority */
    *auth = u + skip;
    *auth_len = i - skip;
    if (i == n || u[i] != '/') { /* "http://host?x": the path is "/" */
        char *t = md_malloc(n - i + 2);
        t[0] = '/';
        memcpy(t + 1, u + i, n - i);
        t[n - i + 1] = 0;
        return t;
    }
    return md_strndup(u + i, n - i);
}

static md_http_method method_of(unsigned m)
{
    switch (m) {
    case HTTP_GET: return MD_HTTP_GET;
    case HTTP_HEAD: return MD_HTTP_HEAD;
    case HTTP_POST: return MD_HTTP_POST;
    case HTTP_PUT: return MD_HTTP_PUT;
    case HTTP_DELETE: return MD_HTTP_DELETE;
    case HTTP_OPTIONS: return MD_HTTP_OPTIONS;
    default: return MD_HTTP_OTHER;
    }
}

int md_http_head_parse(const char *buf, size_t len, md_http_head *h, md_error *err)
{
    memset(h, 0, sizeof *h);
    h->content_length = -1;
    int rc = check_fields(buf, len, err);
    if (rc < 0) return rc;
    parse_ctx c = {.h = h};
    http_parser p;
    http_parser_init(&p, HTTP_REQUEST);
    p.data = &c;
    http_parser_execute(&p, &settings, buf, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&p);
    if (e != HPE_OK || !c.done) {
        switch (e) {
        case HPE_UNEXPECTED_CONTENT_LENGTH:
            return md_error_set(err, MD_EBADREQ,
                                "Content-Length given twice, or together with "
                                "Transfer-Encoding");
        case HPE_INVALID_CONTENT_LENGTH:
            return md_error_set(err, MD_EBADREQ, "invalid Content-Length");
        case HPE_INVALID_TRANSFER_ENCODING:
            return md_error_set(err, MD_EBADREQ, "unsupported Transfer-Encoding");
        case HPE_INVALID_METHOD: return md_error_set(err, MD_ENOTIMPL, "method not implemented");
        case HPE_INVALID_VERSION:
            return md_error_set(err, MD_EVERSION, "HTTP version not supported: use HTTP/1.1");
        case HPE_OK: return md_error_set(err, MD_EBADREQ, "incomplete request head");
        default:
            return md_error_set(err, MD_EBADREQ, "malformed request: %s",
                                http_errno_description(e));
        }
    }
    if (p.http_major != 1 || p.http_minor > 1)
        return md_error_set(err, MD_EVERSION, "HTTP version not supported: use HTTP/1.1");
    if (c.hosts > 1) return md_error_set(err, MD_EBADREQ, "more than one Host field");
    if (!c.hosts && p.http_minor == 1)
        return md_error_set(err, MD_EBADREQ, "an HTTP/1.1 request needs a Host field");
    if (h->host && !host_field_ok(h->host))
        return md_error_set(err, MD_EBADREQ, "invalid Host field: host[:port] expected");
    h->method = method_of(p.method);
    h->http_minor = p.http_minor;
    h->keep_alive = http_should_keep_alive(&p);
    if ((p.flags & F_CONTENTLENGTH) && p.content_length != ULLONG_MAX)
        h->content_length = (long long)p.content_length;
    if (p.flags & F_CHUNKED) h->chunked = 1;
    h->upgrade_ws = p.upgrade && h->method == MD_HTTP_GET && c.upgrade &&
                    has_token(c.upgrade, c.upgrade_len, "websocket");
    const char *auth;
    size_t auth_len;
    h->target = target_of(c.url ? c.url : "", c.url_len, &h->asterisk, &auth, &auth_len);
    if (!h->target) return md_error_set(err, MD_EBADREQ, "request target is not a path");
    if (auth) { /* absolute-form: its authority is the host, whatever Host says */
        md_free(h->host);
        h->host = md_strndup(auth, auth_len);
    }
    if (h->asterisk && h->method != MD_HTTP_OPTIONS)
        return md_error_set(err, MD_EBADREQ, "the request target '*' is only for OPTIONS");
    return 0;
}

void md_http_head_deinit(md_http_head *h)
{
    md_free(h->target);
    md_free(h->authorization);
    md_free(h->x_api_key);
    md_free(h->content_type);
    md_free(h->host);
    md_free(h->ws_key);
    md_free(h->ws_version);
    md_free(h->ws_protocol);
    memset(h, 0, sizeof *h);
}

/* -- the route's request ------------------------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into a new string ('+' is a space when plus). NULL on a bad escape
 * or an encoded NUL (*why says which). */
static char *decode(const char *s, size_t n, int plus, const char **why)
{
    char *out = md_malloc(n + 1), *w = out;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '%') {
            int hi = i + 1 < n ? hexval(s[i + 1]) : -1, lo = i + 2 < n ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                *why = "invalid percent-encoding";
                md_free(out);
                return NULL;
            }
            ch = (char)(hi * 16 + lo);
            if (ch == 0) {
                *why = "an encoded NUL (%00)";
                md_free(out);
                return NULL;
            }
            i += 2;
        } else if (ch == '+' && plus) {
            ch = ' ';
        }
        *w++ = ch;
    }
    *w = 0;
    return out;
}

int md_http_parse_query(md_http_req *r, const char *q, size_t n, md_error *err)
{
    const char *end = q + n;
    for (const char *p = q; p < end;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        if (e > p) {
            if (r->n_params == MD_HTTP_MAX_PARAMS)
                return md_error_set(err, MD_EBADREQ, "more than %d query parameters",
                                    MD_HTTP_MAX_PARAMS);
            const char *eq = memchr(p, '=', (size_t)(e - p));
            const char *why = NULL;
            char *name = decode(p, (size_t)((eq ? eq : e) - p), 1, &why);
            char *value = name && eq ? decode(eq + 1, (size_t)(e - eq - 1), 1, &why)
                          : name     ? md_strdup("")
                                     : NULL;
            if (!name || !value) {
                md_free(name);
                return md_error_set(err, MD_EBADREQ, "query string: %s", why);
            }
            md_http_param *pa = &r->params[r->n_params++];
            pa->name = name;
            pa->value = value;
        }
        p = e + 1;
    }
    return 0;
}

int md_http_req_from_head(md_http_req *r, const md_http_head *h, md_error *err)
{
    r->method = h->method;
    const char *t = h->target;
    size_t tl = strcspn(t, "?#");
    const char *why = NULL;
    r->path = decode(t, tl, 0, &why);
    if (!r->path) return md_error_set(err, MD_EBADREQ, "request path: %s", why);
    size_t pl = strlen(r->path);
    if (pl > 1 && r->path[pl - 1] == '/') r->path[pl - 1] = 0; /* "/price/X/" is "/price/X" */
    if (t[tl] == '?') {
        size_t ql = strcspn(t + tl + 1, "#");
        int rc = md_http_parse_query(r, t + tl + 1, ql, err);
        if (rc < 0) return rc;
    }
    /* the key: "Authorization: Bearer KEY" (or a bare "Authorization: KEY"), else
     * "X-API-Key: KEY"; another scheme (Basic ...) leaves the choice to X-API-Key */
    if (h->authorization) {
        const char *k = h->authorization;
        int other_scheme = 0;
        if (strncasecmp(k, "Bearer", 6) == 0 && (k[6] == ' ' || k[6] == '\t')) {
            k += 7;
            while (*k == ' ' || *k == '\t') k++;
        } else {
            other_scheme = strpbrk(k, " \t") != NULL;
        }
        if (!other_scheme && *k) r->api_key = md_strdup(k);
    }
    if (!r->api_key && h->x_api_key && *h->x_api_key) r->api_key = md_strdup(h->x_api_key);
    if (h->content_type) r->content_type = md_strdup(h->content_type);
    if (h->host) r->host = md_strdup(h->host);
    return 0;
}
