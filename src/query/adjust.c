/* adjust.c - adjustment on read: the factors of a symbol's series from its stored actions
 * (analytics/adjust.h has the formulas), applied to a vector of raw bars after it is read.
 *
 *   actions (every source) -> one record per event -> cutoffs in the series' time ->
 *   closes before the dividends -> plan -> bars / price divisor, volumes * split multiplier
 *
 * The anchor is the newest stored bar of the symbol (any interval): an action whose ex-date is
 * after its trading date is not applied yet, so the newest price is the traded price. A bar
 * that spans an ex-date (a week or month aggregated or stored across a split) mixes prices of
 * both sides: it is rebuilt from the finer stored bars inside it, each adjusted on its own,
 * when there are any. */
#include "query/query.h"

#include "analytics/adjust.h"
#include "core/log.h"
#include "core/render.h"
#include "core/mem.h"
#include "core/timefmt.h"
#include "core/tz.h"

#include <math.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_ZONE "America/New_York"
#define PREV_CLOSE_LOOKBACK_S (40 * 86400)

/* 00:00 UTC of the trading date of a bar of iv starting at ts, in zone. */
static int64_t trading_day(md_interval iv, int64_t ts, const char *zone)
{
    if (md_interval_is_daily(iv) || iv > MD_IV_1D) return md_interval_floor(MD_IV_1D, ts);
    int32_t off = 0;
    if (md_tz_offset(zone, ts, &off) != 0) off = 0;
    return md_interval_floor(MD_IV_1D, ts + off);
}

int md_query_adjust_plan(md_services *svc, const char *symbol, md_interval iv, md_adjust mode,
                         md_adj_plan *out, md_error *err)
{
    md_adj_plan_build(MD_ADJUST_NONE, NULL, 0, 0, out);
    if (mode == MD_ADJUST_NONE) return 0;
    md_action_vec v;
    md_action_vec_init(&v);
    int rc = md_store_get_actions(svc->store, symbol, MD_TS_MIN, MD_TS_MAX, &v, err);
    if (rc <= 0) {
        md_action_vec_deinit(&v);
        return rc;
    }
    md_bar newest;
    md_interval newest_iv;
    md_error e;
    if (md_store_latest_bar(svc->store, symbol, &newest, &newest_iv, &e) != 0) {
        md_action_vec_deinit(&v);
        return 0; /* no bar: nothing to adjust */
    }
    md_symbol_ref ref;
    const char *zone = DEFAULT_ZONE;
    if (md_store_get_symbol_ref(svc->store, symbol, &ref, &e) == 0 && ref.zone[0]) zone = ref.zone;
    int64_t anchor_day = trading_day(newest_iv, newest.ts, zone);

    md_action *eff = md_malloc(v.n * sizeof *eff);
    size_t ne = md_actions_effective(v.v, v.n, eff);
    md_adj_event *ev = md_malloc((ne ? ne : 1) * sizeof *ev);
    size_t k = 0;
    for (size_t i = 0; i < ne; i++) {
        const md_action *a = &eff[i];
        if (a->ex_date > anchor_day) continue; /* not in effect at the newest bar */
        if (a->type == MD_ACT_DIVIDEND && mode != MD_ADJUST_ALL) continue;
        md_adj_event *x = &ev[k];
        memset(x, 0, sizeof *x);
        x->type = a->type;
        x->ratio = md_action_split_ratio(a);
        x->amount = a->amount;
        x->prev_close = NAN;
        x->cutoff = a->ex_date;
        if (!md_interval_is_daily(iv) && iv < MD_IV_1D &&
            md_tz_local_to_utc(zone, a->ex_date, &x->cutoff) != 0)
            x->cutoff = a->ex_date;
        if (a->type == MD_ACT_DIVIDEND) {
            md_bar_vec pc;
            md_bar_vec_init(&pc);
            if (md_store_get_bars_agg(svc->store, symbol, MD_IV_1D,
                                      a->ex_date - PREV_CLOSE_LOOKBACK_S, a->ex_date, 1, &pc, NULL,
                                      &e) > 0)
                x->prev_close = pc.v[pc.n - 1].close;
            md_bar_vec_deinit(&pc);
        }
        k++;
    }
    md_adj_plan_build(mode, ev, k, MD_TS_MAX, out);
    if (out->skipped)
        MD_DEBUG("query", "dividends not applied symbol=%s count=%zu (no close before them)",
                 symbol, out->skipped);
    md_free(ev);
    md_free(eff);
    md_action_vec_deinit(&v);
    return 0;
}

/* Rebuilds bar b of iv (which spans a cutoff) from the finer stored bars inside it, each
 * adjusted by the plan. 1 when rebuilt, 0 when there are none to rebuild it from. */
static int rebuild(md_services *svc, const char *symbol, md_interval iv, md_interval fine,
                   const md_adj_plan *p, md_bar *b)
{
    md_bar_vec in, agg;
    md_bar_vec_init(&in);
    md_bar_vec_init(&agg);
    md_error e;
    int64_t end = md_interval_next(iv, b->ts);
    int ok = 0;
    if (md_store_get_bars_agg(svc->store, symbol, fine, b->ts, end, 0, &in, NULL, &e) > 0) {
        md_adj_apply(p, in.v, in.n);
        md_bars_aggregate(in.v, in.n, iv, &agg);
        if (agg.n == 1 && agg.v[0].ts == b->ts) {
            agg.v[0].source = b->source;
            agg.v[0].quality = b->quality;
            *b = agg.v[0];
            ok = 1;
        }
    }
    md_bar_vec_deinit(&in);
    md_bar_vec_deinit(&agg);
    return ok;
}

