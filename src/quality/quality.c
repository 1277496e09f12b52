/* quality.c - rule ids and codes, finding vectors, parameters. */
#include "quality/quality.h"

#include "core/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *dim_names[] = {"completeness", "accuracy", "timeliness",
                                  "consistency",  "validity", "uniqueness"};
_Static_assert(MD_ARRAY_LEN(dim_names) == MD_QDIM_COUNT, "one name per dimension");

const char *md_qdim_name(md_qdim d)
{
    return (unsigned)d < MD_QDIM_COUNT ? dim_names[d] : "unknown";
}

static const struct {
    const char *code;
    md_qdim dim;
} checks[MD_CHECK_COUNT] = {
#define MD_CHECK(id, code, dim) {code, MD_QDIM_##dim},
#include "quality/checks.def"
#undef MD_CHECK
};

const char *md_qrule_code(int rule)
{
    if (rule >= 0 && rule < (int)MD_RULE_COUNT) return md_rule_code((md_rule)rule);
    if (rule >= (int)MD_RULE_COUNT && rule < MD_QRULE_COUNT)
        return checks[rule - MD_RULE_COUNT].code;
    return "unknown";
}

int md_qrule_parse(const char *code)
{
    for (int r = 0; r < MD_QRULE_COUNT; r++)
        if (strcmp(md_qrule_code(r), code) == 0) return r;
    return -1;
}

md_qdim md_qrule_dim(int rule)
{
    if (rule >= (int)MD_RULE_COUNT && rule < MD_QRULE_COUNT)
        return checks[rule - MD_RULE_COUNT].dim;
    return MD_QDIM_VALIDITY;
}

int md_qrule_is_hard(int rule)
{
    return rule >= 0 && rule < (int)MD_RULE_COUNT;
}

/* -- findings ------------------------------------------------------------------------------ */

MD_VEC_LIFECYCLE(md_qevent_vec)

md_qevent *md_qevent_vec_push(md_qevent_vec *ev, const md_qevent *e)
{
    MD_ARRAY_GROW(ev->v, ev->n, ev->cap, 16);
    ev->v[ev->n] = *e;
    return &ev->v[ev->n++];
}

static void merge_sort(md_qevent *v, md_qevent *tmp, size_t n,
                       int (*less)(const md_qevent *, const md_qevent *))
{
    if (n < 2) return;
    size_t h = n / 2;
    merge_sort(v, tmp, h, less);
    merge_sort(v + h, tmp, n - h, less);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) tmp[k++] = less(&v[j], &v[i]) ? v[j++] : v[i++];
    while (i < h) tmp[k++] = v[i++];
    while (j < n) tmp[k++] = v[j++];
    memcpy(v, tmp, n * sizeof *v);
}

static int ts_less(const md_qevent *a, const md_qevent *b)
{
    return a->ts < b->ts;
}

static int sev_less(const md_qevent *a, const md_qevent *b)
{
    if (a->severity != b->severity) return a->severity > b->severity;
    return a->ts < b->ts;
}

void md_qevent_sort_by_ts(md_qevent *ev, size_t n)
{
    size_t i = 1;
    while (i < n && ev[i - 1].ts <= ev[i].ts) i++;
    if (i >= n) return;
    md_qevent *tmp = md_malloc(n * sizeof *tmp);
    merge_sort(ev, tmp, n, ts_less);
    md_free(tmp);
}

void md_qevent_sort_by_severity(md_qevent *ev, size_t n)
{
    if (n < 2) return;
    md_qevent *tmp = md_malloc(n * sizeof *tmp);
    merge_sort(ev, tmp, n, sev_less);
    md_free(tmp);
}

void md_qevent_reject(md_qevent *out, const md_bar *bar, md_rule rule, const char *msg)
{
    memset(out, 0, sizeof *out);
    out->ts = bar->ts;
    out->rule = (int16_t)rule;
    out->source = bar->source;
    out->severity = 1;
    switch (rule) {
    case MD_RULE_HIGH_LOW: out->value = bar->high, out->limit = bar->low; break;
    case MD_RULE_OPEN_RANGE:
        out->value = bar->open, out->limit = bar->open < bar->low ? bar->low : bar->high;
        break;
    case MD_RULE_CLOSE_RANGE:
        out->value = bar->close, out->limit = bar->close < bar->low ? bar->low : bar->high;
        break;
    case MD_RULE_NEG_VOLUME: out->value = bar->volume; break;
    case MD_RULE_UNALIGNED:
    case MD_RULE_FUTURE: out->value = (double)bar->ts; break;
    default: break;
    }
    snprintf(out->detail, sizeof out->detail, "%s", msg ? msg : md_rule_code(rule));
}

/* -- parameters ------------------------------------------------------------------------------ */

void md_quality_params_default(md_quality_params *p)
{
    md_config cfg;
    md_config_init(&cfg);
    md_quality_params_from_config(p, &cfg);
    md_config_deinit(&cfg);
}

void md_quality_params_from_config(md_quality_params *p, const md_config *cfg)
{
    memset(p, 0, sizeof *p);
    p->weight[MD_QDIM_COMPLETENESS] = cfg->q_weight_completeness;
    p->weight[MD_QDIM_ACCURACY] = cfg->q_weight_accuracy;
    p->weight[MD_QDIM_TIMELINESS] = cfg->q_weight_timeliness;
    p->weight[MD_QDIM_CONSISTENCY] = cfg->q_weight_consistency;
    p->weight[MD_QDIM_VALIDITY] = cfg->q_weight_validity;
    p->weight[MD_QDIM_UNIQUENESS] = cfg->q_weight_uniqueness;
    p->defect_tolerance = cfg->q_defect_tolerance;
    p->gap_tolerance = cfg->q_gap_tolerance;
    p->jump_sigma = cfg->q_jump_sigma;
    p->jump_window = (int)cfg->q_jump_window;
    p->stale_bars = (int)cfg->q_stale_bars;
    p->volume_ratio = cfg->q_volume_ratio;
    p->volume_window = (int)cfg->q_volume_window;
    p->price_min = cfg->q_price_min;
    p->price_max = cfg->q_price_max;
    p->gap_min_bars = (int)cfg->q_gap_min_bars;
    p->disagreement_pct = cfg->q_disagreement_pct;
    p->quote_jump_pct = cfg->q_quote_jump_pct;
    p->quote_spread_pct = cfg->q_quote_spread_pct;
    p->future_tolerance_s = cfg->q_future_tolerance_s;
    p->live_window_bars = (int)cfg->q_live_window_bars;
    p->timeliness_grace_bars = (int)cfg->q_stale_grace_bars;
    p->timeliness_zero_bars = (int)cfg->q_stale_zero_bars;
    p->max_bars = (size_t)cfg->q_max_bars;
}
