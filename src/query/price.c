/* price.c - latest price: stored quote, else last close. */
#include "query/query.h"

#include "core/render.h"
#include "core/timefmt.h"

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

int md_query_price(md_services *svc, const char *symbol, int64_t max_age_s, md_price *out,
                   md_error *err)
{
    (void)max_age_s;
    return md_query_price_stored(svc, symbol, out, err);
}

int md_query_price_stored(md_services *svc, const char *symbol, md_price *out, md_error *err)
{
    memset(out, 0, sizeof *out);
    out->cache = "miss";
    md_error e;
    md_bar bar;
    md_interval iv;
    int qrc = md_store_get_quote(svc->store, symbol, &out->q, &e);
    if (qrc != 0 && qrc != MD_ENODATA) return md_error_set(err, qrc, "%s", e.msg);
    int brc = md_store_latest_bar(svc->store, symbol, &bar, &iv, &e);
    if (brc != 0 && brc != MD_ENODATA) return md_error_set(err, brc, "%s", e.msg);
    if (qrc == 0 && (brc != 0 || out->q.ts >= bar.ts)) {
        out->origin = "quote";
        return 0;
    }
    if (brc == 0) { /* no quote, or a bar newer than the stored quote */
        price_from_bar(out, symbol, &bar);
        return 0;
    }
    return md_error_set(err, MD_ENOTFOUND, "no data for symbol %s", symbol);
}

void md_render_price_json(md_buf *b, const md_price *p)
{
    md_buf_puts(b, "{\"symbol\":");
    md_buf_json_str(b, p->q.symbol);
    md_buf_puts(b, ",\"price\":");
    md_buf_num(b, p->q.price);
    md_buf_puts(b, ",\"timestamp\":");
    md_buf_ts(b, p->q.ts, 1);
    md_buf_puts(b, ",\"source\":\"");
    md_buf_puts(b, md_source_name(p->q.source));
    md_buf_puts(b, "\",\"quality\":{\"score\":");
    if (p->q.quality >= 0) {
        md_buf_num(b, round((double)p->q.quality * 100) / 100);
        md_buf_puts(b, ",\"grade\":\"");
        md_buf_puts(b, md_grade_for_score(p->q.quality));
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
