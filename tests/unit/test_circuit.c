/* The circuit breaker state machine, the rate limiter, retry back-off bounds and the
 * health score (sources/manager_int.h), all on an explicit fake clock. */
#include "core/error.h"
#include "sources/manager_int.h"

#include <criterion/criterion.h>

static md_circuit make(int failures, double ratio, int window, int min_calls, int64_t cooldown)
{
    md_circuit c;
    md_circuit_cfg cfg = {failures, ratio, window, min_calls, cooldown};
    md_circuit_init(&c, &cfg);
    return c;
}

/* One admitted call with the given outcome. */
static void call(md_circuit *c, int failed, int64_t now)
{
    cr_assert_eq(md_circuit_allow(c, now), 1, "call refused at %lld", (long long)now);
    md_circuit_record(c, failed, now);
}

Test(circuit, stays_closed_below_the_consecutive_threshold)
{
    md_circuit c = make(3, 0, 20, 10, 1000);
    call(&c, 1, 0);
    call(&c, 1, 1);
    call(&c, 0, 2); /* a success breaks the streak */
    call(&c, 1, 3);
    call(&c, 1, 4);
    cr_assert_eq(md_circuit_state_at(&c, 5), MD_CIRCUIT_CLOSED);
    md_circuit_deinit(&c);
}

Test(circuit, opens_after_n_consecutive_failures)
{
    md_circuit c = make(3, 0, 20, 10, 1000);
    call(&c, 1, 0);
    call(&c, 1, 1);
    cr_assert_eq(c.state, MD_CIRCUIT_CLOSED);
    call(&c, 1, 2);
    cr_assert_eq(c.state, MD_CIRCUIT_OPEN);
    cr_assert_str_eq(md_circuit_state_name(md_circuit_state_at(&c, 2)), "open");
    md_circuit_deinit(&c);
}

Test(circuit, stays_open_and_refuses_until_the_cooldown_ends)
{
    md_circuit c = make(2, 0, 20, 10, 1000);
    call(&c, 1, 100);
    call(&c, 1, 200); /* opened at 200 */
    for (int64_t t = 200; t < 1200; t += 50) {
        cr_assert_eq(md_circuit_allow(&c, t), 0, "admitted at %lld", (long long)t);
        cr_assert_eq(md_circuit_state_at(&c, t), MD_CIRCUIT_OPEN);
    }
    cr_assert_eq(md_circuit_retry_in_ms(&c, 700), 500);
    md_circuit_deinit(&c);
}

Test(circuit, half_opens_after_cooldown_and_admits_one_probe)
{
    md_circuit c = make(2, 0, 20, 10, 1000);
    call(&c, 1, 0);
    call(&c, 1, 0);
    cr_assert_eq(md_circuit_state_at(&c, 999), MD_CIRCUIT_OPEN);
    cr_assert_eq(md_circuit_state_at(&c, 1000), MD_CIRCUIT_HALF_OPEN);
    cr_assert_eq(c.state, MD_CIRCUIT_OPEN, "reading the state must not change it");
    cr_assert_eq(md_circuit_allow(&c, 1000), 1);
    cr_assert_eq(c.state, MD_CIRCUIT_HALF_OPEN);
    cr_assert_eq(md_circuit_allow(&c, 1001), 0, "a second probe while the first is in flight");
    md_circuit_deinit(&c);
}

Test(circuit, closes_when_the_probe_succeeds)
{
    md_circuit c = make(2, 0, 20, 10, 1000);
    call(&c, 1, 0);
    call(&c, 1, 0);
    call(&c, 0, 1500); /* the probe */
    cr_assert_eq(c.state, MD_CIRCUIT_CLOSED);
    cr_assert_eq(md_circuit_allow(&c, 1501), 1);
    md_circuit_record(&c, 1, 1501);
    cr_assert_eq(c.state, MD_CIRCUIT_CLOSED, "closing resets the streak");
    md_circuit_deinit(&c);
}

