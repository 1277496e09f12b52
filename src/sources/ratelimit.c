/* ratelimit.c - a provider's request budget: rolling second and minute windows and a daily
 * quota (see manager_int.h for why each token returns exactly one window after it was spent
 * rather than trickling back at limit/window: a trickling bucket lets up to 2 x limit - 1
 * requests into one window span, which a provider counting a sliding window refuses). The
 * agent asks here before every request and never sends one that this budget says the
 * provider would refuse. No I/O, no clock: the caller passes the time. */
#include "sources/manager_int.h"

#include "core/error.h"
#include "core/mem.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL

static int64_t floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

static void window_init(md_rl_window *w, int limit, int64_t span_ms)
{
    md_free(w->spent);
    memset(w, 0, sizeof *w);
    if (limit < 0) limit = 0;
    if (limit > MD_RATELIMIT_MAX_PER_MINUTE) limit = MD_RATELIMIT_MAX_PER_MINUTE;
    w->limit = limit;
    w->span_ms = span_ms;
    if (limit) w->spent = md_calloc((size_t)limit, sizeof *w->spent);
}

void md_ratelimit_init(md_ratelimit *rl, int per_minute, int per_day)
{
    memset(rl, 0, sizeof *rl);
    if (per_day < 0) per_day = 0;
    window_init(&rl->minute, per_minute, MD_RATELIMIT_MINUTE_MS);
    rl->per_minute = rl->minute.limit;
    rl->per_day = per_day;
    rl->day = INT64_MIN;
}

void md_ratelimit_set_per_second(md_ratelimit *rl, int per_second)
{
    window_init(&rl->second, per_second, 1000);
    rl->per_second = rl->second.limit;
}

void md_ratelimit_set_day(md_ratelimit *rl, md_rl_day_fn fn, void *ctx)
{
    rl->day_fn = fn;
    rl->day_ctx = ctx;
    rl->day = INT64_MIN; /* recomputed at the next use */
}

void md_ratelimit_deinit(md_ratelimit *rl)
{
    if (!rl) return;
    md_free(rl->minute.spent);
    md_free(rl->second.spent);
    rl->minute.spent = rl->second.spent = NULL;
}

static void window_advance(md_rl_window *w, int64_t now_ms)
{
    while (w->count && w->spent[w->head] + w->span_ms <= now_ms) {
        w->head = (w->head + 1) % w->limit;
        w->count--;
    }
}

static void day_at(const md_ratelimit *rl, int64_t now_ms, int64_t *day, int64_t *ends)
{
    if (rl->day_fn) {
        rl->day_fn(rl->day_ctx, now_ms, day, ends);
        return;
    }
    *day = floor_div(now_ms, DAY_MS);
    *ends = (*day + 1) * DAY_MS;
}

/* Drops the spend times that left their window and rolls the day over. */
static void advance(md_ratelimit *rl, int64_t now_ms)
{
    window_advance(&rl->minute, now_ms);
    window_advance(&rl->second, now_ms);
    if (rl->day != INT64_MIN && now_ms < rl->day_ends_ms) return;
    int64_t d, ends;
    day_at(rl, now_ms, &d, &ends);
    if (d != rl->day) {
        rl->day = d;
        rl->day_used = 0;
    }
    rl->day_ends_ms = ends;
}

static void window_spend(md_rl_window *w, int64_t now_ms)
{
    if (!w->limit) return;
    if (w->count == w->limit) {
        /* Over budget (an extra page charged after the fact): the oldest token's return
         * moves to now, so the debt delays the next request by up to one window. */
        w->spent[w->head] = now_ms;
        w->head = (w->head + 1) % w->limit;
    } else {
        w->spent[(w->head + w->count) % w->limit] = now_ms;
        w->count++;
    }
}

static void spend(md_ratelimit *rl, int64_t now_ms)
{
    window_spend(&rl->minute, now_ms);
    window_spend(&rl->second, now_ms);
    rl->day_used++;
}

static int window_left(const md_rl_window *w)
{
    return w->limit ? w->limit - w->count : -1;
}

static int left_day(const md_ratelimit *rl)
{
    if (!rl->per_day) return -1;
    return rl->day_used >= rl->per_day ? 0 : rl->per_day - rl->day_used;
}

/* When w frees `need` tokens (0 when it has them). */
static int64_t window_wait(const md_rl_window *w, int64_t now_ms, int need)
{
    if (!w->limit || !w->count || window_left(w) >= need) return 0;
    /* the (need - left)-th oldest spend returns first */
    int k = need - window_left(w) - 1;
    if (k >= w->count) k = w->count - 1;
    if (k < 0) k = 0;
    int64_t back = w->spent[(w->head + k) % w->limit] + w->span_ms - now_ms;
    return back > 0 ? back : 0;
}

/* When the binding limit frees what is needed (0 when it could go out now). */
static int64_t wait_ms(const md_ratelimit *rl, int64_t now_ms, int need_second, int need_minute,
                       int need_day)
{
    int64_t w = 0;
    if (rl->paused_until_ms > now_ms) w = rl->paused_until_ms - now_ms;
    if (rl->per_day && left_day(rl) < need_day) {
        int64_t next_day = rl->day_ends_ms - now_ms;
        if (next_day > w) w = next_day;
    }
    int64_t m = window_wait(&rl->minute, now_ms, need_minute);
    if (m > w) w = m;
    int64_t s = window_wait(&rl->second, now_ms, need_second);
    if (s > w) w = s;
    return w;
}

/* Tokens that must stay after taking some, for a reserve fraction of a limit. */
static int kept(int limit, double reserve)
{
    if (!limit || reserve <= 0) return 0;
    return (int)ceil((double)limit * reserve);
}

