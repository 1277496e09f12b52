/* symbolmap.c - asset classes and provider spellings (symbolmap.h). Two tables say it all:
 * `rules` (how each provider spells each asset class it offers, and for which kind of
 * call) and `indices` (the providers' names of the common indices). A provider's row in
 * providers.def lists the classes it offers; test_symbolmap.c checks the two agree. */
#include "sources/symbolmap.h"

#include "core/bar.h"
#include "core/mem.h"
#include "sources/registry.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

struct md_symbolmap {
    md_symconf conf;
};

/* -- currencies ---------------------------------------------------------------------------- */

/* ISO 4217 codes traded as FX pairs (and the metals quoted like them). */
static const char *const fiat[] = {
    "USD", "EUR", "JPY", "GBP", "CHF", "CAD", "AUD", "NZD", "SEK", "NOK", "DKK", "HKD",
    "SGD", "CNY", "CNH", "MXN", "ZAR", "TRY", "PLN", "CZK", "HUF", "ILS", "INR", "KRW",
    "BRL", "RUB", "THB", "TWD", "IDR", "MYR", "PHP", "SAR", "AED", "KWD", "QAR", "CLP",
    "COP", "PEN", "ARS", "NGN", "EGP", "KES", "RON", "BGN", "ISK", "XAU", "XAG"};
/* What crypto is quoted in besides fiat. */
static const char *const coins[] = {"USDT", "USDC", "BUSD", "DAI", "BTC", "ETH"};

static int in_list(const char *s, size_t len, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(list[i]) == len && strncmp(list[i], s, len) == 0) return 1;
    return 0;
}

static int is_fiat(const char *s, size_t len)
{
    return in_list(s, len, fiat, MD_ARRAY_LEN(fiat));
}

static int is_quote_ccy(const char *s, size_t len)
{
    return is_fiat(s, len) || in_list(s, len, coins, MD_ARRAY_LEN(coins));
}

static int alnum_run(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i])) return 0;
    return len > 0;
}

/* -- indices ------------------------------------------------------------------------------- */

static const struct {
    const char *canonical, *polygon, *twelvedata;
} indices[] = {
    {"^GSPC", "I:SPX", "SPX"},   /* S&P 500 */
    {"^DJI", "I:DJI", "DJI"},    /* Dow Jones Industrial Average */
    {"^IXIC", "I:COMP", "IXIC"}, /* Nasdaq Composite */
    {"^NDX", "I:NDX", "NDX"},    /* Nasdaq-100 */
    {"^RUT", "I:RUT", "RUT"},    /* Russell 2000 */
    {"^VIX", "I:VIX", "VIX"},    /* CBOE Volatility Index */
};

/* -- spellings ----------------------------------------------------------------------------- */

typedef int (*spell_fn)(const md_symbol_class *c, const char *arg, char *dst, size_t n);

static int as_is(const md_symbol_class *c, const char *arg, char *dst, size_t n)
{
    (void)arg;
    snprintf(dst, n, "%s", c->canonical);
    return 1;
}

/* Yahoo writes a share class with '-' (BRK-B). */
static int share_dash(const md_symbol_class *c, const char *arg, char *dst, size_t n)
{
    (void)arg;
    snprintf(dst, n, "%s", c->canonical);
    char *dot = strrchr(dst, '.');
    if (dot && dot[1] && !dot[2] && strchr("ABCDEFK", dot[1]) && dot > dst &&
        isalpha((unsigned char)dot[-1]))
        *dot = '-';
    return 1;
}

/* arg: "PREFIX|SEPARATOR|SUFFIX" around the base and the quote currency. */
static void join_pair(const char *arg, const char *base, const char *quote, char *dst, size_t n)
{
    char a[24];
    snprintf(a, sizeof a, "%s", arg);
    char *sep = strchr(a, '|'), *suf = sep ? strchr(sep + 1, '|') : NULL;
    if (!sep || !suf) {
        snprintf(dst, n, "%s%s", base, quote);
        return;
    }
    *sep++ = 0;
    *suf++ = 0;
    snprintf(dst, n, "%s%s%s%s%s", a, base, sep, quote, suf);
}

static int pair(const md_symbol_class *c, const char *arg, char *dst, size_t n)
{
    join_pair(arg, c->base, c->quote, dst, n);
    return 1;
}

/* Binance (Finnhub's crypto exchange) quotes in USDT, not USD. */
static int binance(const md_symbol_class *c, const char *arg, char *dst, size_t n)
{
    join_pair(arg, c->base, strcmp(c->quote, "USD") == 0 ? "USDT" : c->quote, dst, n);
    return 1;
}

