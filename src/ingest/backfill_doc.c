/* backfill_doc.c - a backfill job's state document, as kept in the store.
 *
 *   {"v":1,"id":"bf-...","listed":true,"state":"running","interval":"1m",
 *    "start":1704067200,"end":1706745600,"source":-1,"chunk_s":604800,
 *    "symbols":["AAPL","MSFT"],
 *    "counts":[[fetched,stored,rejected,chunks_done,chunks_failed,last_source],...],
 *    "symbol_errors":{"MSFT":"..."},
 *    "chunks":"12d1f30.",            chunk states run-length coded: d done, f failed, . to do
 *    "chunks_done":12,"chunks_failed":1,"fetched":..,"stored":..,"rejected":..,"errors":..,
 *    "last_error":"...","created_at":..,"updated_at":..,"finished_at":..}
 *
 * The chunking (chunk_s) is saved, so a resumed job cuts its range the same way even when
 * the sources' limits changed in between. */
#include "ingest/backfill_int.h"

#include "core/buf.h"
#include "core/mem.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void md_bf__doc_key(const char *id, char *key, size_t n)
{
    snprintf(key, n, "backfill/job/%s", id);
}

void md_bf__alloc_chunks(bf_job *j)
{
    size_t n = j->nchunks ? j->nchunks : 1;
    j->chunk = md_calloc(n, 1);
    j->busy = md_calloc(n, 1);
    j->tries = md_calloc(n, 1);
    j->retry_at_ms = md_calloc(n, sizeof *j->retry_at_ms);
}

void md_bf__job_free(bf_job *j)
{
    if (!j) return;
    md_free(j->sym);
    md_free(j->chunk);
    md_free(j->busy);
    md_free(j->tries);
    md_free(j->retry_at_ms);
    pthread_mutex_destroy(&j->save_lock);
    md_free(j);
}

void md_bf__cancel_key(const char *id, char *key, size_t n)
{
    snprintf(key, n, "backfill/cancel/%s", id);
}

size_t md_bf__missing(const bf_job *j, md_job_gap **out)
{
    size_t n = 0, cap = 0;
    md_job_gap *g = NULL;
    for (size_t k = 0; k < j->nchunks; k++) {
        if (j->chunk[k] != BF_FAILED) continue;
        size_t sym = k / j->per_sym;
        int64_t a = j->start + (int64_t)(k % j->per_sym) * j->chunk_s;
        int64_t e = a + j->chunk_s < j->end ? a + j->chunk_s : j->end;
        if (n && g[n - 1].symbol == sym && g[n - 1].end == a) { /* adjacent: one range */
            g[n - 1].end = e;
            continue;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 4;
            g = md_realloc(g, cap * sizeof *g);
        }
        g[n++] = (md_job_gap){sym, a, e};
    }
    *out = g;
    return n;
}

static const char *state_names[] = {"queued", "running", "paused", "done", "failed", "cancelled"};
_Static_assert(MD_ARRAY_LEN(state_names) == MD_JOB_CANCELLED + 1, "one name per job state");

const char *md_job_state_name(md_job_state s)
{
    return (unsigned)s < MD_ARRAY_LEN(state_names) ? state_names[s] : "unknown";
}

static int state_parse(const char *s)
{
    for (size_t i = 0; s && i < MD_ARRAY_LEN(state_names); i++)
        if (strcmp(s, state_names[i]) == 0) return (int)i;
    return -1;
}

char *md_bf__doc_encode(const bf_job *j)
{
    md_buf b;
    md_buf_init(&b);
    md_buf_puts(&b, "{\"v\":1,\"id\":");
    md_buf_json_str(&b, j->id);
    md_buf_printf(&b,
                  ",\"listed\":%s,\"state\":\"%s\",\"interval\":\"%s\",\"start\":%lld,"
                  "\"end\":%lld,\"source\":%d,\"chunk_s\":%lld,\"symbols\":[",
                  j->listed ? "true" : "false", md_job_state_name(j->state),
                  md_interval_name(j->iv), (long long)j->start, (long long)j->end, j->source,
                  (long long)j->chunk_s);
    for (size_t i = 0; i < j->nsym; i++) {
        if (i) md_buf_putc(&b, ',');
        md_buf_json_str(&b, j->sym[i].symbol);
    }
    md_buf_puts(&b, "],\"counts\":[");
    for (size_t i = 0; i < j->nsym; i++) {
        const md_job_symbol *s = &j->sym[i];
        md_buf_printf(&b, "%s[%lld,%lld,%lld,%lld,%lld,%d]", i ? "," : "", (long long)s->fetched,
                      (long long)s->stored, (long long)s->rejected, (long long)s->chunks_done,
                      (long long)s->chunks_failed, s->last_source);
    }
    md_buf_puts(&b, "],\"symbol_errors\":{");
    int first = 1;
    for (size_t i = 0; i < j->nsym; i++) {
        if (!j->sym[i].last_error[0]) continue;
        if (!first) md_buf_putc(&b, ',');
        first = 0;
        md_buf_json_str(&b, j->sym[i].symbol);
        md_buf_putc(&b, ':');
        md_buf_json_str(&b, j->sym[i].last_error);
    }
    md_buf_puts(&b, "},\"chunks\":\"");
    for (size_t i = 0; i < j->nchunks;) {
        size_t k = i;
        while (k < j->nchunks && j->chunk[k] == j->chunk[i]) k++;
        md_buf_printf(&b, "%zu%c", k - i,
                      j->chunk[i] == BF_DONE     ? 'd'
                      : j->chunk[i] == BF_FAILED ? 'f'
                                                 : '.');
        i = k;
    }
    md_buf_printf(&b,
                  "\",\"chunks_done\":%lld,\"chunks_failed\":%lld,\"fetched\":%lld,"
                  "\"stored\":%lld,\"rejected\":%lld,\"errors\":%lld,\"last_error\":",
                  (long long)j->chunks_done, (long long)j->chunks_failed, (long long)j->fetched,
                  (long long)j->stored, (long long)j->rejected, (long long)j->errors);
    md_buf_json_str(&b, j->last_error);
    md_buf_printf(&b, ",\"created_at\":%lld,\"updated_at\":%lld,\"finished_at\":%lld}",
                  (long long)j->created_at, (long long)j->updated_at, (long long)j->finished_at);
    md_buf_putc(&b, 0);
    return md_buf_steal(&b, NULL);
}

