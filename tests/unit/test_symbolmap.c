/* The symbol map (sources/symbolmap.h) and the `symbols:` section it reads (core/symconf.h):
 * asset classes detected from a symbol's spelling, each provider's spelling of the
 * canonical forms (as the providers document them: Yahoo's BRK-B and EURUSD=X, Polygon's
 * I:/C:/X: tickers, Twelve Data's BASE/QUOTE, Finnhub's OANDA:/BINANCE: symbols), "not
 * offered", configuration overrides with errors naming file, line and key, and the rows
 * of providers.def agreeing with the spelling rules. */
#include "core/config.h"
#include "core/symconf.h"
#include "sources/registry.h"
#include "sources/symbolmap.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <string.h>

static md_symbolmap *map_from(const char *yaml, md_error *err, int *rc)
{
    md_config cfg;
    md_config_init(&cfg);
    md_symbolmap *m = NULL;
    *rc = 0;
    if (yaml) {
        const char *p = md_test_path("symbols.yaml");
        md_test_write(p, yaml);
        *rc = md_config_load_file(&cfg, p, err);
    }
    if (*rc == 0) *rc = md_symbolmap_new(&cfg, &m, err);
    md_config_deinit(&cfg);
    return m;
}

static void spell(const md_symbolmap *m, const char *sym, int source, int quote, char *dst,
                  size_t n, int *offered)
{
    md_symbol_class c;
    md_symbolmap_classify(m, sym, &c);
    char why[160];
    *offered = md_symbolmap_spell(m, source, &c, quote, dst, n, why, sizeof why);
    if (!*offered) snprintf(dst, n, "-");
}

/* The table of symbolmap.h, row by row: what each provider is sent. */
Test(symbolmap, the_documented_spellings_of_each_canonical_form)
{
    md_error err;
    int rc;
    md_symbolmap *m = map_from(NULL, &err, &rc);
    cr_assert_eq(rc, 0, "%s", err.msg);
    static const struct {
        const char *sym, *cls, *canonical;
        const char *yahoo, *av, *finnhub, *polygon, *td; /* bars; "-" not offered */
    } rows[] = {
        {"AAPL", "equity", "AAPL", "AAPL", "AAPL", "AAPL", "AAPL", "AAPL"},
        {"BRK.B", "equity", "BRK.B", "BRK-B", "BRK.B", "BRK.B", "BRK.B", "BRK.B"},
        {"BRK-B", "equity", "BRK.B", "BRK-B", "BRK.B", "BRK.B", "BRK.B", "BRK.B"},
        {"^GSPC", "index", "^GSPC", "^GSPC", "-", "-", "I:SPX", "SPX"},
        {"^IXIC", "index", "^IXIC", "^IXIC", "-", "-", "I:COMP", "IXIC"},
        {"^FOO", "index", "^FOO", "^FOO", "-", "-", "-", "-"},
        {"EURUSD", "fx", "EURUSD", "EURUSD=X", "-", "OANDA:EUR_USD", "C:EURUSD", "EUR/USD"},
        {"EURUSD=X", "fx", "EURUSD", "EURUSD=X", "-", "OANDA:EUR_USD", "C:EURUSD", "EUR/USD"},
        {"EUR/USD", "fx", "EURUSD", "EURUSD=X", "-", "OANDA:EUR_USD", "C:EURUSD", "EUR/USD"},
        {"GBP-JPY", "fx", "GBPJPY", "GBPJPY=X", "-", "OANDA:GBP_JPY", "C:GBPJPY", "GBP/JPY"},
        {"BTC-USD", "crypto", "BTC-USD", "BTC-USD", "-", "BINANCE:BTCUSDT", "X:BTCUSD", "BTC/USD"},
        {"ETH/EUR", "crypto", "ETH-EUR", "ETH-EUR", "-", "BINANCE:ETHEUR", "X:ETHEUR", "ETH/EUR"},
        {"7203.T", "equity", "7203.T", "7203.T", "7203.T", "7203.T", "7203.T", "7203.T"},
    };
    const int ids[5] = {MD_SRC_YAHOO, MD_SRC_ALPHAVANTAGE, MD_SRC_FINNHUB, MD_SRC_POLYGON,
                        MD_SRC_TWELVEDATA};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        md_symbol_class c;
        md_symbolmap_classify(m, rows[i].sym, &c);
        cr_expect_str_eq(md_asset_class_name(c.asset), rows[i].cls, "%s", rows[i].sym);
        cr_expect_str_eq(c.canonical, rows[i].canonical, "%s", rows[i].sym);
        const char *want[5] = {rows[i].yahoo, rows[i].av, rows[i].finnhub, rows[i].polygon,
                               rows[i].td};
        for (int k = 0; k < 5; k++) {
            char got[64];
            int offered;
            spell(m, rows[i].sym, ids[k], 0, got, sizeof got, &offered);
            cr_expect_str_eq(got, want[k], "%s for %s", rows[i].sym, md_source_name(ids[k]));
        }
    }
    md_symbolmap_free(m);
}

