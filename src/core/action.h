/* action.h - corporate actions: splits and cash dividends, and the currency units of a
 * quote.
 *
 * Bars are stored raw (as traded); actions are what turns them into a split- or
 * dividend-adjusted series on read (analytics/adjust.h). Every source that reports an action
 * keeps its own record, keyed by (symbol, type, ex_date, source), so two providers that
 * disagree are both kept and compared (query/actions.c); a record of the same key replaces
 * the older one (a correction).
 *
 * Conventions, whatever the provider said:
 *   ex_date      00:00 UTC of the ex-date (the first session that trades without the
 *                right: on or after it, prices are post-split / ex-dividend)
 *   split        numerator new shares for denominator old ones: AAPL's 4-for-1 of
 *                2020-08-31 is 4/1, a 1-for-10 reverse split 1/10; prices before the
 *                ex-date divided by numerator/denominator are comparable with those after
 *   dividend     amount per share as paid on that date (NOT adjusted for later splits), in
 *                currency (ISO 4217, major unit: GBP, never GBp); pay_date 0 when unknown */
#ifndef MD_CORE_ACTION_H
#define MD_CORE_ACTION_H

#include "core/error.h"
#include "core/mem.h"
#include "core/symbol.h"

#include <stddef.h>
#include <stdint.h>

typedef enum md_action_type {
    MD_ACT_SPLIT = 1,
    MD_ACT_DIVIDEND = 2,
} md_action_type;

#define MD_CURRENCY_MAX 8

typedef struct md_action {
    char symbol[MD_SYMBOL_MAX + 1];
    uint8_t type;   /* md_action_type */
    uint8_t source; /* md_source_id of who reported it */
    int64_t ex_date;
    double numerator, denominator;  /* splits; 0 for dividends */
    double amount;                  /* dividends; 0 for splits */
    char currency[MD_CURRENCY_MAX]; /* dividends: ISO 4217, "" when unknown */
    int64_t pay_date;               /* dividends: 00:00 UTC, 0 when unknown */
} md_action;

MD_VEC_TYPE(md_action_vec, md_action);

void md_action_vec_init(md_action_vec *av);
void md_action_vec_deinit(md_action_vec *av);
void md_action_vec_push(md_action_vec *av, const md_action *a);
/* Sorts by (ex_date, type, source) and keeps the last of equal keys. */
void md_action_vec_sort_dedup(md_action_vec *av);

/* "split" / "dividend"; NULL for anything else. */
const char *md_action_type_name(int type);
/* MD_ACT_* for a name, or -1. */
int md_action_type_parse(const char *s);

/* The bounds of a split's ratio numerator / denominator (md_action_validate). */
#define MD_SPLIT_RATIO_MIN 1e-9
#define MD_SPLIT_RATIO_MAX 1e9

/* Checks an action's values (the ingest rules): a known type, an ex_date at 00:00 UTC,
 * splits with finite numerator and denominator > 0 and a ratio other than 1 within
 * MD_SPLIT_RATIO_MIN..MD_SPLIT_RATIO_MAX, dividends
 * with a finite amount > 0 and a currency of 3 letters (or none). MD_EPARAM naming the
 * field. */
int md_action_validate(const md_action *a, md_error *err);

/* The price ratio of a split (numerator / denominator); 1 for anything else. */
double md_action_split_ratio(const md_action *a);

/* 1 when a and b describe the same event with the same values (ratios within 1e-9,
 * amounts within 0.5%): used to tell agreeing sources from disagreeing ones. */
int md_action_same_values(const md_action *a, const md_action *b);

/* -- currency units ---------------------------------------------------------------------- */

/* The major currency and the factor to it of a code as providers report it: minor units
 * quoted by exchanges ("GBp" and "GBX" pence -> "GBP", 100; "ZAc"/"ZAC" cents -> "ZAR";
 * "ILA" agorot -> "ILS") and any other code upper-cased with factor 1. *factor: price in
 * the major unit = reported price / factor. Returns 0, or -1 for a code that is not 3
 * letters. */
int md_currency_major(const char *code, char major[MD_CURRENCY_MAX], double *factor);

#endif
