/* validate.h - hard validation rules for bars and quotes (no I/O).
 *
 * Every bar and quote, whatever its origin (provider, CSV, POST /ingest), passes through
 * md_validate_bar()/md_validate_quote() before it is stored. A failure names the rule and
 * the values that broke it. */
#ifndef MD_QUALITY_VALIDATE_H
#define MD_QUALITY_VALIDATE_H

#include "core/bar.h"
#include "core/error.h"

#include <stdint.h>

typedef enum md_rule {
#define MD_RULE(id, code) MD_RULE_##id,
#include "quality/rules.def"
#undef MD_RULE
    MD_RULE_COUNT
} md_rule;

const char *md_rule_code(md_rule r); /* "high_below_low" */

#define MD_FUTURE_TOLERANCE_S 300 /* default clock tolerance for future timestamps */

/* Checks one bar of interval iv at wall-clock time now. Returns 0, or MD_EBAR with
 * *rule set and err->msg saying why ("high 9.5 < low 10"). rule may be NULL. */
int md_validate_bar(const md_bar *b, md_interval iv, int64_t now, int64_t future_tol_s,
                    md_rule *rule, md_error *err);
/* Same for a quote: finite positive price, non-negative volume, bid <= ask when both. */
int md_validate_quote(const md_quote *q, int64_t now, int64_t future_tol_s, md_rule *rule,
                      md_error *err);

#endif