/* arg: "polygon" or "twelvedata", the column of `indices`; 0 when the index is unknown. */
static int index_name(const md_symbol_class *c, const char *arg, char *dst, size_t n)
{
    for (size_t i = 0; i < MD_ARRAY_LEN(indices); i++) {
        if (strcmp(indices[i].canonical, c->canonical) != 0) continue;
        snprintf(dst, n, "%s",
                 strcmp(arg, "polygon") == 0 ? indices[i].polygon : indices[i].twelvedata);
        return 1;
    }
    return 0;
}

/* How each provider spells each class it offers: quote / bars say for which calls. */
static const struct rule {
    int source, asset;
    int quote, bars;
    spell_fn fn;
    const char *arg;
} rules[] = {
    {MD_SRC_YAHOO, MD_AS_BIT_EQUITY, 1, 1, share_dash, NULL},
    {MD_SRC_YAHOO, MD_AS_BIT_ETF, 1, 1, share_dash, NULL},
    {MD_SRC_YAHOO, MD_AS_BIT_INDEX, 1, 1, as_is, NULL},
    {MD_SRC_YAHOO, MD_AS_BIT_FX, 1, 1, pair, "||=X"},
    {MD_SRC_YAHOO, MD_AS_BIT_CRYPTO, 1, 1, pair, "|-|"},
    {MD_SRC_ALPHAVANTAGE, MD_AS_BIT_EQUITY, 1, 1, as_is, NULL},
    {MD_SRC_ALPHAVANTAGE, MD_AS_BIT_ETF, 1, 1, as_is, NULL},
    {MD_SRC_FINNHUB, MD_AS_BIT_EQUITY, 1, 1, as_is, NULL},
    {MD_SRC_FINNHUB, MD_AS_BIT_ETF, 1, 1, as_is, NULL},
    {MD_SRC_FINNHUB, MD_AS_BIT_FX, 0, 1, pair, "OANDA:|_|"},
    {MD_SRC_FINNHUB, MD_AS_BIT_CRYPTO, 0, 1, binance, "BINANCE:||"},
    {MD_SRC_POLYGON, MD_AS_BIT_EQUITY, 1, 1, as_is, NULL},
    {MD_SRC_POLYGON, MD_AS_BIT_ETF, 1, 1, as_is, NULL},
    {MD_SRC_POLYGON, MD_AS_BIT_INDEX, 1, 1, index_name, "polygon"},
    {MD_SRC_POLYGON, MD_AS_BIT_FX, 1, 1, pair, "C:||"},
    {MD_SRC_POLYGON, MD_AS_BIT_CRYPTO, 1, 1, pair, "X:||"},
    {MD_SRC_TWELVEDATA, MD_AS_BIT_EQUITY, 1, 1, as_is, NULL},
    {MD_SRC_TWELVEDATA, MD_AS_BIT_ETF, 1, 1, as_is, NULL},
    {MD_SRC_TWELVEDATA, MD_AS_BIT_INDEX, 1, 1, index_name, "twelvedata"},
    {MD_SRC_TWELVEDATA, MD_AS_BIT_FX, 1, 1, pair, "|/|"},
    {MD_SRC_TWELVEDATA, MD_AS_BIT_CRYPTO, 1, 1, pair, "|/|"},
};

/* -- life cycle ---------------------------------------------------------------------------- */

int md_symbolmap_new(const md_config *cfg, md_symbolmap **out, md_error *err)
{
    md_symbolmap *m = md_calloc(1, sizeof *m);
    if (cfg) {
        int rc = md_symconf_parse(cfg, &m->conf, err);
        if (rc) {
            md_free(m);
            return rc;
        }
    }
    *out = m;
    return 0;
}

void md_symbolmap_free(md_symbolmap *m)
{
    if (!m) return;
    md_symconf_deinit(&m->conf);
    md_free(m);
}

/* -- classification ------------------------------------------------------------------------ */

static void set_pair(md_symbol_class *c, int asset, const char *b, size_t bl, const char *q,
                     size_t ql)
{
    c->asset = asset;
    snprintf(c->base, sizeof c->base, "%.*s", (int)bl, b);
    snprintf(c->quote, sizeof c->quote, "%.*s", (int)ql, q);
    if (asset == MD_AS_BIT_FX)
        snprintf(c->canonical, sizeof c->canonical, "%.10s%.10s", c->base, c->quote);
    else
        snprintf(c->canonical, sizeof c->canonical, "%.10s-%.9s", c->base, c->quote);
}