static int64_t num(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static bf_job *bad(json_t *root, bf_job *j, md_error *err, const char *what)
{
    json_decref(root);
    md_bf__job_free(j);
    md_error_set(err, MD_ESTORE, "backfill job document: %s", what);
    return NULL;
}

bf_job *md_bf__doc_decode(const char *doc, md_error *err)
{
    json_error_t je;
    json_t *root = json_loads(doc, 0, &je);
    if (!json_is_object(root)) return bad(root, NULL, err, "not a JSON object");
    bf_job *j = md_calloc(1, sizeof *j);
    pthread_mutex_init(&j->save_lock, NULL);
    const char *id = json_string_value(json_object_get(root, "id"));
    if (!id || strlen(id) >= sizeof j->id) return bad(root, j, err, "no id");
    snprintf(j->id, sizeof j->id, "%s", id);
    j->listed = json_is_true(json_object_get(root, "listed"));
    int st = state_parse(json_string_value(json_object_get(root, "state")));
    if (st < 0) return bad(root, j, err, "bad state");
    j->state = (md_job_state)st;
    md_interval iv;
    md_error e2;
    const char *ivs = json_string_value(json_object_get(root, "interval"));
    if (!ivs || md_interval_parse(ivs, &iv, &e2) != 0) return bad(root, j, err, "bad interval");
    j->iv = iv;
    j->start = num(root, "start");
    j->end = num(root, "end");
    j->source = (int)num(root, "source");
    j->chunk_s = num(root, "chunk_s");
    if (j->end <= j->start || j->chunk_s <= 0) return bad(root, j, err, "bad range");
    json_t *syms = json_object_get(root, "symbols"), *counts = json_object_get(root, "counts");
    json_t *errs = json_object_get(root, "symbol_errors");
    if (!json_is_array(syms) || json_array_size(syms) == 0) return bad(root, j, err, "no symbols");
    j->nsym = json_array_size(syms);
    j->sym = md_calloc(j->nsym, sizeof *j->sym);
    for (size_t i = 0; i < j->nsym; i++) {
        md_job_symbol *s = &j->sym[i];
        const char *name = json_string_value(json_array_get(syms, i));
        if (!name || strlen(name) > MD_SYMBOL_MAX) return bad(root, j, err, "bad symbol");
        snprintf(s->symbol, sizeof s->symbol, "%s", name);
        s->last_source = -1;
        json_t *c = json_array_get(counts, i);
        if (json_is_array(c) && json_array_size(c) == 6) {
            s->fetched = (int64_t)json_integer_value(json_array_get(c, 0));
            s->stored = (int64_t)json_integer_value(json_array_get(c, 1));
            s->rejected = (int64_t)json_integer_value(json_array_get(c, 2));
            s->chunks_done = (int64_t)json_integer_value(json_array_get(c, 3));
            s->chunks_failed = (int64_t)json_integer_value(json_array_get(c, 4));
            s->last_source = (int)json_integer_value(json_array_get(c, 5));
        }
        const char *e = json_string_value(json_object_get(errs, name));
        if (e) snprintf(s->last_error, sizeof s->last_error, "%s", e);
    }
    int64_t range = j->end - j->start;
    j->per_sym = (size_t)((range + j->chunk_s - 1) / j->chunk_s);
    j->nchunks = j->per_sym * j->nsym;
    md_bf__alloc_chunks(j);
    const char *rle = json_string_value(json_object_get(root, "chunks"));
    size_t at = 0;
    for (const char *p = rle; p && *p;) {
        char *endp;
        unsigned long long n = strtoull(p, &endp, 10);
        if (endp == p || !*endp || n > j->nchunks - at) return bad(root, j, err, "bad chunks");
        uint8_t v = *endp == 'd'   ? BF_DONE
                    : *endp == 'f' ? BF_FAILED
                    : *endp == '.' ? BF_PENDING
                                   : 9;
        if (v == 9) return bad(root, j, err, "bad chunks");
        memset(j->chunk + at, v, (size_t)n);
        at += (size_t)n;
        p = endp + 1;
    }
    if (at != j->nchunks) return bad(root, j, err, "chunk count does not match the range");
    j->chunks_done = num(root, "chunks_done");
    j->chunks_failed = num(root, "chunks_failed");
    j->fetched = num(root, "fetched");
    j->stored = num(root, "stored");
    j->rejected = num(root, "rejected");
    j->errors = num(root, "errors");
    const char *le = json_string_value(json_object_get(root, "last_error"));
    if (le) snprintf(j->last_error, sizeof j->last_error, "%s", le);
    j->created_at = num(root, "created_at");
    j->updated_at = num(root, "updated_at");
    j->finished_at = num(root, "finished_at");
    json_decref(root);
    return j;
}