Test(circuit, reopens_when_the_probe_fails_with_a_fresh_cooldown)
{
    md_circuit c = make(2, 0, 20, 10, 1000);
    call(&c, 1, 0);
    call(&c, 1, 0);
    call(&c, 1, 1200); /* failed probe */
    cr_assert_eq(c.state, MD_CIRCUIT_OPEN);
    cr_assert_eq(md_circuit_allow(&c, 2100), 0, "cooldown restarts at the failed probe");
    cr_assert_eq(md_circuit_allow(&c, 2200), 1);
    md_circuit_deinit(&c);
}

Test(circuit, cancelled_probe_lets_another_through)
{
    md_circuit c = make(1, 0, 20, 10, 100);
    call(&c, 1, 0);
    cr_assert_eq(md_circuit_allow(&c, 100), 1);
    md_circuit_cancel(&c);
    cr_assert_eq(md_circuit_allow(&c, 101), 1);
    md_circuit_deinit(&c);
}

Test(circuit, opens_on_the_failure_ratio_without_a_streak)
{
    /* 10 consecutive would be needed; alternate fail/ok instead: 50% of a window of 10 */
    md_circuit c = make(10, 0.5, 10, 10, 1000);
    for (int i = 0; i < 9; i++) call(&c, i % 2 == 0, i); /* 5 failures in 9 calls */
    cr_assert_eq(c.state, MD_CIRCUIT_CLOSED, "min_calls not reached yet");
    call(&c, 0, 9); /* 10 calls, 5 failed: a success never trips */
    cr_assert_eq(c.state, MD_CIRCUIT_CLOSED);
    call(&c, 1, 10); /* window now holds calls 1..10: 5 failures of 10 -> 0.5 */
    cr_assert_eq(c.state, MD_CIRCUIT_OPEN);
    md_circuit_deinit(&c);
}

Test(circuit, ratio_forgets_calls_that_left_the_window)
{
    md_circuit c = make(100, 0.5, 4, 4, 1000);
    call(&c, 1, 0);
    call(&c, 0, 1);
    call(&c, 0, 2);
    call(&c, 0, 3);
    call(&c, 0, 4); /* the failure left the window */
    call(&c, 1, 5); /* 1 of 4 */
    cr_assert_eq(c.state, MD_CIRCUIT_CLOSED);
    call(&c, 1, 6); /* 2 of 4 */
    cr_assert_eq(c.state, MD_CIRCUIT_OPEN);
    md_circuit_deinit(&c);
}

Test(circuit, not_found_is_an_answer_not_a_failure)
{
    cr_assert_eq(md_source_error_is_failure(MD_ENOTFOUND), 0);
    cr_assert_eq(md_source_error_is_failure(MD_EINTERVAL), 0);
    cr_assert_eq(md_source_error_is_failure(0), 0);
    int failures[] = {MD_ETRANSIENT, MD_ETIMEOUT, MD_EMALFORMED, MD_ERATELIMIT, MD_EUNAUTHSRC};
    for (size_t i = 0; i < sizeof failures / sizeof failures[0]; i++)
        cr_assert_eq(md_source_error_is_failure(failures[i]), 1, "%s", md_error_name(failures[i]));
    cr_assert(md_source_error_retryable(MD_ETRANSIENT));
    cr_assert(md_source_error_retryable(MD_ETIMEOUT));
    cr_assert(!md_source_error_retryable(MD_EMALFORMED));
    cr_assert(!md_source_error_retryable(MD_ERATELIMIT));
    cr_assert(!md_source_error_retryable(MD_ENOTFOUND));
}

/* -- rate limiter ---------------------------------------------------------------------- */

#define DAY 86400000LL
static const int64_t T0 = 19800 * DAY + 3600000; /* 01:00 UTC on some day */

Test(ratelimit, refuses_the_request_over_the_per_minute_limit)
{
    md_ratelimit rl;
    md_ratelimit_init(&rl, 5, 0);
    for (int i = 0; i < 5; i++) cr_assert_eq(md_ratelimit_acquire(&rl, T0 + i * 1000, 0, NULL), 1);
    int64_t retry = -1;
    cr_assert_eq(md_ratelimit_acquire(&rl, T0 + 5000, 0, &retry), 0);
    cr_assert_eq(retry, 55000, "the first token returns 60 s after it was spent");
    int64_t reset;
    cr_assert_eq(md_ratelimit_remaining(&rl, T0 + 5000, &reset), 0);
    cr_assert_eq(reset, 55000);
    md_ratelimit_deinit(&rl);
}

