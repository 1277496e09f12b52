/* action.c - corporate action records, their checks, and currency units. */
#include "core/action.h"

#include "core/mem.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

MD_VEC_LIFECYCLE(md_action_vec)

void md_action_vec_push(md_action_vec *av, const md_action *a)
{
    MD_ARRAY_GROW(av->v, av->n, av->cap, 8);
    av->v[av->n++] = *a;
}

static int cmp_key(const md_action *a, const md_action *b)
{
    if (a->ex_date != b->ex_date) return a->ex_date < b->ex_date ? -1 : 1;
    if (a->type != b->type) return a->type < b->type ? -1 : 1;
    if (a->source != b->source) return a->source < b->source ? -1 : 1;
    return 0;
}

/* Insertion sort: stable, so the last of equal keys stays last (few actions per symbol). */
void md_action_vec_sort_dedup(md_action_vec *av)
{
    for (size_t i = 1; i < av->n; i++) {
        md_action x = av->v[i];
        size_t j = i;
        while (j > 0 && cmp_key(&av->v[j - 1], &x) > 0) {
            av->v[j] = av->v[j - 1];
            j--;
        }
        av->v[j] = x;
    }
    size_t w = 0;
    for (size_t i = 0; i < av->n; i++) {
        if (w > 0 && cmp_key(&av->v[w - 1], &av->v[i]) == 0)
            av->v[w - 1] = av->v[i];
        else
            av->v[w++] = av->v[i];
    }
    av->n = w;
}

const char *md_action_type_name(int type)
{
    switch (type) {
    case MD_ACT_SPLIT: return "split";
    case MD_ACT_DIVIDEND: return "dividend";
    }
    return NULL;
}

int md_action_type_parse(const char *s)
{
    if (s && strcmp(s, "split") == 0) return MD_ACT_SPLIT;
    if (s && strcmp(s, "dividend") == 0) return MD_ACT_DIVIDEND;
    return -1;
}

int md_action_validate(const md_action *a, md_error *err)
{
    if (!md_action_type_name(a->type))
        return md_error_set(err, MD_EPARAM, "type: must be split or dividend");
    if (a->ex_date % 86400 != 0)
        return md_error_set(err, MD_EPARAM, "ex_date: must be a date (YYYY-MM-DD)");
    if (a->type == MD_ACT_SPLIT) {
        if (!isfinite(a->numerator) || !(a->numerator > 0))
            return md_error_set(err, MD_EPARAM, "numerator: must be a number > 0");
        if (!isfinite(a->denominator) || !(a->denominator > 0))
            return md_error_set(err, MD_EPARAM, "denominator: must be a number > 0");
        if (a->numerator == a->denominator)
            return md_error_set(err, MD_EPARAM, "numerator: a split of 1 for 1 changes nothing");
        /* a ratio that under- or overflows (1e-300 for 1e300) or is absurd would make every
         * adjusted price before it 0, inf or NaN: no real split is beyond a billion to one */
        double r = a->numerator / a->denominator;
        if (!(r >= MD_SPLIT_RATIO_MIN && r <= MD_SPLIT_RATIO_MAX))
            return md_error_set(err, MD_EPARAM,
                                "numerator: the ratio numerator/denominator %g is not between "
                                "1e-9 and 1e9",
                                r);
        return 0;
    }
    if (!isfinite(a->amount) || !(a->amount > 0))
        return md_error_set(err, MD_EPARAM, "amount: must be a number > 0");
    size_t cl = strlen(a->currency);
    if (cl != 0 && cl != 3)
        return md_error_set(err, MD_EPARAM, "currency: must be a 3-letter code");
    for (size_t i = 0; i < cl; i++)
        if (!isalpha((unsigned char)a->currency[i]))
            return md_error_set(err, MD_EPARAM, "currency: must be a 3-letter code");
    if (a->pay_date % 86400 != 0)
        return md_error_set(err, MD_EPARAM, "pay_date: must be a date (YYYY-MM-DD)");
    return 0;
}

double md_action_split_ratio(const md_action *a)
{
    if (a->type != MD_ACT_SPLIT || !(a->denominator > 0)) return 1;
    return a->numerator / a->denominator;
}

int md_action_same_values(const md_action *a, const md_action *b)
{
    if (a->type != b->type || a->ex_date != b->ex_date) return 0;
    if (a->type == MD_ACT_SPLIT) {
        double x = md_action_split_ratio(a), y = md_action_split_ratio(b);
        return fabs(x - y) <= 1e-9 * fmax(x, y);
    }
    double m = fmax(a->amount, b->amount);
    if (fabs(a->amount - b->amount) > 0.005 * m) return 0;
    return !a->currency[0] || !b->currency[0] || strcmp(a->currency, b->currency) == 0;
}

/* Minor units exchanges quote in: the code as reported, its major currency, the factor. */
static const struct {
    const char *code, *major;
    double factor;
} minor_units[] = {
    {"GBp", "GBP", 100}, {"GBX", "GBP", 100}, {"ZAc", "ZAR", 100},
    {"ZAC", "ZAR", 100}, {"ILA", "ILS", 100},
};

int md_currency_major(const char *code, char major[MD_CURRENCY_MAX], double *factor)
{
    if (!code || strlen(code) != 3) return -1;
    for (int i = 0; i < 3; i++)
        if (!isalpha((unsigned char)code[i])) return -1;
    for (size_t i = 0; i < sizeof minor_units / sizeof minor_units[0]; i++) {
        if (strcmp(code, minor_units[i].code) == 0) {
            memcpy(major, minor_units[i].major, 4);
            *factor = minor_units[i].factor;
            return 0;
        }
    }
    for (int i = 0; i < 3; i++) major[i] = (char)toupper((unsigned char)code[i]);
    major[3] = 0;
    *factor = 1;
    return 0;
}
