/* symconf.h - the `symbols:` section of the configuration: settings per symbol, read in
 * this one place (the source manager's symbol map and the exchange calendars both use the
 * result).
 *
 *   symbols:
 *     BRK.B:  {yahoo: BRK-B}                                 # one provider's spelling
 *     ^GSPC:  {class: index, polygon: "I:SPX", finnhub: "-"} # "-": not offered there
 *     EURUSD: {class: fx, calendar: FX}                      # calendar: see below
 *
 * Each key under `symbols` is a symbol as the API takes it (core/symbol.h; upper-cased).
 * Its keys:
 *   class       the asset class (equity, etf, index, fx, crypto), when the detection of
 *               sources/symbolmap.h would get it wrong
 *   <provider>  one per sources/providers.def row: that provider's own spelling of the
 *               symbol, or "-" (also "", "~", "null") when that provider does not offer it
 *   calendar    the symbol's exchange calendar: read by the exchange calendars, kept here
 *               as text so that the section has one reader; a sibling of the others
 * Anything else is an error naming the file, the line and the key. The configuration keeps
 * the section as lines (a T_MAP row, config.c); md_config_validate runs this reader at
 * start-up, so a mistake stops the agent before it serves. No I/O. */
#ifndef MD_CORE_SYMCONF_H
#define MD_CORE_SYMCONF_H

#include "core/config.h"
#include "core/error.h"
#include "core/symbol.h"

#include <stddef.h>

/* The asset classes, one X(ID, "name") each; MD_AS_BIT_<ID> is its number, MD_AS_<ID> its
 * bit (sources/providers.def lists a provider's classes as bits). */
#define MD_ASSET_CLASSES(X)                                                                        \
    X(EQUITY, "equity")                                                                            \
    X(ETF, "etf")                                                                                  \
    X(INDEX, "index")                                                                              \
    X(FX, "fx")                                                                                    \
    X(CRYPTO, "crypto")

enum {
#define X(id, name) MD_AS_BIT_##id,
    MD_ASSET_CLASSES(X)
#undef X
        MD_AS_COUNT
};
enum {
#define X(id, name) MD_AS_##id = 1u << MD_AS_BIT_##id,
    MD_ASSET_CLASSES(X)
#undef X
};
/* "equity", ...; NULL past the last. */
const char *md_asset_class_name(int bit);
/* The MD_AS_BIT_* of a name (case-insensitive), -1 when unknown. */
int md_asset_class_parse(const char *name);

/* The HTTP providers of sources/providers.def, in its order. */
enum {
    MD_SYMCONF_PROVIDERS = 0
#define MD_PROVIDER(ID, num, ...) +1
#include "sources/providers.def"
#undef MD_PROVIDER
};
/* A provider's row index in providers.def (by name, case-insensitive), -1 when none. */
int md_symconf_provider_index(const char *name);
/* The same by md_source_id; -1 for the other sources (csv, replay, ...). */
int md_symconf_provider_of(int source_id);

#define MD_SYMCONF_SPELLING_MAX 48

typedef struct md_symconf_entry {
    char symbol[MD_SYMBOL_MAX + 1];
    int asset_class; /* MD_AS_BIT_*, -1 when not given */
    /* per providers.def row: the spelling when bit i of `set` is on ("" = not offered) */
    char spelling[MD_SYMCONF_PROVIDERS][MD_SYMCONF_SPELLING_MAX];
    unsigned set;
    char calendar[48]; /* "" when not given */
    size_t line;       /* where the symbol's entry starts in the file */
} md_symconf_entry;

typedef struct md_symconf {
    md_symconf_entry *v;
    size_t n;
} md_symconf;

/* Reads cfg->symbols into out (zeroed first; empty when the section is absent). MD_ECONFIG
 * "FILE:LINE: symbols.SYM.KEY: reason" for an unknown key, a bad class, a bad symbol or a
 * spelling that is not a printable word of at most 47 bytes. out is the caller's
 * (md_symconf_deinit), and untouched on error. */
int md_symconf_parse(const md_config *cfg, md_symconf *out, md_error *err);
void md_symconf_deinit(md_symconf *c);
/* The entry of an (upper-case) symbol, NULL when the section does not name it. */
const md_symconf_entry *md_symconf_find(const md_symconf *c, const char *symbol);

#endif