Test(ratelimit, tokens_come_back_one_minute_after_they_were_spent)
{
    md_ratelimit rl;
    md_ratelimit_init(&rl, 2, 0);
    cr_assert(md_ratelimit_acquire(&rl, T0, 0, NULL));
    cr_assert(md_ratelimit_acquire(&rl, T0 + 30000, 0, NULL));
    cr_assert(!md_ratelimit_acquire(&rl, T0 + 59999, 0, NULL));
    cr_assert(md_ratelimit_acquire(&rl, T0 + 60000, 0, NULL), "first token refilled");
    cr_assert(!md_ratelimit_acquire(&rl, T0 + 60001, 0, NULL));
    cr_assert(md_ratelimit_acquire(&rl, T0 + 90000, 0, NULL), "second token refilled");
    cr_assert_eq(md_ratelimit_remaining(&rl, T0 + 200000, NULL), 2,
                 "all back after a quiet minute");
    md_ratelimit_deinit(&rl);
}

Test(ratelimit, no_sixty_second_span_holds_more_than_the_limit)
{
    md_ratelimit rl;
    md_ratelimit_init(&rl, 5, 0);
    int64_t sent[400];
    int n = 0;
    for (int64_t t = T0; t < T0 + 600000 && n < 400; t += 700)
        if (md_ratelimit_acquire(&rl, t, 0, NULL)) sent[n++] = t;
    cr_assert_gt(n, 40);
    for (int i = 0; i < n; i++) {
        int in = 0;
        for (int j = i; j < n && sent[j] < sent[i] + 60000; j++) in++;
        cr_assert_leq(in, 5, "%d requests in the minute from %lld", in, (long long)sent[i]);
    }
    md_ratelimit_deinit(&rl);
}

Test(ratelimit, refuses_over_the_daily_quota_until_midnight_utc)
{
    md_ratelimit rl;
    md_ratelimit_init(&rl, 0, 3);
    int64_t t = T0 + 22 * 3600000LL; /* 23:00 UTC */
    for (int i = 0; i < 3; i++) cr_assert(md_ratelimit_acquire(&rl, t + i, 0, NULL));
    int64_t retry;
    cr_assert(!md_ratelimit_acquire(&rl, t + 10, 0, &retry));
    cr_assert_eq(retry, 3600000 - 10, "until 00:00 UTC");
    cr_assert(!md_ratelimit_acquire(&rl, t + 3599999, 0, NULL));
    cr_assert(md_ratelimit_acquire(&rl, t + 3600000, 0, NULL), "a new UTC day");
    md_ratelimit_deinit(&rl);
}

/* Finnhub's 30 calls a second besides its 60 a minute: a burst is cut at 30 within any
 * second, and the minute's budget still holds. */
Test(ratelimit, a_per_second_window_cuts_bursts_within_the_minute_budget)
{
    md_ratelimit rl;
    md_ratelimit_init(&rl, 60, 0);
    md_ratelimit_set_per_second(&rl, 30);
    int ok = 0;
    for (int i = 0; i < 40; i++) ok += md_ratelimit_acquire(&rl, T0 + i, 0, NULL);
    cr_assert_eq(ok, 30, "30 in the first second");
    int64_t retry;
    cr_assert(!md_ratelimit_acquire(&rl, T0 + 500, 0, &retry));
    cr_assert_eq(retry, 500, "the first token of the second returns at T0 + 1000");
    ok = 0;
    for (int i = 0; i < 40; i++) ok += md_ratelimit_acquire(&rl, T0 + 1000 + i, 0, NULL);
    cr_assert_eq(ok, 30, "the next second: 30 more, 60 in the minute");
    cr_assert(!md_ratelimit_acquire(&rl, T0 + 5000, 0, &retry), "the minute's 60 are spent");
    cr_assert_eq(retry, 55000);
    md_ratelimit_deinit(&rl);
}

/* A provider whose day starts at midnight in its own zone (here UTC-5, fixed). */
static void minus5(void *ctx, int64_t now_ms, int64_t *day, int64_t *ends_ms)
{
    (void)ctx;
    int64_t local = now_ms - 5 * 3600000LL;
    *day = local / 86400000LL;
    *ends_ms = (*day + 1) * 86400000LL + 5 * 3600000LL;
}

