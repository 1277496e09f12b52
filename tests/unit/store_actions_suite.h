/* store_actions_suite.h - corporate actions and symbol references, run against every backend.
 *
 * Included after store_suite.h (its setup, teardown, st and url) by test_store_sqlite.c and
 * test_store_pg.c: the same records must come back the same from both. */
#ifndef MD_STORE_ACTIONS_SUITE_H
#define MD_STORE_ACTIONS_SUITE_H

#include "core/action.h"
#include "core/mem.h"

#include <string.h>

static md_action SPLIT(const char *sym, const char *date, double num, double den, int source)
{
    md_action a;
    memset(&a, 0, sizeof a);
    snprintf(a.symbol, sizeof a.symbol, "%s", sym);
    a.type = MD_ACT_SPLIT;
    a.source = (uint8_t)source;
    cr_assert_eq(md_time_parse_str(date, &a.ex_date, NULL), 0);
    a.numerator = num;
    a.denominator = den;
    return a;
}

static md_action DIV(const char *sym, const char *date, double amount, const char *cur, int source)
{
    md_action a;
    memset(&a, 0, sizeof a);
    snprintf(a.symbol, sizeof a.symbol, "%s", sym);
    a.type = MD_ACT_DIVIDEND;
    a.source = (uint8_t)source;
    cr_assert_eq(md_time_parse_str(date, &a.ex_date, NULL), 0);
    a.amount = amount;
    snprintf(a.currency, sizeof a.currency, "%s", cur);
    return a;
}

SUITE_TEST(actions_round_trip_in_date_order_with_every_source)
{
    md_action in[] = {
        DIV("AAPL", "2024-11-08", 0.25, "USD", MD_SRC_POLYGON),
        SPLIT("AAPL", "2020-08-31", 4, 1, MD_SRC_YAHOO),
        SPLIT("AAPL", "2020-08-31", 4, 1, MD_SRC_POLYGON),
        SPLIT("NVDA", "2024-06-10", 10, 1, MD_SRC_YAHOO),
    };
    in[0].pay_date = 1731542400; /* 2024-11-14 */
    md_error err;
    cr_assert_eq(md_store_put_actions(st, in, 4, &err), 4, "%s", err.msg);
    md_action_vec v;
    md_action_vec_init(&v);
    cr_assert_eq(md_store_get_actions(st, "AAPL", MD_TS_MIN, MD_TS_MAX, &v, &err), 3, "%s",
                 err.msg);
    cr_assert_eq(v.v[0].type, MD_ACT_SPLIT);
    cr_assert_eq(v.v[0].source, MD_SRC_YAHOO);
    cr_assert_eq(v.v[1].source, MD_SRC_POLYGON);
    cr_assert_float_eq(v.v[1].numerator, 4, 0);
    cr_assert_float_eq(v.v[1].denominator, 1, 0);
    cr_assert_eq(v.v[2].type, MD_ACT_DIVIDEND);
    cr_assert_float_eq(v.v[2].amount, 0.25, 0);
    cr_assert_str_eq(v.v[2].currency, "USD");
    cr_assert_eq(v.v[2].pay_date, 1731542400);
    cr_assert_str_eq(v.v[2].symbol, "AAPL");
    /* a range: the ex-date is the key */
    v.n = 0;
    cr_assert_eq(md_store_get_actions(st, "AAPL", 1704067200, MD_TS_MAX, &v, &err), 1);
    /* every symbol, symbol first */
    v.n = 0;
    cr_assert_eq(md_store_get_actions(st, NULL, MD_TS_MIN, MD_TS_MAX, &v, &err), 4);
    cr_assert_str_eq(v.v[3].symbol, "NVDA");
    v.n = 0;
    cr_assert_eq(md_store_get_actions(st, "MSFT", MD_TS_MIN, MD_TS_MAX, &v, &err), 0);
    md_action_vec_deinit(&v);
}

SUITE_TEST(an_unchanged_record_is_not_counted_and_a_correction_replaces)
{
    md_action a = SPLIT("NVDA", "2024-06-10", 10, 1, MD_SRC_INGEST);
    md_error err;
    cr_assert_eq(md_store_put_actions(st, &a, 1, &err), 1, "%s", err.msg);
    cr_assert_eq(md_store_put_actions(st, &a, 1, &err), 0, "same values: nothing changed");
    a.numerator = 4; /* a corrected ratio, same key */
    cr_assert_eq(md_store_put_actions(st, &a, 1, &err), 1);
    md_action_vec v;
    md_action_vec_init(&v);
    cr_assert_eq(md_store_get_actions(st, "NVDA", MD_TS_MIN, MD_TS_MAX, &v, &err), 1);
    cr_assert_float_eq(v.v[0].numerator, 4, 0);
    md_action_vec_deinit(&v);
}

SUITE_TEST(symbol_references_round_trip)
{
    md_symbol_ref r, got;
    memset(&r, 0, sizeof r);
    snprintf(r.symbol, sizeof r.symbol, "VOD.L");
    snprintf(r.currency, sizeof r.currency, "GBP");
    snprintf(r.reported, sizeof r.reported, "GBp");
    snprintf(r.zone, sizeof r.zone, "Europe/London");
    snprintf(r.exchange, sizeof r.exchange, "LSE");
    r.source = MD_SRC_YAHOO;
    r.actions_checked = 1700000000;
    md_error err;
    cr_assert_eq(md_store_get_symbol_ref(st, "VOD.L", &got, &err), MD_ENODATA);
    cr_assert_eq(md_store_put_symbol_ref(st, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(md_store_get_symbol_ref(st, "VOD.L", &got, &err), 0, "%s", err.msg);
    cr_assert_str_eq(got.currency, "GBP");
    cr_assert_str_eq(got.reported, "GBp");
    cr_assert_str_eq(got.zone, "Europe/London");
    cr_assert_str_eq(got.exchange, "LSE");
    cr_assert_eq(got.source, MD_SRC_YAHOO);
    cr_assert_eq(got.actions_checked, 1700000000);
    cr_assert_eq(got.dividends_refused, 0);
    r.actions_checked = 1800000000;
    r.dividends_refused = MD_SRC_FINNHUB; /* its plan gave the splits alone */
    snprintf(r.exchange, sizeof r.exchange, "LONDON STOCK EXCHANGE");
    cr_assert_eq(md_store_put_symbol_ref(st, &r, &err), 0);
    md_symbol_ref *list = NULL;
    cr_assert_eq(md_store_list_symbol_refs(st, &list, &err), 1, "%s", err.msg);
    cr_assert_eq(list[0].actions_checked, 1800000000);
    cr_assert_str_eq(list[0].exchange, "LONDON STOCK EXCHANGE");
    cr_assert_eq(list[0].dividends_refused, MD_SRC_FINNHUB);
    md_free(list);
    r.dividends_refused = 0; /* a later check with the dividends */
    cr_assert_eq(md_store_put_symbol_ref(st, &r, &err), 0);
    cr_assert_eq(md_store_get_symbol_ref(st, "VOD.L", &got, &err), 0, "%s", err.msg);
    cr_assert_eq(got.dividends_refused, 0);
}

#endif
