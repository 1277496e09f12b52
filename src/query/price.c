/* price.c - latest price: a fresh stored quote; else a quote fetched through the source
 * manager (validated and stored by the writer); else the stored quote or last close. */
#include "query/query.h"

#include "core/log.h"
#include "core/render.h"
#include "core/timefmt.h"
#include "sources/manager.h"

#include <math.h>
#include <string.h>

static void price_from_bar(md_price *out, const char *symbol, const md_bar *bar)
{
    md_quote_init(&out->q);
    snprintf(out->q.symbol, sizeof out->q.symbol, "%s", symbol);
    out->q.price = bar->close;
    out->q.ts = bar->ts;
    out->q.volume = bar->volume;
    out->q.source = bar->source;
    out->q.quality = bar->quality;
    out->origin = "bar";
}

/* The stored answer: the newest of the stored quote and the last stored close. *when is
 * the time the price was true (a bar's close: the end of its bucket, or now while the bucket
 * has not ended). */
static int stored_price(md_services *svc, const char *symbol, md_price *out, int64_t *when,
                        md_error *err)
{
    md_error e;
    md_bar bar;
    md_interval iv;
    int qrc = md_store_get_quote(svc->store, symbol, &out->q, &e);
    if (qrc != 0 && qrc != MD_ENODATA) return md_error_set(err, qrc, "%s", e.msg);
    int brc = md_store_latest_bar(svc->store, symbol, &bar, &iv, &e);
    if (brc != 0 && brc != MD_ENODATA) return md_error_set(err, brc, "%s", e.msg);
    if (qrc == 0 && (brc != 0 || out->q.ts >= bar.ts)) {
        out->origin = "quote";
        *when = out->q.ts;
        return 0;
    }
    if (brc == 0) { /* no quote, or a bar newer than the stored quote */
        price_from_bar(out, symbol, &bar);
        *when = md_interval_next(iv, bar.ts);
        if (*when > md_now()) *when = md_now();
        return 0;
    }
    return md_error_set(err, MD_ENOTFOUND, "no data for symbol %s", symbol);
}

/* The timeliness share of a price's score: quality.weight_timeliness of the weights. */
static double timeliness_weight(const md_config *cfg)
{
    if (!cfg) return 0.2;
    double sum = cfg->q_weight_completeness + cfg->q_weight_accuracy + cfg->q_weight_timeliness +
                 cfg->q_weight_consistency + cfg->q_weight_validity + cfg->q_weight_uniqueness;
    return sum > 0 ? cfg->q_weight_timeliness / sum : 0;
}

/* Fills what the answer says about the price's age. */
static void set_age(md_services *svc, md_price *p, int64_t when, int64_t max_age_s)
{
    int64_t now = md_now();
    p->as_of = when < now ? when : now;
    p->max_age_s = max_age_s;
    p->t_weight = timeliness_weight(svc->cfg);
}

int md_query_price_from(md_services *svc, const char *symbol, int64_t max_age_s, int source,
                        md_price *out, md_error *err)
{
    memset(out, 0, sizeof *out);
    out->cache = "miss";
    int64_t when = 0;
    md_error serr;
    int src = stored_price(svc, symbol, out, &when, &serr);
    if (src == 0) set_age(svc, out, when, max_age_s);
    if (src != 0 && src != MD_ENOTFOUND) return md_error_set(err, src, "%s", serr.msg);
    /* a manager with no enabled source behaves like none, unless one is asked by name */
    int none = !svc->sources || (source < 0 && md_srcmgr_enabled(svc->sources) == 0);
    if (none) {
        if (source >= 0)
            return md_error_set(err, MD_ENOSOURCE, "source %s: no sources are configured",
                                md_source_name(source));
        return src ? md_error_set(err, src, "%s", serr.msg) : 0;
    }
    char key[MD_SYMBOL_MAX + 4];
    snprintf(key, sizeof key, "q|%s", symbol);
    if (source < 0) {
        int64_t asked = md_srcmgr_since_ms(svc->sources, key);
        int fresh = src == 0 && md_now() - when <= max_age_s;
        int asked_lately = src == 0 && asked >= 0 && asked <= max_age_s * 1000;
        if (fresh || asked_lately) return 0; /* a closed market is not asked on every request */
    }
    md_quote q;
    md_error ferr;
    int rc = md_query_fetch_quote(svc, symbol, source, &q, &ferr);
    if (rc == 0) {
        memset(out, 0, sizeof *out);
        out->q = q;
        out->cache = "miss";
        out->origin = "source";
        set_age(svc, out, q.ts, max_age_s);
        return 0;
    }
    if (rc == MD_ENOTFOUND) md_srcmgr_mark(svc->sources, key); /* an answer: ask again later */
    if (source < 0 && src == 0) {
        MD_INFO("query", "serving stored price symbol=%s sources_error=%s", symbol,
                md_error_code(rc));
        return 0; /* every source failed: the stored value is still an answer */
    }
    return md_error_set(err, rc, "%s", ferr.msg);
}

