/* symbolmap.h - one canonical symbol, each provider's spelling of it.
 *
 * Symbols are stored and answered as the API got them; the providers each spell an
 * instrument their own way. The map classifies a symbol (its asset class and, for FX and
 * crypto, its two currencies) and spells it for one provider, or says that the provider
 * does not offer it, and failover then skips that provider:
 *
 *   canonical  class   yahoo     alphavantage polygon   twelvedata finnhub
 *   BRK.B      equity  BRK-B     BRK.B        BRK.B     BRK.B      BRK.B
 *   ^GSPC      index   ^GSPC     -            I:SPX     SPX        -
 *   EURUSD     fx      EURUSD=X  -            C:EURUSD  EUR/USD    OANDA:EUR_USD (bars)
 *   BTC-USD    crypto  BTC-USD   -            X:BTCUSD  BTC/USD    BINANCE:BTCUSDT (bars)
 *
 * ("-": not offered; Finnhub's /quote is for stocks, so FX and crypto are bars only.)
 *
 * Detection: '^' starts an index; six letters that are two ISO 4217 codes are FX, and so
 * is such a pair written EUR/USD, EUR-USD or EURUSD=X (canonical EURUSD); BASE-QUOTE or
 * BASE/QUOTE with a fiat or stable-coin QUOTE is crypto (canonical BTC-USD); anything else
 * is an equity, whose share class is written with '.' (BRK.B; Yahoo's BRK-B is read as
 * BRK.B). Indices follow no rule: the names the providers use for the common US indices
 * are in a table here, any other index needs its spelling in the configuration. The
 * `symbols:` section (core/symconf.h) overrides the class and any provider's spelling,
 * and wins over everything here.
 *
 * The map is read-only once made: any number of threads may use it. */
#ifndef MD_SOURCES_SYMBOLMAP_H
#define MD_SOURCES_SYMBOLMAP_H

#include "core/config.h"
#include "core/error.h"
#include "core/symconf.h"

#include <stddef.h>

typedef struct md_symbolmap md_symbolmap;

/* A map with the `symbols:` overrides of cfg (NULL: none). MD_ECONFIG as
 * md_symconf_parse. *out is the caller's (md_symbolmap_free). */
int md_symbolmap_new(const md_config *cfg, md_symbolmap **out, md_error *err);
void md_symbolmap_free(md_symbolmap *m);

/* What a symbol is. */
typedef struct md_symbol_class {
    char symbol[MD_SYMBOL_MAX + 1];    /* as asked (upper case) */
    char canonical[MD_SYMBOL_MAX + 1]; /* its canonical form (above) */
    int asset;                         /* MD_AS_BIT_* */
    char base[12], quote[12];          /* FX and crypto: the two currencies, else "" */
    int configured;                    /* the configuration names the symbol */
} md_symbol_class;

/* Classifies an upper-case symbol (core/symbol.h); never fails (equity when in doubt). */
void md_symbolmap_classify(const md_symbolmap *m, const char *symbol, md_symbol_class *out);

/* Spells c for the source `source` (md_source_id) and the kind of call (quote = 1 for the
 * latest price, 0 for bars). Returns 1 with dst (n bytes) set, or 0 when that source does
 * not offer it, with the reason in why (wn bytes, may be NULL), e.g. "does not offer fx
 * quotes". Sources other than the HTTP providers (replay, simulator) take the symbol as
 * asked. */
int md_symbolmap_spell(const md_symbolmap *m, int source, const md_symbol_class *c, int quote,
                       char *dst, size_t n, char *why, size_t wn);

#endif