Test(ratelimit, the_daily_quota_resets_at_the_providers_midnight)
{
    md_ratelimit rl;
    md_ratelimit_init(&rl, 0, 2);
    md_ratelimit_set_day(&rl, minus5, NULL);
    int64_t d0 = T0 - 3600000LL;    /* 00:00 UTC */
    int64_t t = d0 + 2 * 3600000LL; /* 02:00 UTC = 21:00 the day before at UTC-5 */
    cr_assert(md_ratelimit_acquire(&rl, t, 0, NULL));
    cr_assert(md_ratelimit_acquire(&rl, t + 1, 0, NULL));
    int64_t retry;
    cr_assert(!md_ratelimit_acquire(&rl, t + 2 * 3600000LL, 0, &retry),
              "04:00 UTC is still the day before there");
    cr_assert_eq(retry, 3600000LL, "until 05:00 UTC");
    cr_assert_eq(md_ratelimit_day_end(&rl, t), d0 + 5 * 3600000LL);
    cr_assert(md_ratelimit_acquire(&rl, d0 + 5 * 3600000LL, 0, NULL), "midnight at UTC-5");
    md_ratelimit_deinit(&rl);
}

Test(ratelimit, n_requests_are_taken_together_or_not_at_all)
{
    md_ratelimit a, b;
    md_ratelimit_init(&a, 5, 0);
    md_ratelimit_init(&b, 3, 0);
    md_ratelimit *const both[] = {&a, &b};
    int64_t retry;
    cr_assert(md_ratelimit_acquire_n(both, 2, 2, T0, 0, NULL));
    cr_assert(!md_ratelimit_acquire_n(both, 2, 2, T0 + 1, 0, &retry), "b has one left");
    cr_assert_eq(md_ratelimit_remaining(&a, T0 + 1, NULL), 3, "a gave nothing");
    cr_assert(!md_ratelimit_acquire_n(both, 2, 6, T0 + 1, 0, &retry));
    cr_assert_eq(retry, -1, "six never fit a budget of five");
    cr_assert(md_ratelimit_acquire_n(both, 2, 1, T0 + 2, 0, NULL));
    md_ratelimit_deinit(&a);
    md_ratelimit_deinit(&b);
}

/* What a restart keeps: the minute's spends, the day's count, a pause. */
Test(ratelimit, saved_state_survives_a_restart)
{
    md_ratelimit rl;
    md_ratelimit_init(&rl, 5, 25);
    for (int i = 0; i < 4; i++) cr_assert(md_ratelimit_acquire(&rl, T0 + i * 1000, 0, NULL));
    md_ratelimit_pause(&rl, T0 + 30000);
    char text[512];
    md_ratelimit_save(&rl, T0 + 5000, text, sizeof text);
    md_ratelimit_deinit(&rl);

    md_ratelimit again;
    md_ratelimit_init(&again, 5, 25);
    cr_assert_eq(md_ratelimit_load(&again, text, T0 + 40000), 0, "%s", text);
    cr_assert_eq(md_ratelimit_remaining(&again, T0 + 40000, NULL), 1, "one left of the minute");
    cr_assert(md_ratelimit_acquire(&again, T0 + 40000, 0, NULL));
    cr_assert(!md_ratelimit_acquire(&again, T0 + 40001, 0, NULL));
    cr_assert(md_ratelimit_acquire(&again, T0 + 60000, 0, NULL), "the first spend came back");
    md_ratelimit_deinit(&again);

    md_ratelimit paused;
    md_ratelimit_init(&paused, 5, 25);
    cr_assert_eq(md_ratelimit_load(&paused, text, T0 + 10000), 0);
    cr_assert(!md_ratelimit_acquire(&paused, T0 + 10000, 0, NULL), "still paused");
    md_ratelimit_deinit(&paused);

    md_ratelimit later; /* a day later only the day's count would matter: it is a new day */
    md_ratelimit_init(&later, 5, 25);
    cr_assert_eq(md_ratelimit_load(&later, text, T0 + 86400000LL), 0);
    cr_assert_eq(md_ratelimit_remaining(&later, T0 + 86400000LL, NULL), 5);
    cr_assert_eq(md_ratelimit_load(&later, "nonsense", T0), MD_EINVAL);
    md_ratelimit_deinit(&later);
}