int md_query_price(md_services *svc, const char *symbol, int64_t max_age_s, md_price *out,
                   md_error *err)
{
    return md_query_price_from(svc, symbol, max_age_s, -1, out, err);
}

int md_query_price_stored(md_services *svc, const char *symbol, md_price *out, md_error *err)
{
    memset(out, 0, sizeof *out);
    out->cache = "miss";
    int64_t when;
    int rc = stored_price(svc, symbol, out, &when, err);
    if (rc == 0) set_age(svc, out, when, svc->cfg ? svc->cfg->price_max_age_s : 60);
    return rc;
}

int64_t md_price_age_s(const md_price *p, int64_t now)
{
    return now > p->as_of ? now - p->as_of : 0;
}

int md_price_stale(const md_price *p, int64_t now)
{
    return md_price_age_s(p, now) > p->max_age_s;
}

/* Timeliness of a price, 0..1, on the market's clock rather than the client's max_age: the
 * last close stays the current price over a weekend and a holiday (the writer's quote checks
 * use the same four days), then loses its timeliness over the following ten days. */
#define CURRENT_S (4 * 86400)
#define FADE_S (10 * 86400)

double md_price_score(const md_price *p, int64_t now)
{
    if (p->q.quality < 0) return -1;
    int64_t age = md_price_age_s(p, now);
    double t = age <= CURRENT_S ? 1 : 1 - (double)(age - CURRENT_S) / FADE_S;
    if (t < 0) t = 0;
    return p->q.quality * (1 - p->t_weight * (1 - t));
}

void md_render_price_json(md_buf *b, const md_price *p)
{
    int64_t now = md_now();
    md_buf_puts(b, "{\"symbol\":");
    md_buf_json_str(b, p->q.symbol);
    md_buf_puts(b, ",\"price\":");
    md_buf_num(b, p->q.price);
    md_buf_puts(b, ",\"timestamp\":");
    md_buf_ts(b, p->q.ts, 1);
    md_buf_puts(b, ",\"as_of\":");
    md_buf_ts(b, p->as_of, 1);
    md_buf_puts(b, ",\"age_s\":");
    md_buf_int(b, md_price_age_s(p, now));
    md_buf_puts(b, md_price_stale(p, now) ? ",\"stale\":true" : ",\"stale\":false");
    md_buf_puts(b, ",\"source\":\"");
    md_buf_puts(b, md_source_name(p->q.source));
    md_buf_puts(b, "\",\"quality\":{\"score\":");
    double score = md_price_score(p, now);
    if (score >= 0) {
        md_buf_num(b, round(score * 100) / 100);
        md_buf_puts(b, ",\"grade\":\"");
        md_buf_puts(b, md_grade_for_score(round(score * 100) / 100));
        md_buf_puts(b, "\"}");
    } else {
        md_buf_puts(b, "null,\"grade\":null}");
    }
    if (!isnan(p->q.volume)) {
        md_buf_puts(b, ",\"volume\":");
        md_buf_num(b, p->q.volume);
    }
    if (!isnan(p->q.bid)) {
        md_buf_puts(b, ",\"bid\":");
        md_buf_num(b, p->q.bid);
    }
    if (!isnan(p->q.ask)) {
        md_buf_puts(b, ",\"ask\":");
        md_buf_num(b, p->q.ask);
    }
    md_buf_puts(b, ",\"cache\":\"");
    md_buf_puts(b, p->cache ? p->cache : "miss");
    md_buf_puts(b, "\"}");
}
