/* ratelimit.c - per-provider request budget: a rolling-minute token bucket and a UTC-day
 * quota (see manager_int.h for why each token returns exactly one minute after it was
 * spent rather than trickling back at per_minute/60 a second: a trickling bucket lets up
 * to 2 x per_minute - 1 requests into one 60 s span, which a provider counting a sliding
 * minute refuses). The agent asks here before every request and never sends one that
 * this budget says the provider would refuse. */
#include "sources/manager_int.h"

#include "core/mem.h"

#include <math.h>
#include <string.h>

#define DAY_MS 86400000LL

static int64_t day_of(int64_t ms)
{
    return ms >= 0 ? ms / DAY_MS : -((-ms + DAY_MS - 1) / DAY_MS);
}

void md_ratelimit_init(md_ratelimit *rl, int per_minute, int per_day)
{
    memset(rl, 0, sizeof *rl);
    if (per_minute < 0) per_minute = 0;
    if (per_minute > MD_RATELIMIT_MAX_PER_MINUTE) per_minute = MD_RATELIMIT_MAX_PER_MINUTE;
    if (per_day < 0) per_day = 0;
    rl->per_minute = per_minute;
    rl->per_day = per_day;
    if (per_minute) rl->spent = md_calloc((size_t)per_minute, sizeof *rl->spent);
    rl->day = INT64_MIN;
}

void md_ratelimit_deinit(md_ratelimit *rl)
{
    if (!rl) return;
    md_free(rl->spent);
    rl->spent = NULL;
}

/* Drops the spend times that left the rolling minute and rolls the day over. */
static void advance(md_ratelimit *rl, int64_t now_ms)
{
    while (rl->count && rl->spent[rl->head] + MD_RATELIMIT_MINUTE_MS <= now_ms) {
        rl->head = (rl->head + 1) % rl->per_minute;
        rl->count--;
    }
    int64_t d = day_of(now_ms);
    if (d != rl->day) {
        rl->day = d;
        rl->day_used = 0;
    }
}

static void spend(md_ratelimit *rl, int64_t now_ms)
{
    if (rl->per_minute) {
        if (rl->count == rl->per_minute) {
            /* Over budget (an extra page charged after the fact): the oldest token's return
             * moves to now, so the debt delays the next request by up to one minute. */
            rl->spent[rl->head] = now_ms;
            rl->head = (rl->head + 1) % rl->per_minute;
        } else {
            rl->spent[(rl->head + rl->count) % rl->per_minute] = now_ms;
            rl->count++;
        }
    }
    rl->day_used++;
}

/* Tokens the minute bucket and the day quota still hold (-1 = unlimited). */
static int left_minute(const md_ratelimit *rl)
{
    return rl->per_minute ? rl->per_minute - rl->count : -1;
}

static int left_day(const md_ratelimit *rl)
{
    if (!rl->per_day) return -1;
    return rl->day_used >= rl->per_day ? 0 : rl->per_day - rl->day_used;
}

/* When the binding limit frees a token (0 when one is free now). */
static int64_t wait_ms(const md_ratelimit *rl, int64_t now_ms, int need_minute, int need_day)
{
    int64_t w = 0;
    if (rl->paused_until_ms > now_ms) w = rl->paused_until_ms - now_ms;
    if (rl->per_day && left_day(rl) < need_day) {
        int64_t next_day = (rl->day + 1) * DAY_MS - now_ms;
        if (next_day > w) w = next_day;
    }
    if (rl->per_minute && rl->count && left_minute(rl) < need_minute) {
        /* the (need_minute - left)-th oldest spend returns first */
        int k = need_minute - left_minute(rl) - 1;
        if (k >= rl->count) k = rl->count - 1;
        if (k < 0) k = 0;
        int64_t back = rl->spent[(rl->head + k) % rl->per_minute] + MD_RATELIMIT_MINUTE_MS - now_ms;
        if (back > w) w = back;
    }
    return w;
}

/* Tokens that must stay after taking one, for a reserve fraction of a limit. */
static int kept(int limit, double reserve)
{
    if (!limit || reserve <= 0) return 0;
    return (int)ceil((double)limit * reserve);
}

/* 1 when rl can give a token now; else 0 and *retry_in_ms when one will be free. */
static int can_take(md_ratelimit *rl, int64_t now_ms, double reserve, int64_t *retry_in_ms)
{
    advance(rl, now_ms);
    int need_minute = 1 + kept(rl->per_minute, reserve);
    int need_day = 1 + kept(rl->per_day, reserve);
    int ok = rl->paused_until_ms <= now_ms && (!rl->per_minute || left_minute(rl) >= need_minute) &&
             (!rl->per_day || left_day(rl) >= need_day);
    if (!ok) {
        int64_t w = wait_ms(rl, now_ms, need_minute, need_day);
        *retry_in_ms = w > 0 ? w : 1;
    }
    return ok;
}

int md_ratelimit_acquire_all(md_ratelimit *const *rl, int n, int64_t now_ms, double reserve,
                             int64_t *retry_in_ms)
{
    int ok = 1;
    int64_t longest = 0;
    for (int i = 0; i < n; i++) {
        int64_t w = 0;
        if (!can_take(rl[i], now_ms, reserve, &w)) {
            ok = 0;
            if (w > longest) longest = w;
        }
    }
    if (!ok) {
        if (retry_in_ms) *retry_in_ms = longest;
        return 0;
    }
    for (int i = 0; i < n; i++) spend(rl[i], now_ms);
    return 1;
}

int md_ratelimit_acquire(md_ratelimit *rl, int64_t now_ms, double reserve, int64_t *retry_in_ms)
{
    return md_ratelimit_acquire_all(&rl, 1, now_ms, reserve, retry_in_ms);
}

void md_ratelimit_charge(md_ratelimit *rl, int n, int64_t now_ms)
{
    advance(rl, now_ms);
    for (int i = 0; i < n; i++) spend(rl, now_ms);
}

void md_ratelimit_pause(md_ratelimit *rl, int64_t until_ms)
{
    if (until_ms > rl->paused_until_ms) rl->paused_until_ms = until_ms;
}

int md_ratelimit_remaining(md_ratelimit *rl, int64_t now_ms, int64_t *reset_ms)
{
    advance(rl, now_ms);
    int m = left_minute(rl), d = left_day(rl);
    int r = m < 0 ? d : d < 0 ? m : (m < d ? m : d);
    if (rl->paused_until_ms > now_ms) r = 0;
    if (reset_ms) *reset_ms = r == 0 ? wait_ms(rl, now_ms, 1, 1) : 0;
    return r;
}
