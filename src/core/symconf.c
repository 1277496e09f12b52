/* symconf.c - the reader of the `symbols:` section (symconf.h). The configuration hands
 * it the section as lines "LINE<TAB>SYMBOL<TAB>KEY<TAB>VALUE" (config.c, T_MAP rows). */
#include "core/symconf.h"

#include "core/bar.h"
#include "core/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const asset_names[] = {
#define X(id, name) name,
    MD_ASSET_CLASSES(X)
#undef X
};

static const struct {
    const char *name;
    int id;
} providers[] = {
#define MD_PROVIDER(ID, num, nm, ...) {#nm, num},
#include "sources/providers.def"
#undef MD_PROVIDER
};

const char *md_asset_class_name(int bit)
{
    return bit >= 0 && bit < MD_AS_COUNT ? asset_names[bit] : NULL;
}

int md_asset_class_parse(const char *name)
{
    for (int i = 0; i < MD_AS_COUNT; i++)
        if (strcasecmp(name, asset_names[i]) == 0) return i;
    return -1;
}

int md_symconf_provider_index(const char *name)
{
    for (int i = 0; i < MD_SYMCONF_PROVIDERS; i++)
        if (strcasecmp(providers[i].name, name) == 0) return i;
    return -1;
}

int md_symconf_provider_of(int source_id)
{
    for (int i = 0; i < MD_SYMCONF_PROVIDERS; i++)
        if (providers[i].id == source_id) return i;
    return -1;
}

/* "-", "", "~" and "null" say "not offered". */
static int means_none(const char *v)
{
    return !*v || strcmp(v, "-") == 0 || strcmp(v, "~") == 0 || strcasecmp(v, "null") == 0;
}

static int printable_word(const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f) return 0;
    return 1;
}

static void known_keys(char *dst, size_t n)
{
    snprintf(dst, n, "class, calendar");
    for (int i = 0; i < MD_SYMCONF_PROVIDERS; i++) {
        strncat(dst, ", ", n - strlen(dst) - 1);
        strncat(dst, providers[i].name, n - strlen(dst) - 1);
    }
}

static md_symconf_entry *entry_for(md_symconf *c, const char *symbol, size_t line)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->v[i].symbol, symbol) == 0) return &c->v[i];
    c->v = md_realloc(c->v, (c->n + 1) * sizeof *c->v);
    md_symconf_entry *e = &c->v[c->n++];
    memset(e, 0, sizeof *e);
    snprintf(e->symbol, sizeof e->symbol, "%s", symbol);
    e->asset_class = -1;
    e->line = line;
    return e;
}

/* One line: fields[0] the line number, then the keys, the value last. */
static int apply(md_symconf *c, const char *file, char **f, int nf, md_error *err)
{
    const char *line = f[0];
    if (nf < 3)
        return md_error_set(err, MD_ECONFIG, "%s:%s: symbols: expects a mapping of symbols", file,
                            line);
    char sym[MD_SYMBOL_MAX + 1];
    md_error e;
    if (md_symbol_normalize_str(f[1], sym, &e) != 0)
        return md_error_set(err, MD_ECONFIG, "%s:%s: symbols.%.40s: %s", file, line, f[1], e.msg);
    if (nf == 3)
        return md_error_set(err, MD_ECONFIG,
                            "%s:%s: symbols.%s: expects a mapping (class, calendar or a "
                            "provider's spelling)",
                            file, line, sym);
    const char *key = f[2], *val = f[nf - 1];
    if (nf > 4)
        return md_error_set(err, MD_ECONFIG,
                            "%s:%s: symbols.%s.%.40s: expects a value, not a mapping", file, line,
                            sym, key);
    md_symconf_entry *en = entry_for(c, sym, (size_t)strtoul(line, NULL, 10));
    if (strcasecmp(key, "class") == 0) {
        int k = md_asset_class_parse(val);
        if (k < 0)
            return md_error_set(err, MD_ECONFIG,
                                "%s:%s: symbols.%s.class: '%.20s' is not equity, etf, index, fx "
                                "or crypto",
                                file, line, sym, val);
        en->asset_class = k;
        return 0;
    }
    if (strcasecmp(key, "calendar") == 0) {
        if (strlen(val) >= sizeof en->calendar || !printable_word(val))
            return md_error_set(err, MD_ECONFIG,
                                "%s:%s: symbols.%s.calendar: '%.50s' is not a name", file, line,
                                sym, val);
        snprintf(en->calendar, sizeof en->calendar, "%s", val);
        return 0;
    }
    int p = md_symconf_provider_index(key);
    if (p < 0) {
        char known[256];
        known_keys(known, sizeof known);
        return md_error_set(err, MD_ECONFIG, "%s:%s: symbols.%s.%.40s: unknown key (known: %s)",
                            file, line, sym, key, known);
    }
    if (!means_none(val) && (strlen(val) >= MD_SYMCONF_SPELLING_MAX || !printable_word(val)))
        return md_error_set(err, MD_ECONFIG,
                            "%s:%s: symbols.%s.%s: '%.60s' is not a symbol (printable, no spaces, "
                            "at most %d bytes)",
                            file, line, sym, key, val, MD_SYMCONF_SPELLING_MAX - 1);
    snprintf(en->spelling[p], MD_SYMCONF_SPELLING_MAX, "%s", means_none(val) ? "" : val);
    en->set |= 1u << p;
    return 0;
}

int md_symconf_parse(const md_config *cfg, md_symconf *out, md_error *err)
{
    md_symconf c = {NULL, 0};
    const char *file = cfg->config_path ? cfg->config_path : "mdagent.yaml";
    const char *text = cfg->symbols ? cfg->symbols : "";
    int rc = 0;
    for (const char *p = text; *p && rc == 0;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        char *line = md_strndup(p, len);
        p = eol ? eol + 1 : p + len;
        char *f[8];
        int nf = 0;
        for (char *s = line; nf < 8;) {
            f[nf++] = s;
            char *tab = strchr(s, '\t');
            if (!tab) break;
            *tab = 0;
            s = tab + 1;
        }
        if (nf > 1) rc = apply(&c, file, f, nf, err);
        md_free(line);
    }
    if (rc) {
        md_free(c.v);
        return rc;
    }
    *out = c;
    return 0;
}

void md_symconf_deinit(md_symconf *c)
{
    if (!c) return;
    md_free(c->v);
    c->v = NULL;
    c->n = 0;
}

const md_symconf_entry *md_symconf_find(const md_symconf *c, const char *symbol)
{
    for (size_t i = 0; c && i < c->n; i++)
        if (strcmp(c->v[i].symbol, symbol) == 0) return &c->v[i];
    return NULL;
}