Test(symbolmap, finnhub_quotes_are_for_stocks_only)
{
    md_error err;
    int rc;
    md_symbolmap *m = map_from(NULL, &err, &rc);
    char got[64];
    int offered;
    spell(m, "EURUSD", MD_SRC_FINNHUB, 1, got, sizeof got, &offered);
    cr_expect_eq(offered, 0, "FX quotes");
    spell(m, "EURUSD", MD_SRC_FINNHUB, 0, got, sizeof got, &offered);
    cr_expect_eq(offered, 1, "FX candles");
    spell(m, "AAPL", MD_SRC_FINNHUB, 1, got, sizeof got, &offered);
    cr_expect_eq(offered, 1);
    md_symbol_class c;
    md_symbolmap_classify(m, "BTC-USD", &c);
    char why[160];
    cr_expect_eq(
        md_symbolmap_spell(m, MD_SRC_ALPHAVANTAGE, &c, 1, got, sizeof got, why, sizeof why), 0);
    cr_expect_str_eq(why, "does not offer crypto");
    /* the offline sources take the symbol as asked */
    cr_expect_eq(md_symbolmap_spell(m, MD_SRC_SIMULATOR, &c, 1, got, sizeof got, why, sizeof why),
                 1);
    cr_expect_str_eq(got, "BTC-USD");
    md_symbolmap_free(m);
}

Test(symbolmap, the_configuration_overrides_class_and_spellings)
{
    md_error err;
    int rc;
    md_symbolmap *m =
        map_from("symbols:\n"
                 "  brk.b:\n"
                 "    yahoo: BRK-B.X\n"
                 "  ^GSPC: {polygon: \"I:SPX.X\", twelvedata: \"-\", calendar: XNYS}\n"
                 "  SPY:\n"
                 "    class: etf\n"
                 "  ABCDEF:\n"
                 "    class: equity\n"
                 "  \"^FOO\": {polygon: \"I:FOO\"}\n",
                 &err, &rc);
    cr_assert_eq(rc, 0, "%s", err.msg);
    char got[64];
    int offered;
    spell(m, "BRK.B", MD_SRC_YAHOO, 1, got, sizeof got, &offered);
    cr_expect_str_eq(got, "BRK-B.X", "keys are upper-cased like symbols");
    spell(m, "BRK-B", MD_SRC_YAHOO, 1, got, sizeof got, &offered);
    cr_expect_str_eq(got, "BRK-B.X", "found through the canonical form");
    spell(m, "^GSPC", MD_SRC_POLYGON, 0, got, sizeof got, &offered);
    cr_expect_str_eq(got, "I:SPX.X");
    spell(m, "^GSPC", MD_SRC_TWELVEDATA, 0, got, sizeof got, &offered);
    cr_expect_eq(offered, 0, "\"-\": not offered");
    spell(m, "^FOO", MD_SRC_POLYGON, 0, got, sizeof got, &offered);
    cr_expect_str_eq(got, "I:FOO", "an index the table does not know");
    md_symbol_class c;
    md_symbolmap_classify(m, "SPY", &c);
    cr_expect_str_eq(md_asset_class_name(c.asset), "etf");
    cr_expect_eq(c.configured, 1);
    md_symbolmap_classify(m, "ABCDEF", &c); /* would be FX were it two currency codes */
    cr_expect_str_eq(md_asset_class_name(c.asset), "equity");
    md_symbolmap_free(m);
}

