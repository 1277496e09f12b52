/* symbols.c - which calendar a symbol trades on (calendar.h, "symbols"): the one resolver
 * the scheduler, quality, /historical's hole finder and GET /symbols/{symbol} share, so
 * that they never disagree about a symbol's market.
 *
 * Order, first match wins:
 *   1. a calendar.symbols pair SYMBOL:CALENDAR (the flat key, settable from the
 *      environment, so it overrides the YAML section);
 *   2. the symbol's `calendar:` key in the `symbols:` section (core/symconf.h);
 *   3. its `class:` there: fx -> 24/5, crypto -> 24/7;
 *   4. the exchange a provider reported for it (Yahoo's exchangeName, Polygon's primary
 *      exchange, Finnhub's and Twelve Data's exchange), noted here by the query layer when
 *      it stores the symbol's reference data (sources/ sits above calendar/, so the report
 *      comes down as a name, mapped by md_cal_for_exchange); the latest report stands, and
 *      a provider that says nothing leaves the earlier one;
 *   5. md_cal_default_for (its spelling).
 * What the user configured always wins over what a provider says. */
#include "calendar/calendar_int.h"

#include "core/dict.h"
#include "core/mem.h"
#include "core/symbol.h"
#include "core/symconf.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

typedef struct pair {
    char symbol[MD_SYMBOL_MAX + 1];
    const md_cal *cal;
} pair;

struct md_cal_map {
    pair *v;
    size_t n;
    md_symconf sc;
};

const char *md_cal_from_name(md_cal_from f)
{
    static const char *names[] = {"config", "symbols", "class", "provider", "default"};
    _Static_assert(MD_ARRAY_LEN(names) == MD_CAL_FROM_DEFAULT + 1, "a name per md_cal_from");
    return (unsigned)f < MD_ARRAY_LEN(names) ? names[f] : "default";
}

/* -- what providers reported ------------------------------------------------------------ */

const md_cal *md_cal_for_exchange(const char *name)
{
    if (!name) return NULL;
    while (isspace((unsigned char)*name)) name++;
    char s[48];
    size_t n = strlen(name);
    while (n > 0 && isspace((unsigned char)name[n - 1])) n--;
    if (n == 0 || n >= sizeof s) return NULL;
    memcpy(s, name, n);
    s[n] = 0;
    const md_cal *c = md_cal_find(s);
    if (c) return c;
    /* "NASDAQ NMS - GLOBAL MARKET" -> "NASDAQ NMS"; "NEW YORK STOCK EXCHANGE, INC." -> ... */
    char *cut = strstr(s, " - ");
    if (!cut) cut = strchr(s, ',');
    if (cut) {
        *cut = 0;
        if ((c = md_cal_find(s)) != NULL) return c;
    }
    char *sp = strchr(s, ' ');
    if (sp) {
        *sp = 0;
        c = md_cal_find(s);
    }
    return c;
}

static pthread_rwlock_t reported_lock = PTHREAD_RWLOCK_INITIALIZER;
static md_dict reported; /* symbol -> const md_cal * */
static int reported_init;

const md_cal *md_cal_note_reported(const char *symbol, const char *exchange, int *changed)
{
    const md_cal *c = md_cal_for_exchange(exchange);
    if (changed) *changed = 0;
    if (!c || !symbol || !*symbol) return NULL;
    pthread_rwlock_wrlock(&reported_lock);
    if (!reported_init) {
        md_dict_init(&reported, sizeof c);
        reported_init = 1;
    }
    int created;
    const md_cal **v = md_dict_put(&reported, symbol, strlen(symbol), &created);
    if (changed) *changed = created || *v != c;
    *v = c;
    pthread_rwlock_unlock(&reported_lock);
    return c;
}

void md_cal_reported_clear(void)
{
    pthread_rwlock_wrlock(&reported_lock);
    if (reported_init) md_dict_clear(&reported);
    pthread_rwlock_unlock(&reported_lock);
}