Test(ratelimit, both_limits_apply_together)
{
    md_ratelimit rl;
    md_ratelimit_init(&rl, 8, 10);
    int ok = 0;
    for (int i = 0; i < 8; i++) ok += md_ratelimit_acquire(&rl, T0 + i, 0, NULL);
    cr_assert_eq(ok, 8);
    cr_assert(!md_ratelimit_acquire(&rl, T0 + 100, 0, NULL), "minute limit");
    ok = 0;
    for (int i = 0; i < 8; i++) ok += md_ratelimit_acquire(&rl, T0 + 61000 + i, 0, NULL);
    cr_assert_eq(ok, 2, "only the day's last two remain");
    cr_assert_eq(md_ratelimit_remaining(&rl, T0 + 200000, NULL), 0);
    md_ratelimit_deinit(&rl);
}

Test(ratelimit, retry_after_pauses_every_request_until_it_ends)
{
    md_ratelimit rl;
    md_ratelimit_init(&rl, 100, 0);
    md_ratelimit_pause(&rl, T0 + 30000);
    md_ratelimit_pause(&rl, T0 + 10000); /* never shortened */
    int64_t retry;
    cr_assert(!md_ratelimit_acquire(&rl, T0, 0, &retry));
    cr_assert_eq(retry, 30000);
    cr_assert(!md_ratelimit_acquire(&rl, T0 + 29999, 0, NULL));
    int64_t reset;
    cr_assert_eq(md_ratelimit_remaining(&rl, T0 + 20000, &reset), 0);
    cr_assert_eq(reset, 10000);
    cr_assert(md_ratelimit_acquire(&rl, T0 + 30000, 0, NULL));
    md_ratelimit_deinit(&rl);
}

Test(ratelimit, unlimited_never_refuses)
{
    md_ratelimit rl;
    md_ratelimit_init(&rl, 0, 0);
    for (int i = 0; i < 10000; i++) cr_assert(md_ratelimit_acquire(&rl, T0, 0, NULL));
    cr_assert_eq(md_ratelimit_remaining(&rl, T0, NULL), -1);
    md_ratelimit_deinit(&rl);
}

Test(ratelimit, extra_pages_are_charged_against_the_budget)
{
    md_ratelimit rl;
    md_ratelimit_init(&rl, 5, 0);
    cr_assert(md_ratelimit_acquire(&rl, T0, 0, NULL));
    md_ratelimit_charge(&rl, 3, T0);
    cr_assert_eq(md_ratelimit_remaining(&rl, T0, NULL), 1);
    md_ratelimit_charge(&rl, 3, T0 + 1000); /* 7 sent in the minute: over budget */
    cr_assert_eq(md_ratelimit_remaining(&rl, T0 + 1000, NULL), 0);
    cr_assert(!md_ratelimit_acquire(&rl, T0 + 59999, 0, NULL));
    /* the three sent at T0+1000 still count until T0+61000: two more fit in 5 */
    cr_assert(md_ratelimit_acquire(&rl, T0 + 60000, 0, NULL));
    cr_assert(md_ratelimit_acquire(&rl, T0 + 60000, 0, NULL));
    cr_assert(!md_ratelimit_acquire(&rl, T0 + 60000, 0, NULL), "the charged pages still count");
    cr_assert(md_ratelimit_acquire(&rl, T0 + 61000, 0, NULL));
    md_ratelimit_deinit(&rl);
}

Test(ratelimit, background_requests_leave_a_reserve)
{
    md_ratelimit rl;
    md_ratelimit_init(&rl, 10, 100);
    int ok = 0;
    for (int i = 0; i < 10; i++) ok += md_ratelimit_acquire(&rl, T0, 0.2, NULL);
    cr_assert_eq(ok, 8, "two of ten kept for interactive requests");
    cr_assert(md_ratelimit_acquire(&rl, T0, 0, NULL), "interactive takes the reserve");
    md_ratelimit_deinit(&rl);
}