Test(symbolmap, a_bad_section_names_file_line_and_key)
{
    static const struct {
        const char *yaml, *want;
    } cases[] = {
        {"symbols:\n  AAPL:\n    bloomberg: AAPL US\n", ":3: symbols.AAPL.bloomberg: unknown key"},
        {"symbols:\n  AAPL:\n    class: bond\n", ":3: symbols.AAPL.class: 'bond' is not"},
        {"symbols:\n  AAPL: AAPL.O\n", ":2: symbols.AAPL: expects a mapping"},
        {"symbols:\n  \"A B\":\n    yahoo: X\n", "symbols.A B: invalid character"},
        {"symbols:\n  AAPL:\n    yahoo: \"A B\"\n",
         ":3: symbols.AAPL.yahoo: 'A B' is not a symbol"},
        {"symbols: AAPL\n", ":1: symbols: expects a mapping"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        md_error err;
        int rc;
        md_symbolmap *m = map_from(cases[i].yaml, &err, &rc);
        if (rc == 0) { /* the file reads; its one reader refuses it at validation */
            md_config cfg;
            md_config_init(&cfg);
            rc = md_config_load_file(&cfg, md_test_path("symbols.yaml"), &err);
            if (rc == 0) rc = md_config_validate(&cfg, &err);
            md_config_deinit(&cfg);
        }
        md_symbolmap_free(m);
        cr_expect_eq(rc, MD_ECONFIG, "%s", cases[i].yaml);
        cr_expect(strstr(err.msg, cases[i].want) != NULL, "%s\n  got: %s", cases[i].yaml, err.msg);
    }
}

Test(symbolmap, print_config_shows_the_section)
{
    const char *p = md_test_path("symbols_print.yaml");
    md_test_write(p, "symbols:\n  BRK.B: {yahoo: BRK-B, calendar: XNYS}\n");
    md_config cfg;
    md_config_init(&cfg);
    md_error err;
    cr_assert_eq(md_config_load_file(&cfg, p, &err), 0, "%s", err.msg);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    md_config_print(&cfg, f);
    fclose(f);
    cr_expect(strstr(out, "symbols: {\"BRK.B\": {\"yahoo\": \"BRK-B\", \"calendar\": \"XNYS\"}}") !=
                  NULL,
              "%s", out);
    md_symconf sc;
    cr_assert_eq(md_symconf_parse(&cfg, &sc, &err), 0, "%s", err.msg);
    const md_symconf_entry *e = md_symconf_find(&sc, "BRK.B");
    cr_assert_not_null(e);
    cr_expect_str_eq(e->calendar, "XNYS", "calendar: kept for the exchange calendars");
    md_symconf_deinit(&sc);
    free(out);
    md_config_deinit(&cfg);
}

/* providers.def says which classes a provider offers; the spelling rules must cover exactly
 * those (a class in the row without a rule would be "offered" and never spelled). */
Test(symbolmap, provider_rows_and_spelling_rules_agree)
{
    md_error err;
    int rc;
    md_symbolmap *m = map_from(NULL, &err, &rc);
    static const char *const sample[MD_AS_COUNT] = {"AAPL", "SPY", "^GSPC", "EURUSD", "BTC-USD"};
    for (size_t i = 0; i < md_source_count(); i++) {
        const md_source_info *info = md_source_info_at(i);
        if (info->offline) continue;
        for (int a = 0; a < MD_AS_COUNT; a++) {
            md_symbol_class c;
            md_symbolmap_classify(m, sample[a], &c);
            c.asset = a; /* SPY is detected as an equity: ask as an ETF */
            char got[64], why[160];
            int q = md_symbolmap_spell(m, (int)info->id, &c, 1, got, sizeof got, why, sizeof why);
            int b = md_symbolmap_spell(m, (int)info->id, &c, 0, got, sizeof got, why, sizeof why);
            int listed = (info->assets >> a) & 1;
            cr_expect_eq(q || b, listed, "%s %s: row says %d", info->name, md_asset_class_name(a),
                         listed);
        }
    }
    md_symbolmap_free(m);
}