void md_query_adjust_note(md_services *svc, const char *symbol, md_adjust mode,
                          const md_adj_plan *p, md_adj_note *out)
{
    memset(out, 0, sizeof *out);
    out->mode = mode; /* the plan of a symbol without actions is the identity, mode none */
    out->applied = p->applied;
    out->skipped = p->skipped;
    md_symbol_ref ref;
    md_error e;
    if (mode != MD_ADJUST_NONE && md_store_get_symbol_ref(svc->store, symbol, &ref, &e) == 0) {
        out->checked = ref.actions_checked;
        out->dividends_refused = ref.dividends_refused;
    }
}

void md_render_adjust_json(md_buf *b, const md_adj_note *n)
{
    md_buf_puts(b, ",\"adjust\":\"");
    md_buf_puts(b, md_adjust_name(n->mode));
    md_buf_putc(b, '"');
    if (n->mode == MD_ADJUST_NONE) return;
    md_buf_puts(b, ",\"adjustment\":");
    md_render_adjustment_json(b, n);
}

void md_render_adjustment_json(md_buf *b, const md_adj_note *n)
{
    /* "unchecked": no source was ever asked, the factors rest on ingested or loaded records
     * alone - maybe none, so an adjusted series may still hold a split */
    md_buf_puts(b, "{\"mode\":\"");
    md_buf_puts(b, md_adjust_name(n->mode));
    md_buf_puts(b, n->checked > 0 ? "\",\"actions\":\"checked\",\"checked_at\":"
                                  : "\",\"actions\":\"unchecked\",\"checked_at\":null");
    if (n->checked > 0) md_buf_ts(b, n->checked, 1);
    md_buf_puts(b, ",\"applied\":");
    md_buf_int(b, (int64_t)n->applied);
    md_buf_puts(b, ",\"skipped\":");
    md_buf_int(b, (int64_t)n->skipped);
    if (n->mode == MD_ADJUST_ALL) md_render_dividends_json(b, n->checked, n->dividends_refused);
    md_buf_putc(b, '}');
}

void md_render_dividends_json(md_buf *b, int64_t checked, uint8_t refused_by)
{
    /* "not_offered": the source that answered gave the splits alone (its plan refused the
     * dividends), so dividends are missing unless ingested or loaded */
    if (checked <= 0) {
        md_buf_puts(b, ",\"dividends\":\"unchecked\"");
    } else if (!refused_by) {
        md_buf_puts(b, ",\"dividends\":\"checked\"");
    } else {
        md_buf_puts(b, ",\"dividends\":\"not_offered\",\"dividends_source\":\"");
        md_buf_puts(b, md_source_name(refused_by));
        md_buf_putc(b, '"');
    }
}

int md_query_adjust_bars(md_services *svc, const char *symbol, md_interval iv, md_adjust mode,
                         md_bar *bars, size_t n, md_adj_note *note, md_error *err)
{
    md_adj_plan p;
    int rc = md_query_adjust_plan(svc, symbol, iv, mode, &p, err);
    if (rc < 0) return rc;
    if (note) md_query_adjust_note(svc, symbol, mode, &p, note);
    md_query_adjust_with(svc, symbol, iv, &p, bars, n);
    md_adj_plan_deinit(&p);
    return 0;
}

void md_query_adjust_with(md_services *svc, const char *symbol, md_interval iv,
                          const md_adj_plan *p, md_bar *bars, size_t n)
{
    if (p->n == 0 || n == 0) return;
    /* bars spanning an ex-date: rebuilt from finer bars (daily for weeks and months, the
     * finest intraday interval dividing iv otherwise) */
    md_interval fine = iv > MD_IV_1D ? MD_IV_1D : MD_IV_1M;
    uint8_t *done = NULL;
    if (iv > MD_IV_1M) {
        for (size_t i = 0; i < n; i++) {
            if (!md_adj_straddles(p, bars[i].ts, md_interval_next(iv, bars[i].ts))) continue;
            if (!done) done = md_calloc(n, 1);
            done[i] = (uint8_t)rebuild(svc, symbol, iv, fine, p, &bars[i]);
        }
    }
    if (!done) {
        md_adj_apply(p, bars, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (!done[i]) md_adj_apply(p, &bars[i], 1);
    md_free(done);
}

int md_query_adjust_parse(const char *v, md_adjust *out, md_error *err)
{
    *out = MD_ADJUST_DEFAULT;
    if (!v) return 0;
    /* in any case, as every word a query parameter takes (order=DESC, format=CSV) */
    for (int a = MD_ADJUST_NONE; a <= MD_ADJUST_ALL; a++)
        if (strcasecmp(v, md_adjust_name((md_adjust)a)) == 0) return *out = (md_adjust)a, 0;
    return md_error_set(err, MD_EPARAM, "adjust: '%.20s' is not none, splits or all", v);
}
