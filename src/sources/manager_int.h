/* manager_int.h - the parts of the source manager that hold no I/O: circuit breaker, rate
 * limiter, retry back-off and health score. Each is a plain struct driven by the caller
 * with an explicit clock (milliseconds), so the unit tests run them on a fake clock.
 * None of them locks: the manager holds its per-source mutex around every call. The
 * offline feeds' step functions are declared at the end. */
#ifndef MD_SOURCES_MANAGER_INT_H
#define MD_SOURCES_MANAGER_INT_H

#include <stddef.h>
#include <stdint.h>

/* -- circuit breaker (circuit.c; its state diagram is at the top of that file) ------------ */

/* Values are those of the mdagent_source_circuit_state gauge. */
typedef enum md_circuit_state {
    MD_CIRCUIT_CLOSED = 0,
    MD_CIRCUIT_HALF_OPEN = 1,
    MD_CIRCUIT_OPEN = 2,
} md_circuit_state;

#define MD_CIRCUIT_WINDOW_MAX 1000

typedef struct md_circuit_cfg {
    int failures;         /* consecutive failures that open the circuit (>= 1) */
    double failure_ratio; /* failed share of the last `window` calls that opens it (0 = off) */
    int window;           /* calls remembered for the ratio (1..MD_CIRCUIT_WINDOW_MAX) */
    int min_calls;        /* the ratio rule needs at least this many calls in the window */
    int64_t cooldown_ms;  /* time spent open before one probe is let through */
} md_circuit_cfg;

typedef struct md_circuit {
    md_circuit_cfg cfg;
    md_circuit_state state;
    int consecutive;    /* failures in a row */
    uint8_t *outcomes;  /* ring of the last `window` calls: 1 failed, 0 succeeded */
    int n, pos, failed; /* calls held, next slot, failures among them */
    int64_t opened_ms;  /* when it last opened */
    int probing;        /* a half-open probe is in flight */
    int64_t opens;      /* times it opened (diagnostics) */
} md_circuit;

void md_circuit_init(md_circuit *c, const md_circuit_cfg *cfg);
void md_circuit_deinit(md_circuit *c);
/* 1 when a call may go out now. Moves open -> half-open once the cooldown has passed and
 * then admits exactly one probe until its outcome is recorded; 0 otherwise. */
int md_circuit_allow(md_circuit *c, int64_t now_ms);
/* Gives back an admission that was not used (the call did not go out after all), so a
 * half-open circuit can admit another probe. */
void md_circuit_cancel(md_circuit *c);
/* Records the outcome of an admitted call (failed = 1 for a failure). */
void md_circuit_record(md_circuit *c, int failed, int64_t now_ms);
/* The state as /sources shows it: an open circuit whose cooldown has passed reads
 * "half_open" (the next call will probe) without changing anything. */
md_circuit_state md_circuit_state_at(const md_circuit *c, int64_t now_ms);
/* Milliseconds until an open circuit lets a probe through (0 when not open). */
int64_t md_circuit_retry_in_ms(const md_circuit *c, int64_t now_ms);
/* "closed", "open", "half_open". */
const char *md_circuit_state_name(md_circuit_state s);

/* -- rate limiter (ratelimit.c) -------------------------------------------------------- */

/* Per second and per minute: rolling windows, each spent token comes back exactly one
 * second / one minute after it was spent, so no span of that length - whichever way the
 * provider counts - ever holds more than the limit. Per day: a quota of per_day requests
 * per day of the provider, which starts at midnight UTC unless a day function says
 * otherwise (md_ratelimit_set_day: the provider's zone). 0 means no limit of that kind. A
 * pause (429 with Retry-After, a daily-limit notice) refuses everything until it ends.
 * Times are wall-clock milliseconds. This is the local view of a budget; a budget shared
 * between agents (manager.h, md_srcmgr_quota) is kept where they all see it and this one
 * follows it. */
typedef struct md_rl_window {
    int limit;
    int64_t span_ms;
    int64_t *spent; /* ring of the spend times still inside the window */
    int head, count;
} md_rl_window;

/* The provider's day at now_ms: its number (any consecutive integers) and when it ends. */
typedef void (*md_rl_day_fn)(void *ctx, int64_t now_ms, int64_t *day, int64_t *next_reset_ms);

typedef struct md_ratelimit {
    int per_second, per_minute, per_day;
    md_rl_window second, minute;
    int64_t day; /* day number of day_used */
    int day_used;
    int64_t day_ends_ms; /* when day ends */
    int64_t paused_until_ms;
    md_rl_day_fn day_fn; /* NULL: UTC days */
    void *day_ctx;
} md_ratelimit;

#define MD_RATELIMIT_MINUTE_MS 60000
#define MD_RATELIMIT_MAX_PER_MINUTE 100000

