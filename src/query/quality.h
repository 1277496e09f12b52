/* quality.h (query) - grading stored data: GET /quality/{symbol}, /quality/report,
 * /validate/{symbol}, and the mdagent_quality_score{symbol} gauge. Used by the REST
 * routes; a CLI command can call the same functions.
 *
 * A grade is computed when asked, from what is stored for the range:
 *   - the stored bars (the newest quality.max_bars of the range) and a little stored
 *     context before them, run through the soft rules again (md_quality_scan), so the
 *     answer reflects the data as it is now, whatever order it arrived in;
 *   - the findings only the writer could see, recorded in the store: rejected bars
 *     (validity), duplicates and cross-source disagreements (uniqueness, consistency);
 *   - timeliness from the series' live mark (md_store_get_live) and its calendar.
 * An interval that is not stored but aggregated from finer bars (like /historical does)
 * grades those finer stored bars. */
#ifndef MD_QUERY_QUALITY_H
#define MD_QUERY_QUALITY_H

#include "core/buf.h"
#include "query/query.h"
#include "quality/quality.h"

typedef struct md_quality_req {
    char symbol[MD_SYMBOL_MAX + 1];
    md_interval iv;
    int iv_given;       /* 0: the symbol's default (1d when stored, else the finest stored) */
    int64_t start, end; /* [start, end); MD_TS_MIN / MD_TS_MAX when not given */
    int start_given, end_given;
    size_t max_issues;   /* ?issues= (default 20) */
    size_t max_failures; /* ?limit= for /validate (default 1000) */
    const md_link *link; /* URLs of other pages (query.h "paging"); NULL: none */
} md_quality_req;

/* Fills req from request parameters (interval, start, end, issues, limit), like
 * md_history_req_parse. symbol may be NULL (/quality/report). */
int md_quality_req_parse(md_quality_req *req, const char *symbol,
                         const char *(*get)(void *ctx, const char *name), void *ctx, md_error *err);

typedef struct md_quality_grade {
    char symbol[MD_SYMBOL_MAX + 1];
    md_interval iv;       /* the stored interval graded */
    md_interval asked_iv; /* the interval asked (differs when aggregated from iv) */
    double weight[MD_QDIM_COUNT];
    int64_t start, end; /* as asked */
    int start_given, end_given;
    int64_t first_ts, last_ts; /* the bars graded (when bars > 0) */
    int truncated;             /* the range held more than quality.max_bars bars: the newest
                                * were graded; page.next is the end of the older rest */
    md_page page;
    int live;         /* the series has received current bars */
    int64_t lag_bars; /* expected bars after the newest one (live series) */
    md_quality_tally tally;
    md_quality_score score;
    md_qevent_vec issues; /* every finding of the range, most severe first */
} md_quality_grade;

void md_quality_grade_deinit(md_quality_grade *g);

/* Grades one symbol. MD_ENOTFOUND for a symbol with nothing stored, MD_ENODATA when the
 * asked interval is neither stored nor aggregated from a stored one. Sets the
 * mdagent_quality_score gauge when the request is the default one (no range, no interval). */
int md_query_quality(md_services *svc, const md_quality_req *req, md_quality_grade *out,
                     md_error *err);

/* {"symbol","interval"[,"requested_interval"],"start","end","grade","score","dimensions":{..},
 *  "weights":{..},
 *  "bars","expected_bars","missing_bars","rejected_bars","first","last","live","lag_bars",
 *  "truncated"[,"next"],"issue_counts":{rule:n},"issues_total","issues_truncated",
 *  "issues":[{"rule","dimension","timestamp","severity","value","threshold","source",
 *  "other_source"?,"message"}]}. With truncated, "next" (link given) is the URL grading the
 *  older rest of the range (end = the first bar graded), also copied to next_url (may be
 *  NULL). */
void md_render_quality_json(md_buf *b, const md_quality_grade *g, size_t max_issues,
                            const md_link *link, md_buf *next_url);

/* Grades every stored series (symbol, interval) in the range (req->iv_given filters the
 * interval), worst first. *out is a heap array of *n grades (md_quality_grades_free). */
int md_query_quality_report(md_services *svc, const md_quality_req *req, md_quality_grade **out,
                            size_t *n, md_error *err);
void md_quality_grades_free(md_quality_grade *g, size_t n);
/* {"symbols":[{"symbol","interval","grade","score","bars","issues","dimensions",
 *  "top_issue"}],"count"} */
void md_render_quality_report_json(md_buf *b, const md_quality_grade *g, size_t n);

/* One failing bar of /validate. */
typedef struct md_validate_failure {
    md_qevent ev;
    int stored; /* 1: a rejected delivery recorded by the writer (the bar is not stored) */
} md_validate_failure;

typedef struct md_validate_result {
    char symbol[MD_SYMBOL_MAX + 1];
    md_interval iv;
    int64_t start, end;
    int start_given, end_given;
    size_t checked;         /* stored bars checked */
    size_t failed_bars;     /* stored bars with at least one failure */
    size_t rejected;        /* rejected deliveries recorded in the range */
    md_validate_failure *v; /* oldest first */
    size_t n, total;        /* listed, and found in the bars read */
    md_page page;           /* where the next page starts (a later `start`) */
} md_validate_result;

void md_validate_result_deinit(md_validate_result *r);
/* Runs the hard and soft rules on the stored bars of the range and lists each failure with
 * its rule and reason, together with the rejected deliveries recorded in the range. Pages
 * like every list (query.h): the oldest quality.max_bars bars are read; the answer lists
 * the failures of [start, P) where P is the timestamp before which at most `limit` failures
 * lie (a bar's failures are never split between pages) or the first bar not read, and
 * page.next = P; counts (checked, passed, failed, rejected) cover [start, P). */
int md_query_validate(md_services *svc, const md_quality_req *req, md_validate_result *out,
                      md_error *err);
/* {"symbol","interval","start","end","checked","passed","failed","rejected","failures":
 *  [{"timestamp","rule","kind":"hard"|"soft"|"rejected","dimension","severity","value",
 *  "threshold","source","reason"}],"total","truncated"[,"next"]}; the next page's URL also
 *  goes to next_url (may be NULL). */
void md_render_validate_json(md_buf *b, const md_validate_result *r, const md_link *link,
                             md_buf *next_url);

/* -- the mdagent_quality_score{symbol} gauge -------------------------------------------- */

typedef struct md_quality_gauge md_quality_gauge;

/* Keeps the gauge of every symbol current: a symbol written to is graded again on a worker
 * (at most every 5 s per symbol; a later touch or md_quality_gauge_poke picks up what was
 * deferred). Grades every stored symbol once at start. */
md_quality_gauge *md_quality_gauge_new(md_services *svc);
/* Stops scheduling: later touches and pokes do nothing (call before the worker pool is
 * freed; writes may still arrive while other parts shut down). NULL is fine. */
void md_quality_gauge_stop(md_quality_gauge *g);
/* After md_quality_gauge_stop and the worker pool has stopped, and once nothing writes any
 * more. NULL is fine. */
void md_quality_gauge_free(md_quality_gauge *g);
/* Marks a symbol written to (writer listener; cheap, never blocks on the store). */
void md_quality_gauge_touch(md_quality_gauge *g, const char *symbol);
/* Schedules the deferred symbols (called from GET /metrics; never blocks). */
void md_quality_gauge_poke(md_quality_gauge *g);

#endif
