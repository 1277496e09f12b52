/* backoff.c - retry delays with jitter, the error classes the manager acts on, and the
 * health score of a source. No I/O, no clock: callers pass what they measured. */
#include "sources/manager_int.h"

#include "core/error.h"

uint64_t md_rng_next(uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9E3779B97F4A7C15ULL;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

int64_t md_backoff_delay_ms(int attempt, int64_t base_ms, int64_t max_ms, uint64_t *rng)
{
    if (base_ms < 1) base_ms = 1;
    if (max_ms < base_ms) max_ms = base_ms;
    if (attempt < 0) attempt = 0;
    int64_t d = base_ms;
    for (int i = 0; i < attempt && d < max_ms; i++) d *= 2;
    if (d > max_ms) d = max_ms;
    int64_t half = d / 2;
    int64_t span = d - half; /* uniform in [half, d] */
    return half + (int64_t)(md_rng_next(rng) % (uint64_t)(span + 1));
}

int md_source_error_retryable(int rc)
{
    return rc == MD_ETRANSIENT || rc == MD_ETIMEOUT;
}

int md_source_error_is_failure(int rc)
{
    if (rc >= 0) return 0;
    switch (rc) {
    case MD_ENOTFOUND:
    case MD_ENODATA:
    case MD_EINTERVAL:
    case MD_ESYMBOL:
    case MD_EPARAM:
    case MD_ETIMERANGE: return 0; /* an answer about the request, not a sick provider */
    default: return 1;
    }
}

void md_health_record(md_health *h, int ok, int64_t latency_ms)
{
    if (latency_ms < 0) latency_ms = 0;
    if (latency_ms > INT32_MAX) latency_ms = INT32_MAX;
    h->ok[h->pos] = (uint8_t)(ok != 0);
    h->latency_ms[h->pos] = (int32_t)latency_ms;
    h->pos = (h->pos + 1) % MD_HEALTH_WINDOW;
    if (h->n < MD_HEALTH_WINDOW) h->n++;
}

double md_health_score(const md_health *h, int64_t ref_latency_ms)
{
    if (h->n == 0) return 1.0;
    int ok = 0;
    double lat = 0;
    for (int i = 0; i < h->n; i++) {
        if (!h->ok[i]) continue;
        ok++;
        lat += h->latency_ms[i];
    }
    if (ok == 0) return 0.0;
    double rate = (double)ok / h->n;
    double mean = lat / ok;
    double ref = ref_latency_ms > 0 ? (double)ref_latency_ms : 1000.0;
    double factor = 0.5 + 0.5 * ref / (ref + mean);
    return rate * factor;
}
