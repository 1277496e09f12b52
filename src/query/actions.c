/* actions.c - corporate actions in the read and write paths: GET /actions, POST
 * /ingest/actions, `mdagent load` of an actions file, and the sources' reports.
 *
 *   put:  records -> store (counts new or changed) -> per symbol that changed:
 *           compare with the other providers' records (action_disagreement findings)
 *           -> invalidate the symbol's cached answers here and in every agent
 *              (md_cache_invalidate: adjusted answers depend on the actions)
 *   list: when sources are configured and the symbol's actions were last asked more than
 *         sources.actions_refresh_s ago: ask them (md_srcmgr_actions), put, remember when;
 *         then the stored records of every source in the range */
#include "query/query.h"

#include "cache/cache.h"
#include "calendar/calendar.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/render.h"
#include "core/timefmt.h"
#include "sources/manager.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#pragma GCC diagnostic ignored "-Wformat-truncation" /* finding details are cut by design */

#define SAME_EVENT_S (5 * 86400)

static int is_user(int source)
{
    return source == MD_SRC_INGEST || source == MD_SRC_CSV;
}

static void describe(const md_action *a, char *dst, size_t n)
{
    char d[16];
    md_date_format(a->ex_date, d);
    if (a->type == MD_ACT_SPLIT)
        snprintf(dst, n, "a %g:%g split on %s", a->numerator, a->denominator, d);
    else
        snprintf(dst, n, "a dividend of %g %s on %s", a->amount, a->currency, d);
}

/* Findings for the records of `fresh` (one symbol) that another provider reports otherwise:
 * same type within 5 days but another ratio, amount or ex-date. */
static void compare(md_services *svc, const char *symbol, const md_action *fresh, size_t n_fresh)
{
    md_action_vec all;
    md_action_vec_init(&all);
    md_error e;
    if (md_store_get_actions(svc->store, symbol, MD_TS_MIN, MD_TS_MAX, &all, &e) < 0) {
        md_action_vec_deinit(&all);
        return;
    }
    md_qevent_vec found;
    md_qevent_vec_init(&found);
    for (size_t i = 0; i < n_fresh; i++) {
        const md_action *a = &fresh[i];
        if (is_user(a->source)) continue;
        for (size_t j = 0; j < all.n; j++) {
            const md_action *b = &all.v[j];
            if (b->source == a->source || is_user(b->source) || b->type != a->type) continue;
            int64_t dt = b->ex_date - a->ex_date;
            if (dt > SAME_EVENT_S || dt < -SAME_EVENT_S) continue;
            md_action same_day = *b;
            same_day.ex_date = a->ex_date;
            if (dt == 0 && md_action_same_values(a, b)) continue;
            md_qevent ev;
            memset(&ev, 0, sizeof ev);
            ev.ts = a->ex_date;
            ev.rule = (int16_t)MD_QRULE_SOFT(MD_CHECK_ACTION_DISAGREEMENT);
            ev.source = a->source;
            ev.other_source = b->source;
            ev.severity = 1;
            ev.value = a->type == MD_ACT_SPLIT ? md_action_split_ratio(a) : a->amount;
            ev.limit = b->type == MD_ACT_SPLIT ? md_action_split_ratio(b) : b->amount;
            char x[64], y[64];
            describe(a, x, sizeof x);
            describe(b, y, sizeof y);
            snprintf(ev.detail, sizeof ev.detail, "%s reports %s, %s %s%s",
                     md_source_name(a->source), x, md_source_name(b->source), y,
                     md_action_same_values(a, &same_day) ? " (another ex-date)" : "");
            md_qevent_vec_push(&found, &ev);
        }
    }
    if (found.n) {
        md_qevent_sort_by_ts(found.v, found.n);
        if (md_store_put_quality_events(svc->store, symbol, MD_IV_1D, found.v, found.n, NULL, 0,
                                        &e) < 0)
            MD_WARN("query", "action findings not stored symbol=%s error=\"%s\"", symbol, e.msg);
        else
            MD_INFO("query", "sources disagree about actions symbol=%s findings=%zu", symbol,
                    found.n);
    }
    md_qevent_vec_deinit(&found);
    md_action_vec_deinit(&all);
}

