/* actions.c - corporate actions as the providers spell them (sources_int.h
 * md_sources__act_form): one reader for every provider's split and dividend lists, and the
 * actions call of the providers that ask two endpoints (splits, then dividends), where a plan
 * that refuses dividends still answers with the splits (the refusal is logged, per source,
 * and marked in the reference, md_source_ref.dividends_refused, which the answers show),
 * and then, for the providers that have one, a reference profile of the symbol (its
 * exchange), whose failure leaves the exchange unknown but never the actions unanswered.
 *
 * Each provider describes its endpoints' fields in a table of forms (its own file); what
 * differs between them is data, not code: where the list is, the names of the fields, and
 * how a split ratio is written (new and old shares, or one decimal factor). */
#include "sources/sources_int.h"

#include "core/log.h"
#include "core/timefmt.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int date_of(const json_t *v, int64_t *out)
{
    const char *s = json_string_value(v);
    return s && strlen(s) == 10 && md_time_parse(s, 10, out, NULL) == 0 && *out % 86400 == 0 ? 0
                                                                                             : -1;
}

/* A split factor (new shares per old one, "4.0000", "0.1000", "1.5") as the smallest
 * numerator/denominator with a denominator up to 1000; -1 when it is not a factor > 0. */
static int ratio_of(double f, double *num, double *den)
{
    if (!(f > 0) || !isfinite(f)) return -1;
    for (int d = 1; d <= 1000; d++) {
        double n = round(f * d);
        if (n >= 1 && fabs(n - f * d) <= 1e-6 * f * d) {
            *num = n;
            *den = d;
            return 0;
        }
    }
    *num = f;
    *den = 1;
    return 0;
}

static int read_one(const md_sources__act_form *f, const json_t *it, const char *currency,
                    md_action *a)
{
    memset(a, 0, sizeof *a);
    a->type = f->type;
    if (!json_is_object(it) || date_of(json_object_get(it, f->date), &a->ex_date) != 0) return -1;
    if (f->type == MD_ACT_SPLIT) {
        double n, d = 1;
        if (md_sources__num(json_object_get(it, f->num), &n) != 0) return -1;
        if (f->den) {
            if (md_sources__num(json_object_get(it, f->den), &d) != 0) return -1;
            a->numerator = n, a->denominator = d;
            return 0;
        }
        return ratio_of(n, &a->numerator, &a->denominator);
    }
    if (md_sources__num(json_object_get(it, f->amount), &a->amount) != 0) return -1;
    const char *cur = f->currency ? json_string_value(json_object_get(it, f->currency)) : NULL;
    if (!cur || !*cur) cur = currency;
    double unit = 1;
    char major[MD_CURRENCY_MAX] = "";
    if (cur && *cur && md_currency_major(cur, major, &unit) != 0) return -1;
    a->amount /= unit;
    memcpy(a->currency, major, sizeof major);
    if (!f->pay || date_of(json_object_get(it, f->pay), &a->pay_date) != 0) a->pay_date = 0;
    return 0;
}

int md_sources__read_actions(const char *provider, md_source_id id, const md_sources__act_form *f,
                             const json_t *root, const char *currency, md_action_vec *out,
                             md_error *err)
{
    const char *what = f->type == MD_ACT_SPLIT ? "split" : "dividend";
    const json_t *list = f->list ? json_object_get(root, f->list) : root;
    if (f->list && json_is_null(list)) return 0; /* "no actions" spelled as a null list */
    if (!json_is_array(list))
        return md_error_set(err, MD_EMALFORMED, "%s: no %s list in the %ss answer", provider,
                            f->list ? f->list : "top-level", what);
    size_t n0 = out->n, i;
    const json_t *it;
    json_array_foreach(list, i, it)
    {
        md_action a;
        if (read_one(f, it, currency, &a) != 0) {
            out->n = n0;
            return md_error_set(err, MD_EMALFORMED, "%s: %s %zu is not readable", provider, what,
                                i);
        }
        a.source = (uint8_t)id;
        if (md_action_validate(&a, NULL) != 0) continue; /* 1:1, 0 amounts: nothing to apply */
        md_action_vec_push(out, &a);
    }
    return (int)(out->n - n0);
}

int md_sources__parse_actions(const char *provider, md_sources__act_root_fn read, const char *body,
                              size_t len, int dividends, md_action_vec *out, md_error *err)
{
    json_t *root = md_sources__json_buf(provider, body, len, NULL, err);
    if (!root) return MD_EMALFORMED;
    int rc = read(root, 200, dividends != 0, out, NULL, err);
    json_decref(root);
    return rc;
}