void md_ratelimit_init(md_ratelimit *rl, int per_minute, int per_day);
void md_ratelimit_deinit(md_ratelimit *rl);
/* Adds a per-second limit (0 = none). */
void md_ratelimit_set_per_second(md_ratelimit *rl, int per_second);
/* Days of the provider instead of UTC days (fn NULL: UTC again). */
void md_ratelimit_set_day(md_ratelimit *rl, md_rl_day_fn fn, void *ctx);
/* Takes one token when the request may go out now: returns 1. Otherwise returns 0 and
 * sets *retry_in_ms (may be NULL) to when one will be free. With reserve > 0 (background
 * work) the token is only taken when at least that fraction of each limit stays left. */
int md_ratelimit_acquire(md_ratelimit *rl, int64_t now_ms, double reserve, int64_t *retry_in_ms);
/* The same over n limits that all count one request (a provider's budget and its endpoint
 * class's): takes a token from every one of them, or from none (returns 0, *retry_in_ms
 * the longest wait among those that refused). */
int md_ratelimit_acquire_all(md_ratelimit *const *rl, int n, int64_t now_ms, double reserve,
                             int64_t *retry_in_ms);
/* The same for `need` requests at once (an operation that reserves them before it starts).
 * *retry_in_ms is -1 when `need` exceeds a limit itself: that budget never holds them. */
int md_ratelimit_acquire_n(md_ratelimit *const *rl, int n, int need, int64_t now_ms, double reserve,
                           int64_t *retry_in_ms);
/* 1 when `need` tokens could be taken from every one of the n limits now (nothing taken). */
int md_ratelimit_can(md_ratelimit *const *rl, int n, int need, int64_t now_ms, double reserve,
                     int64_t *retry_in_ms);
/* Counts n requests that were made without a token (extra pages of one call); they use up
 * the budget exactly like acquired ones. */
void md_ratelimit_charge(md_ratelimit *rl, int n, int64_t now_ms);
/* Refuses every request until until_ms (a 429's Retry-After); never shortens a pause. */
void md_ratelimit_pause(md_ratelimit *rl, int64_t until_ms);
/* When the day running at now_ms ends (the next per-day reset). */
int64_t md_ratelimit_day_end(md_ratelimit *rl, int64_t now_ms);
/* Requests that could go out now (-1 when unlimited) and, in *reset_ms, the time until
 * the binding limit gives one back (0 when a request could go out now). */
int md_ratelimit_remaining(md_ratelimit *rl, int64_t now_ms, int64_t *reset_ms);
/* The state worth keeping across a restart (the minute's spend times, the day's count, a
 * pause) as one line of text into dst (n bytes); md_ratelimit_load reads it back (what
 * has expired by now_ms is dropped). Load returns 0, or MD_EINVAL for a line it cannot
 * read (rl unchanged). */
void md_ratelimit_save(const md_ratelimit *rl, int64_t now_ms, char *dst, size_t n);
int md_ratelimit_load(md_ratelimit *rl, const char *text, int64_t now_ms);

/* -- retries (backoff.c) --------------------------------------------------------------- */

/* Delay before retry number `attempt` (0 = the first retry): exponential growth
 * base_ms * 2^attempt capped at max_ms, then "equal jitter": a uniform draw in
 * [d/2, d]. *rng is the caller's xorshift state (any nonzero seed). */
int64_t md_backoff_delay_ms(int attempt, int64_t base_ms, int64_t max_ms, uint64_t *rng);
/* Next value of a xorshift64* generator (state must be nonzero). */
uint64_t md_rng_next(uint64_t *state);
/* 1 for errors worth retrying on the same source (MD_ETRANSIENT, MD_ETIMEOUT). */
int md_source_error_retryable(int rc);
/* 1 for errors that count against a source's circuit: transient, timeout, malformed,
 * rate limited (by the provider), unauthorized, and anything unexpected. A "not found"
 * or "interval not offered" is an answer, not a failure. */
int md_source_error_is_failure(int rc);

/* -- health score (backoff.c) ---------------------------------------------------------- */

#define MD_HEALTH_WINDOW 50

/* The last MD_HEALTH_WINDOW calls of a source: success and latency. */
typedef struct md_health {
    uint8_t ok[MD_HEALTH_WINDOW];
    int32_t latency_ms[MD_HEALTH_WINDOW];
    int n, pos;
} md_health;

void md_health_record(md_health *h, int ok, int64_t latency_ms);
/* 0..1: success rate x latency factor, where the factor is 1 for instant answers and
 * falls towards 0.5 as the mean latency of successful calls grows past ref_latency_ms
 * (factor = 0.5 + 0.5 * ref / (ref + mean)). 1 when nothing was recorded yet. */
double md_health_score(const md_health *h, int64_t ref_latency_ms);

/* -- offline feeds (simulator.c, replay.c; driven by feed.c) --------------------------- */

struct md_source;
struct md_tick_sink;
/* Push what is due at wall time now_ms; return when the next step is due. */
int64_t md_sources__sim_step(struct md_source *src, const struct md_tick_sink *sink,
                             int64_t now_ms);
int64_t md_sources__replay_step(struct md_source *src, const struct md_tick_sink *sink,
                                int64_t now_ms);
/* Playback of every series starts over at now_ms. */
void md_sources__replay_restart(struct md_source *src, int64_t now_ms);

#endif