static int cmp_symbol(const void *x, const void *y)
{
    return strcmp(((const md_action *)x)->symbol, ((const md_action *)y)->symbol);
}

int md_query_put_actions(md_services *svc, md_action *a, size_t n, size_t *changed, md_error *err)
{
    if (changed) *changed = 0;
    if (n == 0) return 0;
    qsort(a, n, sizeof *a, cmp_symbol); /* one symbol after another */
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && strcmp(a[j].symbol, a[i].symbol) == 0) j++;
        int rc = md_store_put_actions(svc->store, a + i, j - i, err);
        if (rc < 0) return rc;
        if (rc > 0) {
            compare(svc, a[i].symbol, a + i, j - i);
            /* adjusted answers of every interval depend on the actions: the symbol's cached
             * answers go, here and (through Redis) in every other agent */
            md_query_cache_symbol_changed(svc, a[i].symbol);
            MD_INFO("query", "actions stored symbol=%s changed=%d", a[i].symbol, rc);
        }
        if (changed) *changed += (size_t)rc;
        i = j;
    }
    return 0;
}

int md_query_actions_refresh(md_services *svc, const char *symbol, md_error *err)
{
    int64_t every = svc->cfg->sources_actions_refresh_s;
    if (!svc->sources || every <= 0 || md_srcmgr_enabled(svc->sources) == 0) return 0;
    md_symbol_ref ref;
    md_error e;
    int have = md_store_get_symbol_ref(svc->store, symbol, &ref, &e) == 0;
    int64_t now = md_now();
    if (have && ref.actions_checked > 0 && now - ref.actions_checked < every) return 0;
    char key[MD_SYMBOL_MAX + 4];
    snprintf(key, sizeof key, "a|%s", symbol); /* failed asks: not again for a minute */
    int64_t since = md_srcmgr_since_ms(svc->sources, key);
    if (since >= 0 && since < 60000) return 0;
    md_srcmgr_mark(svc->sources, key);
    md_action_vec v;
    md_action_vec_init(&v);
    md_source_ref sr;
    md_fetch_result res;
    md_fetch_opts fo = {-1, 0, NULL};
    int rc = md_srcmgr_actions(svc->sources, symbol, 0, now + 366 * 86400, &fo, &v, &sr, &res, &e);
    if (rc == 0) {
        for (size_t i = 0; i < v.n; i++)
            snprintf(v.v[i].symbol, sizeof v.v[i].symbol, "%s", symbol);
        md_error pe;
        if (md_query_put_actions(svc, v.v, v.n, NULL, &pe) < 0)
            MD_WARN("query", "actions not stored symbol=%s error=\"%s\"", symbol, pe.msg);
        if (!have) {
            memset(&ref, 0, sizeof ref);
            snprintf(ref.symbol, sizeof ref.symbol, "%s", symbol);
        }
        md_query_symbol_ref_note(&ref, &sr, (uint8_t)res.source);
        ref.actions_checked = now;
        ref.dividends_refused = sr.dividends_refused ? (uint8_t)res.source : 0;
        if (md_store_put_symbol_ref(svc->store, &ref, &pe) < 0)
            MD_WARN("query", "symbol reference not stored symbol=%s error=\"%s\"", symbol, pe.msg);
        else /* adjusted answers say when the actions were checked (the answers re-rendered
              * when the records changed above did not know it yet) */
            md_query_cache_symbol_changed(svc, symbol);
    } else {
        MD_INFO("query", "actions not fetched symbol=%s code=%s error=\"%s\"", symbol,
                md_error_code(rc), e.msg);
        if (err) *err = e;
    }
    md_action_vec_deinit(&v);
    return rc < 0 ? rc : 0;
}

