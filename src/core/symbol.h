/* symbol.h - symbol validation and normalisation.
 *
 * A symbol is 1-20 characters of A-Z a-z 0-9 . - ^ = / _ and is stored upper case
 * ("brk.b" -> "BRK.B", "^GSPC", "EURUSD=X", "BTC-USD"). */
#ifndef MD_CORE_SYMBOL_H
#define MD_CORE_SYMBOL_H

#include "core/error.h"

#include <stddef.h>

#define MD_SYMBOL_MAX 20

typedef struct md_symbol {
    char s[MD_SYMBOL_MAX + 1];
} md_symbol;

/* Validates in[0..len) and writes its upper-case form into out (>= MD_SYMBOL_MAX + 1).
 * MD_ESYMBOL with a message quoting the input otherwise. */
int md_symbol_normalize(const char *in, size_t len, char *out, md_error *err);
int md_symbol_normalize_str(const char *in, char *out, md_error *err);

#endif
