/* expr.h - the condition language of screens (docs/pipeline.md): a boolean expression over
 * a bar's fields and indicator values, parsed once (at start-up) and evaluated per symbol.
 * No I/O.
 *
 *   condition := or
 *   or        := and { "or" and }
 *   and       := unary { "and" unary }
 *   unary     := "not" unary | sum [ ("<" | "<=" | ">" | ">=" | "==" | "=" | "!=") sum ]
 *   sum       := product { ("+" | "-") product }
 *   product   := factor { ("*" | "/") factor }
 *   factor    := number | "-" factor | "(" condition ")" | field | indicator
 *   field     := open | high | low | close | volume
 *   indicator := name { ":" number } [ "." output ]      rsi:14, macd:12:26:9.signal, adx.+di
 *
 * (docs/pipeline.md has the user's version.) Types are checked while parsing: arithmetic and
 * comparisons take numbers, and/or/not take conditions, and the whole text is a condition.
 * Keywords and names are case-insensitive. An indicator is a row of indicators.def with its
 * parameters (omitted trailing ones take their defaults); an indicator with several outputs
 * needs ".output". Every term reads the value at the bar the condition is evaluated on.
 *
 * Values that are not defined (an indicator still warming up, a division by zero) make a
 * comparison unknown; and/or/not follow three-valued logic (unknown and false = false,
 * unknown or true = true, not unknown = unknown), and a symbol matches only when the whole
 * condition is true. */
#ifndef MD_ANALYTICS_EXPR_H
#define MD_ANALYTICS_EXPR_H

#include "analytics/indicators.h"
#include "core/buf.h"
#include "core/error.h"

#include <stddef.h>

#define MD_EXPR_MAX_TEXT 1024 /* characters of a condition */
#define MD_EXPR_MAX_NODES 256 /* operators and operands */
#define MD_EXPR_MAX_DEPTH 32  /* nesting of parentheses and operators */
#define MD_EXPR_MAX_TERMS 32  /* distinct fields and indicator outputs */

typedef enum {
    MD_FIELD_OPEN,
    MD_FIELD_HIGH,
    MD_FIELD_LOW,
    MD_FIELD_CLOSE,
    MD_FIELD_VOLUME
} md_field;

/* One value a condition reads: a field of the bar, or one output of an indicator. */
typedef struct md_expr_term {
    int is_field;
    md_field field;
    md_ind_spec spec; /* when !is_field */
    int output;       /* index into spec.def->outputs */
    char name[80];    /* canonical: "close", "rsi:14", "macd:12:26:9.signal" */
} md_expr_term;

typedef struct md_expr md_expr;

/* Parses text. On success *out is owned by the caller (md_expr_free). MD_EPARAM with the
 * column (1-based) and what was expected: "column 9: unknown indicator 'rsx' (known: ...)". */
int md_expr_parse(const char *text, md_expr **out, md_error *err);
void md_expr_free(md_expr *e);

/* The distinct terms, in order of first appearance; *terms points into e. */
size_t md_expr_terms(const md_expr *e, const md_expr_term **terms);

/* Evaluates e with vals[i] the value of term i (NAN when not defined). 1 true, 0 false,
 * -1 unknown. */
int md_expr_eval(const md_expr *e, const double *vals);

/* The condition in canonical form (lower case, indicators with every parameter, fully
 * parenthesised binary operations): parsing it again gives the same condition. */
void md_expr_render(const md_expr *e, md_buf *out);

/* The value of field f of a bar with these columns. */
double md_field_value(md_field f, double open, double high, double low, double close,
                      double volume);

#endif
