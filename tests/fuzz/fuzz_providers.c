/* Fuzzes every provider response parser (Yahoo, Alpha Vantage, Finnhub, Polygon, Twelve
 * Data: bars, quotes, corporate actions, the profiles naming the exchange) with the same
 * bytes: a body must parse into whole bars or fail with an error. */
#include "core/log.h"
#include "core/mem.h"
#include "sources/providers.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

static void check_bars(const md_bar_vec *v)
{
    for (size_t i = 0; i < v->n; i++) {
        const md_bar *b = &v->v[i];
        if (!isfinite(b->open) || !isfinite(b->high) || !isfinite(b->low) || !isfinite(b->close))
            __builtin_trap(); /* a half-parsed bar escaped */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) md_log_set_level(MD_LOG_OFF), init = 1;
    const char *s = (const char *)data;
    md_error err;
    md_quote q;
    for (int iv = MD_IV_1M; iv < MD_IV_COUNT; iv += 3) {
        md_bar_vec v;
        md_bar_vec_init(&v);
        md_yahoo_parse_chart(s, size, (md_interval)iv, &v, &q, &err);
        check_bars(&v);
        v.n = 0;
        md_alphavantage_parse_series(s, size, (md_interval)iv, &v, &err);
        check_bars(&v);
        v.n = 0;
        md_finnhub_parse_candles(s, size, (md_interval)iv, &v, &err);
        check_bars(&v);
        v.n = 0;
        char *next = NULL;
        md_polygon_parse_aggs(s, size, (md_interval)iv, &v, &next, &err);
        md_free(next);
        check_bars(&v);
        v.n = 0;
        md_twelvedata_parse_series(s, size, (md_interval)iv, &v, &err);
        check_bars(&v);
        md_bar_vec_deinit(&v);
    }
    md_alphavantage_parse_quote(s, size, &q, &err);
    md_finnhub_parse_quote(s, size, &q, &err);
    md_polygon_parse_last_trade(s, size, &q, &err);
    md_polygon_parse_prev(s, size, &q, &err);
    md_twelvedata_parse_quote(s, size, &q, &err);
    /* corporate actions and the profiles that name the exchange */
    md_action_vec a;
    md_action_vec_init(&a);
    for (int div = 0; div < 2; div++) {
        md_alphavantage_parse_actions(s, size, div, &a, &err);
        md_finnhub_parse_actions(s, size, div, &a, &err);
        md_twelvedata_parse_actions(s, size, div, &a, &err);
    }
    char *next = NULL;
    md_polygon_parse_splits(s, size, &a, &next, &err);
    md_free(next);
    next = NULL;
    md_polygon_parse_dividends(s, size, &a, &next, &err);
    md_free(next);
    md_action_vec_deinit(&a);
    md_source_ref ref;
    if (md_polygon_parse_ticker(s, size, &ref, &err) == 0 &&
        !memchr(ref.exchange, 0, sizeof ref.exchange))
        __builtin_trap(); /* not a string */
    if (md_finnhub_parse_profile(s, size, &ref, &err) == 0 &&
        !memchr(ref.exchange, 0, sizeof ref.exchange))
        __builtin_trap();
    return 0;
}