Test(ratelimit, a_request_counted_by_two_budgets_takes_from_both_or_neither)
{
    md_ratelimit all, cls;
    md_ratelimit_init(&all, 3, 0);
    md_ratelimit_init(&cls, 1, 0);
    md_ratelimit *both[] = {&all, &cls};
    cr_assert(md_ratelimit_acquire_all(both, 2, T0, 0, NULL));
    int64_t retry = -1;
    cr_assert(!md_ratelimit_acquire_all(both, 2, T0 + 1000, 0, &retry), "the class budget is out");
    cr_assert_eq(retry, 59000, "until the class token comes back");
    cr_assert_eq(md_ratelimit_remaining(&all, T0 + 1000, NULL), 2,
                 "a refused request takes nothing from the budget that had room");
    md_ratelimit *alone[] = {&all};
    cr_assert(md_ratelimit_acquire_all(alone, 1, T0 + 2000, 0, NULL));
    cr_assert(md_ratelimit_acquire_all(alone, 1, T0 + 3000, 0, NULL));
    cr_assert(md_ratelimit_acquire_all(alone, 1, T0 + 60000, 0, NULL), "T0's token is back");
    cr_assert(!md_ratelimit_acquire_all(both, 2, T0 + 60000, 0, &retry),
              "the class token is back but the shared budget is out");
    cr_assert_eq(retry, 2000, "the longest wait of the two: the shared token spent at T0+2000");
    cr_assert(md_ratelimit_acquire_all(both, 2, T0 + 62000, 0, NULL));
    md_ratelimit_deinit(&all);
    md_ratelimit_deinit(&cls);
}

/* -- back-off and health --------------------------------------------------------------- */

Test(backoff, delays_double_within_jitter_bounds_and_cap)
{
    uint64_t rng = 42;
    for (int rep = 0; rep < 200; rep++) {
        for (int a = 0; a < 8; a++) {
            int64_t d = md_backoff_delay_ms(a, 100, 1000, &rng);
            int64_t full = 100LL << a;
            if (full > 1000) full = 1000;
            cr_assert_geq(d, full / 2, "attempt %d: %lld", a, (long long)d);
            cr_assert_leq(d, full, "attempt %d: %lld", a, (long long)d);
        }
    }
}

Test(backoff, jitter_spreads_the_delays)
{
    uint64_t rng = 7;
    int64_t lo = INT64_MAX, hi = 0;
    for (int i = 0; i < 500; i++) {
        int64_t d = md_backoff_delay_ms(3, 100, 10000, &rng);
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
    }
    cr_assert_lt(lo, 500, "draws reach the lower half");
    cr_assert_gt(hi, 700, "draws reach the upper half");
}

Test(health, score_follows_success_rate_and_latency)
{
    md_health h = {0};
    cr_assert_float_eq(md_health_score(&h, 1000), 1.0, 1e-9, "no calls yet");
    for (int i = 0; i < 10; i++) md_health_record(&h, 1, 0);
    cr_assert_float_eq(md_health_score(&h, 1000), 1.0, 1e-9);
    md_health fast = {0}, slow = {0};
    for (int i = 0; i < 10; i++) {
        md_health_record(&fast, 1, 50);
        md_health_record(&slow, 1, 1000);
    }
    cr_assert_float_eq(md_health_score(&slow, 1000), 0.75, 1e-9);
    cr_assert_gt(md_health_score(&fast, 1000), md_health_score(&slow, 1000));
    md_health half = {0};
    for (int i = 0; i < 10; i++) md_health_record(&half, i % 2, 0);
    cr_assert_float_eq(md_health_score(&half, 1000), 0.5, 1e-9);
    md_health dead = {0};
    for (int i = 0; i < 5; i++) md_health_record(&dead, 0, 10);
    cr_assert_float_eq(md_health_score(&dead, 1000), 0.0, 1e-9);
}

Test(health, only_the_recent_window_counts)
{
    md_health h = {0};
    for (int i = 0; i < 100; i++) md_health_record(&h, 0, 10);
    for (int i = 0; i < MD_HEALTH_WINDOW; i++) md_health_record(&h, 1, 0);
    cr_assert_float_eq(md_health_score(&h, 1000), 1.0, 1e-9);
}