/* The class from the spelling alone. */
static void detect(md_symbol_class *c)
{
    const char *s = c->symbol;
    size_t len = strlen(s);
    snprintf(c->canonical, sizeof c->canonical, "%s", s);
    c->asset = MD_AS_BIT_EQUITY;
    c->base[0] = c->quote[0] = 0;
    if (s[0] == '^') {
        c->asset = MD_AS_BIT_INDEX;
        return;
    }
    size_t core = len;
    if (len == 8 && strcmp(s + 6, "=X") == 0) core = 6; /* Yahoo's EURUSD=X */
    if (core == 6 && alnum_run(s, 6) && is_fiat(s, 3) && is_fiat(s + 3, 3)) {
        set_pair(c, MD_AS_BIT_FX, s, 3, s + 3, 3);
        return;
    }
    const char *sep = strpbrk(s, "/-");
    if (sep && !strpbrk(sep + 1, "/-")) {
        size_t bl = (size_t)(sep - s), ql = len - bl - 1;
        const char *q = sep + 1;
        if (bl >= 2 && bl <= 10 && alnum_run(s, bl) && alnum_run(q, ql) && is_quote_ccy(q, ql)) {
            set_pair(c, is_fiat(s, bl) && is_fiat(q, ql) ? MD_AS_BIT_FX : MD_AS_BIT_CRYPTO, s, bl,
                     q, ql);
            return;
        }
        /* Yahoo's share class BRK-B is the equity BRK.B */
        if (*sep == '-' && ql == 1 && strchr("ABCDEFK", *q) && bl >= 1 &&
            isalpha((unsigned char)s[0])) {
            snprintf(c->canonical, sizeof c->canonical, "%.*s.%c", (int)bl, s, *q);
            return;
        }
    }
}

void md_symbolmap_classify(const md_symbolmap *m, const char *symbol, md_symbol_class *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->symbol, sizeof out->symbol, "%s", symbol);
    detect(out);
    const md_symconf_entry *e = m ? md_symconf_find(&m->conf, out->symbol) : NULL;
    if (!e && m && strcmp(out->canonical, out->symbol) != 0)
        e = md_symconf_find(&m->conf, out->canonical);
    if (!e) return;
    out->configured = 1;
    if (e->asset_class >= 0 && e->asset_class != out->asset) {
        out->asset = e->asset_class;
        if (out->asset != MD_AS_BIT_FX && out->asset != MD_AS_BIT_CRYPTO) {
            out->base[0] = out->quote[0] = 0;
            snprintf(out->canonical, sizeof out->canonical, "%s", out->symbol);
        }
    }
}

/* -- spelling ------------------------------------------------------------------------------ */

int md_symbolmap_spell(const md_symbolmap *m, int source, const md_symbol_class *c, int quote,
                       char *dst, size_t n, char *why, size_t wn)
{
    int p = md_symconf_provider_of(source);
    if (why && wn) why[0] = 0;
    if (p < 0) { /* replay, simulator: their own names */
        snprintf(dst, n, "%s", c->symbol);
        return 1;
    }
    const char *cls = md_asset_class_name(c->asset);
    const md_source_info *info = md_source_find_id(source);
    if (info && !(info->assets & (1u << c->asset))) {
        if (why && wn) snprintf(why, wn, "does not offer %s", cls);
        return 0;
    }
    const md_symconf_entry *e = m ? md_symconf_find(&m->conf, c->symbol) : NULL;
    if (!e && m) e = md_symconf_find(&m->conf, c->canonical);
    if (e && (e->set & (1u << p))) { /* the configuration's word is final */
        if (!e->spelling[p][0]) {
            if (why && wn)
                snprintf(why, wn, "does not offer %s (symbols.%s)", c->symbol, c->symbol);
            return 0;
        }
        snprintf(dst, n, "%s", e->spelling[p]);
        return 1;
    }
    for (size_t i = 0; i < MD_ARRAY_LEN(rules); i++) {
        const struct rule *r = &rules[i];
        if (r->source != source || r->asset != c->asset) continue;
        if (!(quote ? r->quote : r->bars)) {
            if (why && wn)
                snprintf(why, wn, "does not offer %s %s", cls, quote ? "quotes" : "bars");
            return 0;
        }
        if (!r->fn(c, r->arg, dst, n)) {
            if (why && wn)
                snprintf(why, wn, "has no known spelling of %s (set symbols.%s.<provider>)",
                         c->symbol, c->symbol);
            return 0;
        }
        return 1;
    }
    if (why && wn) snprintf(why, wn, "does not offer %s", cls);
    return 0;
}