/* 1 when rl can give `need` tokens now; else 0 and *retry_in_ms when they will be free
 * (-1: never, need is over a limit). */
static int can_take(md_ratelimit *rl, int need, int64_t now_ms, double reserve,
                    int64_t *retry_in_ms)
{
    advance(rl, now_ms);
    int ns = need + kept(rl->per_second, reserve), nm = need + kept(rl->per_minute, reserve),
        nd = need + kept(rl->per_day, reserve);
    if ((rl->per_second && ns > rl->per_second) || (rl->per_minute && nm > rl->per_minute) ||
        (rl->per_day && nd > rl->per_day)) {
        *retry_in_ms = -1;
        return 0;
    }
    int ok = rl->paused_until_ms <= now_ms && (!rl->per_minute || window_left(&rl->minute) >= nm) &&
             (!rl->per_second || window_left(&rl->second) >= ns) &&
             (!rl->per_day || left_day(rl) >= nd);
    if (!ok) {
        int64_t w = wait_ms(rl, now_ms, ns, nm, nd);
        *retry_in_ms = w > 0 ? w : 1;
    }
    return ok;
}

int md_ratelimit_can(md_ratelimit *const *rl, int n, int need, int64_t now_ms, double reserve,
                     int64_t *retry_in_ms)
{
    int ok = 1;
    int64_t longest = 0;
    for (int i = 0; i < n; i++) {
        int64_t w = 0;
        if (!can_take(rl[i], need, now_ms, reserve, &w)) {
            ok = 0;
            if (w < 0 || longest < 0)
                longest = -1;
            else if (w > longest)
                longest = w;
        }
    }
    if (!ok && retry_in_ms) *retry_in_ms = longest;
    return ok;
}

int md_ratelimit_acquire_n(md_ratelimit *const *rl, int n, int need, int64_t now_ms, double reserve,
                           int64_t *retry_in_ms)
{
    if (need < 1) need = 1;
    if (!md_ratelimit_can(rl, n, need, now_ms, reserve, retry_in_ms)) return 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < need; k++) spend(rl[i], now_ms);
    return 1;
}

int md_ratelimit_acquire_all(md_ratelimit *const *rl, int n, int64_t now_ms, double reserve,
                             int64_t *retry_in_ms)
{
    return md_ratelimit_acquire_n(rl, n, 1, now_ms, reserve, retry_in_ms);
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

int64_t md_ratelimit_day_end(md_ratelimit *rl, int64_t now_ms)
{
    advance(rl, now_ms);
    return rl->day_ends_ms;
}

int md_ratelimit_remaining(md_ratelimit *rl, int64_t now_ms, int64_t *reset_ms)
{
    advance(rl, now_ms);
    int r = -1;
    int lim[3] = {window_left(&rl->second), window_left(&rl->minute), left_day(rl)};
    for (int i = 0; i < 3; i++)
        if (lim[i] >= 0 && (r < 0 || lim[i] < r)) r = lim[i];
    if (rl->paused_until_ms > now_ms) r = 0;
    if (reset_ms) *reset_ms = r == 0 ? wait_ms(rl, now_ms, 1, 1, 1) : 0;
    return r;
}

/* -- saved state ---------------------------------------------------------------------------
 * "v1 <paused_until_ms> <day> <day_used> <n> <t1> ... <tn>": the minute's spend times, oldest
 * first. The second's window is not kept: it is over before a restart is. */

void md_ratelimit_save(const md_ratelimit *rl, int64_t now_ms, char *dst, size_t n)
{
    if (!n) return;
    md_ratelimit tmp = *rl; /* advance() on a copy: rl is const */
    advance(&tmp, now_ms);
    int k = snprintf(dst, n, "v1 %" PRId64 " %" PRId64 " %d %d", tmp.paused_until_ms,
                     tmp.day == INT64_MIN ? 0 : tmp.day, tmp.day_used, tmp.minute.count);
    for (int i = 0; i < tmp.minute.count && k > 0 && (size_t)k < n; i++)
        k += snprintf(dst + k, n - (size_t)k, " %" PRId64,
                      tmp.minute.spent[(tmp.minute.head + i) % tmp.minute.limit]);
}

int md_ratelimit_load(md_ratelimit *rl, const char *text, int64_t now_ms)
{
    if (strncmp(text, "v1 ", 3) != 0) return MD_EINVAL;
    long long head[4]; /* paused until, day, used that day, times that follow */
    const char *p = text + 3;
    for (int i = 0; i < 4; i++) {
        char *end;
        head[i] = strtoll(p, &end, 10);
        if (end == p) return MD_EINVAL;
        p = end;
    }
    long long paused = head[0], day = head[1];
    if (head[2] < 0 || head[2] > INT_MAX || head[3] < 0 || head[3] > INT_MAX) return MD_EINVAL;
    int used = (int)head[2], cnt = (int)head[3];
    int64_t times[256];
    int n = 0;
    for (int i = 0; i < cnt; i++) {
        char *end;
        long long t = strtoll(p, &end, 10);
        if (end == p) return MD_EINVAL;
        p = end;
        if (n < (int)(sizeof times / sizeof times[0])) times[n++] = t;
    }
    advance(rl, now_ms);
    md_ratelimit_pause(rl, paused);
    if (day == rl->day && used > rl->day_used) rl->day_used = used;
    for (int i = 0; i < n; i++) {
        if (times[i] + MD_RATELIMIT_MINUTE_MS <= now_ms || times[i] > now_ms) continue;
        if (rl->minute.limit && rl->minute.count < rl->minute.limit)
            window_spend(&rl->minute, times[i]);
    }
    return 0;
}