void md_query_symbol_ref_note(md_symbol_ref *ref, const md_source_ref *sr, uint8_t source)
{
    if (sr->currency[0]) {
        char major[MD_CURRENCY_MAX];
        double f;
        if (md_currency_major(sr->currency, major, &f) == 0) {
            memcpy(ref->currency, major, sizeof major);
            snprintf(ref->reported, sizeof ref->reported, "%s", sr->currency);
            ref->source = source;
        }
    }
    if (sr->zone[0]) snprintf(ref->zone, sizeof ref->zone, "%s", sr->zone);
    /* the symbol's calendar from now on, unless the configuration names one */
    if (sr->exchange[0]) {
        snprintf(ref->exchange, sizeof ref->exchange, "%s", sr->exchange);
        if (!md_cal_note_reported(ref->symbol, sr->exchange, NULL))
            MD_INFO("query", "exchange has no calendar symbol=%s exchange=\"%s\"", ref->symbol,
                    sr->exchange);
    }
}

int md_query_actions(md_services *svc, const char *symbol, int64_t start, int64_t end,
                     int cached_only, md_action_vec *out, md_error *src_err, md_error *err)
{
    if (!cached_only) md_query_actions_refresh(svc, symbol, src_err);
    return md_store_get_actions(svc->store, symbol, start, end, out, err);
}

void md_render_actions_json(md_buf *b, const char *symbol, const md_action *a, size_t n,
                            const md_symbol_ref *ref)
{
    md_action *eff = md_malloc((n ? n : 1) * sizeof *eff);
    size_t ne = md_actions_effective(a, n, eff);
    md_buf_puts(b, "{\"symbol\":");
    md_buf_json_str(b, symbol);
    if (ref && ref->currency[0]) {
        md_buf_puts(b, ",\"currency\":");
        md_buf_json_str(b, ref->currency);
    }
    md_buf_puts(b, ",\"actions\":[");
    for (size_t i = 0; i < n; i++) {
        const md_action *x = &a[i];
        char d[16];
        if (i) md_buf_putc(b, ',');
        md_buf_puts(b, "{\"type\":\"");
        md_buf_puts(b, md_action_type_name(x->type));
        md_buf_puts(b, "\",\"ex_date\":\"");
        md_date_format(x->ex_date, d);
        md_buf_puts(b, d);
        md_buf_putc(b, '"');
        if (x->type == MD_ACT_SPLIT) {
            md_buf_puts(b, ",\"numerator\":");
            md_buf_num(b, x->numerator);
            md_buf_puts(b, ",\"denominator\":");
            md_buf_num(b, x->denominator);
        } else {
            md_buf_puts(b, ",\"amount\":");
            md_buf_num(b, x->amount);
            md_buf_puts(b, ",\"currency\":");
            if (x->currency[0])
                md_buf_json_str(b, x->currency);
            else
                md_buf_puts(b, "null");
            if (x->pay_date) {
                md_buf_puts(b, ",\"pay_date\":\"");
                md_date_format(x->pay_date, d);
                md_buf_puts(b, d);
                md_buf_putc(b, '"');
            }
        }
        md_buf_puts(b, ",\"source\":\"");
        md_buf_puts(b, md_source_name(x->source));
        int applied = 0;
        for (size_t k = 0; k < ne && !applied; k++)
            applied = eff[k].ex_date == x->ex_date && eff[k].type == x->type &&
                      eff[k].source == x->source;
        md_buf_puts(b, "\",\"applied\":");
        md_buf_puts(b, applied ? "true" : "false");
        md_buf_putc(b, '}');
    }
    md_buf_puts(b, "],\"count\":");
    md_buf_int(b, (int64_t)n);
    md_render_dividends_json(b, ref ? ref->actions_checked : 0, ref ? ref->dividends_refused : 0);
    md_buf_putc(b, '}');
    md_free(eff);
}