static const md_cal *reported_find(const char *symbol)
{
    const md_cal *c = NULL;
    pthread_rwlock_rdlock(&reported_lock);
    if (reported_init) {
        const md_cal **v = md_dict_find(&reported, symbol, strlen(symbol));
        if (v) c = *v;
    }
    pthread_rwlock_unlock(&reported_lock);
    return c;
}

static int read_pairs(md_cal_map *m, const char *list, md_error *err)
{
    char **items;
    size_t n = md_config_split_list(list, &items);
    int rc = 0;
    m->v = md_calloc(n ? n : 1, sizeof *m->v);
    for (size_t k = 0; k < n && rc == 0; k++) {
        char *colon = strrchr(items[k], ':');
        const md_cal *c = colon ? md_cal_find(colon + 1) : NULL;
        if (!c) {
            rc = md_error_set(err, MD_ECONFIG,
                              "calendar.symbols: '%s' is not SYMBOL:CALENDAR "
                              "with a known calendar (GET /calendars)",
                              items[k]);
            break;
        }
        *colon = 0;
        md_error e;
        if (md_symbol_normalize_str(items[k], m->v[m->n].symbol, &e) != 0) {
            rc = md_error_set(err, MD_ECONFIG, "calendar.symbols: %s", e.msg);
            break;
        }
        m->v[m->n++].cal = c;
    }
    md_config_free_list(items, n);
    return rc;
}

int md_cal_map_new(const md_config *cfg, md_cal_map **out, md_error *err)
{
    md_cal_map *m = md_calloc(1, sizeof *m);
    int rc = cfg ? read_pairs(m, cfg->calendar_symbols, err) : 0;
    if (rc == 0 && cfg) rc = md_symconf_parse(cfg, &m->sc, err);
    for (size_t i = 0; rc == 0 && i < m->sc.n; i++) {
        const md_symconf_entry *e = &m->sc.v[i];
        if (e->calendar[0] && !md_cal_find(e->calendar))
            rc = md_error_set(err, MD_ECONFIG,
                              "symbols.%s.calendar: '%s' is not a known calendar (GET /calendars)",
                              e->symbol, e->calendar);
    }
    if (rc != 0) {
        md_cal_map_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

void md_cal_map_free(md_cal_map *m)
{
    if (!m) return;
    md_symconf_deinit(&m->sc);
    md_free(m->v);
    md_free(m);
}

const md_cal *md_cal_map_find(const md_cal_map *m, const char *symbol, md_cal_from *from)
{
    md_cal_from f = MD_CAL_FROM_DEFAULT;
    const md_cal *c = NULL;
    for (size_t i = m ? m->n : 0; i-- > 0;) /* the last pair of a symbol wins */
        if (strcmp(m->v[i].symbol, symbol) == 0) {
            c = m->v[i].cal;
            f = MD_CAL_FROM_CONFIG;
            break;
        }
    const md_symconf_entry *e = !c && m ? md_symconf_find(&m->sc, symbol) : NULL;
    if (e && e->calendar[0]) {
        c = md_cal_find(e->calendar);
        f = MD_CAL_FROM_SYMBOLS;
    } else if (e && (e->asset_class == MD_AS_BIT_FX || e->asset_class == MD_AS_BIT_CRYPTO)) {
        c = md_cal_find(e->asset_class == MD_AS_BIT_FX ? "24/5" : "24/7");
        f = MD_CAL_FROM_CLASS;
    }
    if (!c && (c = reported_find(symbol)) != NULL) f = MD_CAL_FROM_PROVIDER;
    if (!c) {
        c = md_cal_default_for(symbol);
        f = MD_CAL_FROM_DEFAULT;
    }
    if (from) *from = f;
    return c;
}

int md_cal_for_symbol(const md_config *cfg, const char *symbol, const md_cal **out,
                      md_cal_from *from, md_error *err)
{
    md_cal_map *m;
    int rc = md_cal_map_new(cfg, &m, err);
    if (rc != 0) return rc;
    *out = md_cal_map_find(m, symbol, from);
    md_cal_map_free(m);
    return 0;
}
