/* circuit.c - the per-source circuit breaker.
 *
 *                 N failures in a row, or failed share of the
 *                 last `window` calls >= ratio (with >= min_calls)
 *      +--------+ -------------------------------------------> +------+
 *      | CLOSED |                                               | OPEN | every call refused
 *      +--------+ <---------+                 +---------------> +------+
 *          ^                |                 | probe failed        |
 *          |  probe ok      |                 |                     | cooldown passed
 *          |           +-----------+ ---------+                     |
 *          +---------- | HALF_OPEN | <------------------------------+
 *                      +-----------+   one probe call admitted, others refused
 *
 * A failure is what md_source_error_is_failure() says (transient, timeout, malformed,
 * provider-side rate limit, unauthorized); "symbol not found" is an answer and counts as a
 * success, since the provider worked. Closing resets the counters, so an old streak never
 * reopens a recovered source. The manager serialises calls with its per-source lock. */
#include "sources/manager_int.h"

#include "core/mem.h"

#include <string.h>

void md_circuit_init(md_circuit *c, const md_circuit_cfg *cfg)
{
    memset(c, 0, sizeof *c);
    c->cfg = *cfg;
    if (c->cfg.failures < 1) c->cfg.failures = 1;
    if (c->cfg.window < 1) c->cfg.window = 1;
    if (c->cfg.window > MD_CIRCUIT_WINDOW_MAX) c->cfg.window = MD_CIRCUIT_WINDOW_MAX;
    if (c->cfg.min_calls < 1) c->cfg.min_calls = 1;
    if (c->cfg.cooldown_ms < 0) c->cfg.cooldown_ms = 0;
    c->outcomes = md_calloc((size_t)c->cfg.window, 1);
    c->state = MD_CIRCUIT_CLOSED;
}

void md_circuit_deinit(md_circuit *c)
{
    if (!c) return;
    md_free(c->outcomes);
    c->outcomes = NULL;
}

static void reset_window(md_circuit *c)
{
    memset(c->outcomes, 0, (size_t)c->cfg.window);
    c->n = c->pos = c->failed = 0;
    c->consecutive = 0;
}

static void trip(md_circuit *c, int64_t now_ms)
{
    c->state = MD_CIRCUIT_OPEN;
    c->opened_ms = now_ms;
    c->probing = 0;
    c->opens++;
}

int md_circuit_allow(md_circuit *c, int64_t now_ms)
{
    switch (c->state) {
    case MD_CIRCUIT_CLOSED: return 1;
    case MD_CIRCUIT_OPEN:
        if (now_ms - c->opened_ms < c->cfg.cooldown_ms) return 0;
        c->state = MD_CIRCUIT_HALF_OPEN;
        c->probing = 1;
        return 1;
    case MD_CIRCUIT_HALF_OPEN:
        if (c->probing) return 0;
        c->probing = 1;
        return 1;
    }
    return 0;
}

void md_circuit_cancel(md_circuit *c)
{
    if (c->state == MD_CIRCUIT_HALF_OPEN) c->probing = 0;
}

static void remember(md_circuit *c, int failed)
{
    if (c->n == c->cfg.window) {
        c->failed -= c->outcomes[c->pos];
    } else {
        c->n++;
    }
    c->outcomes[c->pos] = (uint8_t)(failed != 0);
    c->failed += failed != 0;
    c->pos = (c->pos + 1) % c->cfg.window;
}

void md_circuit_record(md_circuit *c, int failed, int64_t now_ms)
{
    if (c->state == MD_CIRCUIT_HALF_OPEN) {
        c->probing = 0;
        if (failed) {
            trip(c, now_ms);
        } else {
            c->state = MD_CIRCUIT_CLOSED;
            reset_window(c);
        }
        return;
    }
    if (c->state == MD_CIRCUIT_OPEN) return; /* a call admitted before the trip finished */
    remember(c, failed);
    c->consecutive = failed ? c->consecutive + 1 : 0;
    if (!failed) return;
    int ratio_trips = c->cfg.failure_ratio > 0 && c->n >= c->cfg.min_calls &&
                      (double)c->failed >= c->cfg.failure_ratio * (double)c->n;
    if (c->consecutive >= c->cfg.failures || ratio_trips) trip(c, now_ms);
}

md_circuit_state md_circuit_state_at(const md_circuit *c, int64_t now_ms)
{
    if (c->state == MD_CIRCUIT_OPEN && now_ms - c->opened_ms >= c->cfg.cooldown_ms)
        return MD_CIRCUIT_HALF_OPEN;
    return c->state;
}

int64_t md_circuit_retry_in_ms(const md_circuit *c, int64_t now_ms)
{
    if (c->state != MD_CIRCUIT_OPEN) return 0;
    int64_t left = c->opened_ms + c->cfg.cooldown_ms - now_ms;
    return left > 0 ? left : 0;
}

const char *md_circuit_state_name(md_circuit_state s)
{
    switch (s) {
    case MD_CIRCUIT_CLOSED: return "closed";
    case MD_CIRCUIT_HALF_OPEN: return "half_open";
    case MD_CIRCUIT_OPEN: return "open";
    }
    return "closed";
}
