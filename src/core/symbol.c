/* symbol.c - symbol normalisation. */
#include "core/symbol.h"

#include <string.h>

static int allowed(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '^' || c == '=' || c == '/' || c == '_';
}

int md_symbol_normalize(const char *in, size_t len, char *out, md_error *err)
{
    if (len == 0) return md_error_set(err, MD_ESYMBOL, "empty symbol");
    if (len > MD_SYMBOL_MAX)
        return md_error_set(err, MD_ESYMBOL, "symbol '%.*s...' is longer than %d characters",
                            MD_SYMBOL_MAX, in, MD_SYMBOL_MAX);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (!allowed(c)) {
            if (c >= 0x20 && c < 0x7f)
                return md_error_set(err, MD_ESYMBOL,
                                    "invalid character '%c' in symbol '%.*s' "
                                    "(allowed: A-Z a-z 0-9 . - ^ = / _)",
                                    c, (int)len, in);
            return md_error_set(err, MD_ESYMBOL,
                                "invalid byte 0x%02x in symbol (allowed: A-Z a-z 0-9 . - ^ = / _)",
                                c);
        }
        out[i] = (char)((c >= 'a' && c <= 'z') ? c - 32 : c);
    }
    out[len] = 0;
    return 0;
}

int md_symbol_normalize_str(const char *in, char *out, md_error *err)
{
    return md_symbol_normalize(in, strlen(in), out, err);
}