int md_sources__ref_exchange(const char *provider, const json_t *obj, const char *key,
                             md_source_ref *ref, md_error *err)
{
    const json_t *ex = json_object_get(obj, key);
    if (ex && !json_is_null(ex) && !json_is_string(ex))
        return md_error_set(err, MD_EMALFORMED, "%s: malformed response: \"%s\" is not a string",
                            provider, key);
    const char *name = json_string_value(ex); /* NULL when absent or null */
    snprintf(ref->exchange, sizeof ref->exchange, "%s", name ? name : "");
    return 0;
}

int md_sources__parse_profile(const char *provider,
                              int (*read)(const json_t *, md_source_ref *, md_error *),
                              const char *body, size_t len, md_source_ref *ref, md_error *err)
{
    memset(ref, 0, sizeof *ref);
    json_t *root = md_sources__json_buf(provider, body, len, NULL, err);
    if (!root) return MD_EMALFORMED;
    int rc = read(root, ref, err);
    json_decref(root);
    return rc;
}

int md_sources__act_get(md_provider *p, const char *url, md_sources__refusal_fn refusal,
                        md_sources__act_root_fn read, int dividends, md_action_vec *out,
                        md_source_ref *ref, md_fetch_meta *meta, md_error *err)
{
    json_t *root;
    long status = 0;
    int rc = md_sources__get_json(p, url, refusal, NULL, &root, &status, meta, err);
    if (rc == 0) rc = read(root, status, dividends, out, ref, err);
    json_decref(root);
    return rc;
}

int md_sources__profile_get(md_provider *p, const char *path, const char *symbol,
                            const char *key_param, md_sources__refusal_fn refusal,
                            md_sources__profile_fn read, md_source_ref *ref, md_fetch_meta *meta,
                            md_error *err)
{
    md_buf url = MD_BUF_INIT;
    md_sources__url(&url, &p->base, path, symbol, NULL, key_param);
    json_t *root;
    int rc = md_sources__get_json(p, url.data, refusal, NULL, &root, NULL, meta, err);
    md_buf_deinit(&url);
    if (rc == 0) rc = read(root, ref, err);
    json_decref(root);
    return rc;
}

int md_sources__emit_actions(md_action_vec *tmp, const char *symbol, int64_t start, int64_t end,
                             md_action_vec *out)
{
    int n = 0;
    for (size_t i = 0; i < tmp->n; i++) {
        if (tmp->v[i].ex_date < start || tmp->v[i].ex_date >= end) continue;
        snprintf(tmp->v[i].symbol, sizeof tmp->v[i].symbol, "%s", symbol);
        md_action_vec_push(out, &tmp->v[i]);
        n++;
    }
    return n;
}

/* The provider's reference profile of symbol (fetch kind 2) into *r once the actions were
 * answered: what it says is kept; a failure only logged (the actions stand, the exchange
 * stays unknown), and nothing it might have appended to tmp is kept. */
static void read_profile(md_provider *p, md_sources__act_fetch_fn fetch, const char *symbol,
                         md_action_vec *tmp, md_source_ref *r, md_fetch_meta *meta)
{
    md_error perr;
    md_error_clear(&perr);
    md_source_ref pr = *r;
    size_t n0 = tmp->n;
    int rc = fetch(p, MD_SOURCES_ACT_PROFILE, symbol, tmp, &pr, meta, &perr);
    tmp->n = n0;
    if (rc >= 0) {
        *r = pr;
        return;
    }
    MD_INFO("sources", "reference profile not read source=%s symbol=%s code=%s error=\"%s\"",
            p->base.vt->name, symbol, md_error_code(rc), perr.msg);
}

int md_sources__actions2(md_provider *p, md_sources__act_fetch_fn fetch, const char *symbol,
                         int64_t start, int64_t end, md_action_vec *out, md_source_ref *ref,
                         md_fetch_meta *meta, md_error *err)
{
    int rc = md_sources__need_key(p, err);
    if (rc) return rc;
    md_action_vec tmp;
    md_action_vec_init(&tmp);
    md_source_ref r;
    memset(&r, 0, sizeof r);
    for (int kind = 0; kind < 2 && rc >= 0; kind++) {
        md_error kerr;
        md_error_clear(&kerr);
        rc = fetch(p, kind, symbol, &tmp, &r, meta, &kerr);
        if (rc == MD_EUNAUTHSRC && kind == 1) {
            /* the plan has splits but not dividends: the splits stand, and the log says
             * which source left dividends out and why */
            MD_WARN("sources", "dividends refused by the plan source=%s symbol=%s error=\"%s\"",
                    p->base.vt->name, symbol, kerr.msg);
            r.dividends_refused = 1; /* and the answers say so (md_symbol_ref) */
            rc = 0;
        } else if (rc < 0) {
            *err = kerr;
        }
    }
    if (rc >= 0) read_profile(p, fetch, symbol, &tmp, &r, meta);
    if (rc >= 0) {
        rc = md_sources__emit_actions(&tmp, symbol, start, end, out);
        if (ref) *ref = r;
    }
    md_action_vec_deinit(&tmp);
    return rc;
}
