/* Quality judged against the symbol's exchange calendar (quality/calendar.h with an md_cal,
 * md_quality_scan_cal) and the one symbol -> calendar resolver (calendar/symbols.c).
 *
 * Daily: the real Microsoft bars of data/sample/MSFT.csv (2000-09-27 .. 2001-09-27, with
 * the 2001-09-11..14 closure) are the independent reference - a year of real NYSE trading
 * dates. Intraday: 1m sessions written from the NYSE's published hours (09:30-16:00 New
 * York, i.e. 14:30-21:00Z in winter, 13:30-20:00Z in summer), not from the calendar. */
#include "calendar/calendar.h"
#include "core/config.h"
#include "core/mem.h"
#include "quality/quality.h"
#include "sample_bars.h"

#include <criterion/criterion.h>
#include <string.h>

#define DAY 86400
#define GAP MD_QRULE_SOFT(MD_CHECK_GAP)
#define OFF MD_QRULE_SOFT(MD_CHECK_OFF_SESSION)

static int64_t T(const char *s)
{
    int64_t ts;
    cr_assert_eq(md_time_parse_str(s, &ts, NULL), 0, "%s", s);
    return ts;
}

static size_t count_rule(const md_qevent_vec *ev, int rule)
{
    size_t k = 0;
    for (size_t i = 0; i < ev->n; i++) k += ev->v[i].rule == rule;
    return k;
}

static const md_qevent *first_rule(const md_qevent_vec *ev, int rule)
{
    for (size_t i = 0; i < ev->n; i++)
        if (ev->v[i].rule == rule) return &ev->v[i];
    return NULL;
}

/* Scans v against calendar mic (NULL: learned) and scores it like /quality (history). */
static void scan(const md_bar_vec *v, md_interval iv, const char *mic, md_qevent_vec *ev,
                 md_quality_score *score)
{
    md_quality_params p;
    md_quality_params_default(&p);
    md_qevent_vec_init(ev);
    md_quality_scan_cal(&p, iv, mic ? md_cal_find(mic) : NULL, v->v, v->n, NULL, ev);
    md_quality_tally t;
    md_quality_tally_init(&t);
    t.bars = (int64_t)v->n;
    for (size_t i = 0; i < ev->n; i++) md_quality_tally_add(&t, &ev->v[i]);
    if (score) md_quality_score_tally(&p, &t, 100, score);
}

static void msft(md_bar_vec *v)
{
    md_bar_vec_init(v);
    md_test_sample_bars("MSFT", v);
    cr_assert_eq(v->n, 249);
}

static void remove_day(md_bar_vec *v, const char *date)
{
    long i = md_test_find_day(v, date);
    cr_assert(i >= 0, "%s not in the data", date);
    memmove(&v->v[i], &v->v[i + 1], (v->n - (size_t)i - 1) * sizeof *v->v);
    v->n--;
}

/* -- daily --------------------------------------------------------------------------------- */

Test(quality_exchange, a_real_year_of_nyse_daily_bars_has_no_gap_and_is_complete)
{
    md_bar_vec v;
    msft(&v);
    md_qevent_vec ev;
    md_quality_score s;
    scan(&v, MD_IV_1D, "XNYS", &ev, &s);
    cr_assert_eq(count_rule(&ev, GAP), 0, "%s", ev.n ? ev.v[0].detail : "");
    cr_assert_eq(count_rule(&ev, OFF), 0);
    cr_assert_eq(s.dim[MD_QDIM_COMPLETENESS], 100);
    /* the calendar expects exactly the sessions the real data has */
    md_cal_session x;
    int64_t d0 = v.v[0].ts / DAY, d1 = v.v[v.n - 1].ts / DAY + 1;
    cr_assert_eq(md_cal_count_sessions(md_cal_find("XNYS"), d0, d1), 249);
    cr_assert_eq(md_cal_day(md_cal_find("XNYS"), T("2001-09-12") / DAY, &x, NULL), 0);
    md_qevent_vec_deinit(&ev);
    md_bar_vec_deinit(&v);
}

Test(quality_exchange, the_september_2001_closure_is_no_gap)
{
    md_bar_vec v;
    msft(&v);
    /* the real data jumps from Monday 2001-09-10 to Monday 2001-09-17 */
    long i = md_test_find_day(&v, "2001-09-17");
    cr_assert(i > 0);
    cr_assert_eq(v.v[i - 1].ts, T("2001-09-10"));
    md_qevent_vec ev;
    scan(&v, MD_IV_1D, "XNYS", &ev, NULL);
    for (size_t k = 0; k < ev.n; k++) cr_assert(ev.v[k].rule != GAP, "gap: %s", ev.v[k].detail);
    md_qevent_vec_deinit(&ev);
    /* the learned calendar (the fallback) cannot tell: 4 missing weekdays */
    scan(&v, MD_IV_1D, NULL, &ev, NULL);
    const md_qevent *g = first_rule(&ev, GAP);
    cr_assert(g && g->ts == T("2001-09-17") && g->value == 4);
    md_qevent_vec_deinit(&ev);
    md_bar_vec_deinit(&v);
}

Test(quality_exchange, one_deleted_session_is_one_gap_naming_its_date)
{
    md_bar_vec v;
    msft(&v);
    remove_day(&v, "2001-03-15"); /* a Thursday */
    md_qevent_vec ev;
    md_quality_score s;
    scan(&v, MD_IV_1D, "XNYS", &ev, &s);
    cr_assert_eq(count_rule(&ev, GAP), 1);
    const md_qevent *g = first_rule(&ev, GAP);
    cr_assert_eq(g->ts, T("2001-03-16"), "reported on the bar after the gap");
    cr_assert_eq(g->value, 1);
    cr_assert(strstr(g->detail, "2001-03-15"), "%s", g->detail);
    cr_assert_lt(s.dim[MD_QDIM_COMPLETENESS], 100);
    md_qevent_vec_deinit(&ev);
    /* a session next to a holiday weekend: Thursday 2001-04-12 before Good Friday */
    md_bar_vec_deinit(&v);
    msft(&v);
    remove_day(&v, "2001-04-12");
    scan(&v, MD_IV_1D, "XNYS", &ev, NULL);
    cr_assert_eq(count_rule(&ev, GAP), 1);
    g = first_rule(&ev, GAP);
    cr_assert_eq(g->ts, T("2001-04-16"));
    cr_assert_eq(g->value, 1, "Good Friday 2001-04-13 is no missing session");
    cr_assert(strstr(g->detail, "2001-04-12"), "%s", g->detail);
    md_qevent_vec_deinit(&ev);
    md_bar_vec_deinit(&v);
}

Test(quality_exchange, bars_on_a_saturday_or_a_holiday_are_findings_not_gaps)
{
    md_bar_vec v;
    msft(&v);
    /* a copy of the Friday 2001-03-16 bar on Saturday 2001-03-17, and of the 2001-07-03 bar
     * on Independence Day (a Wednesday) */
    md_bar_vec w;
    md_bar_vec_init(&w);
    for (size_t k = 0; k < v.n; k++) {
        md_bar_vec_push(&w, &v.v[k]);
        md_bar extra = v.v[k];
        if (extra.ts == T("2001-03-16") || extra.ts == T("2001-07-03")) {
            extra.ts += DAY;
            md_bar_vec_push(&w, &extra);
        }
    }
    cr_assert_eq(w.n, v.n + 2);
    md_qevent_vec ev;
    scan(&w, MD_IV_1D, "XNYS", &ev, NULL);
    cr_assert_eq(count_rule(&ev, OFF), 2);
    cr_assert_eq(count_rule(&ev, GAP), 0);
    const md_qevent *o = first_rule(&ev, OFF);
    cr_assert_eq(o->ts, T("2001-03-17"));
    cr_assert(strstr(o->detail, "weekend"), "%s", o->detail);
    cr_assert_eq(md_qrule_dim(OFF), MD_QDIM_CONSISTENCY);
    int found = 0;
    for (size_t k = 0; k < ev.n; k++)
        if (ev.v[k].rule == OFF && ev.v[k].ts == T("2001-07-04"))
            found = strstr(ev.v[k].detail, "Independence") != NULL;
    cr_assert(found, "the holiday is named");
    md_qevent_vec_deinit(&ev);
    md_bar_vec_deinit(&w);
    md_bar_vec_deinit(&v);
}

/* -- intraday -------------------------------------------------------------------------------- */

/* 1m bars every minute of [from, to), a gentle random-free walk. */
static void minutes(md_bar_vec *v, int64_t from, int64_t to)
{
    for (int64_t t = from; t < to; t += 60) {
        md_bar b;
        md_bar_init(&b);
        b.ts = t;
        b.open = b.close = 100 + (double)((t / 60) % 7) * 0.01;
        b.high = b.close + 0.01;
        b.low = b.close - 0.01;
        b.volume = 1000 + (double)((t / 60) % 13);
        b.source = MD_SRC_CSV;
        md_bar_vec_push(v, &b);
    }
}

Test(quality_exchange, an_intraday_day_missing_30_minutes_has_one_gap)
{
    md_bar_vec v;
    md_bar_vec_init(&v);
    /* Tuesday and Wednesday 2024-01-09/10, EST: 14:30Z-21:00Z */
    minutes(&v, T("2024-01-09T14:30:00Z"), T("2024-01-09T21:00:00Z"));
    minutes(&v, T("2024-01-10T14:30:00Z"), T("2024-01-10T21:00:00Z"));
    md_qevent_vec ev;
    md_quality_score s;
    scan(&v, MD_IV_1M, "XNYS", &ev, &s);
    cr_assert_eq(count_rule(&ev, GAP), 0, "the night is no gap");
    cr_assert_eq(count_rule(&ev, OFF), 0);
    cr_assert_eq(s.dim[MD_QDIM_COMPLETENESS], 100);
    md_qevent_vec_deinit(&ev);
    /* drop 15:00Z..15:29Z of the second day */
    md_bar_vec w;
    md_bar_vec_init(&w);
    for (size_t i = 0; i < v.n; i++)
        if (v.v[i].ts < T("2024-01-10T15:00:00Z") || v.v[i].ts >= T("2024-01-10T15:30:00Z"))
            md_bar_vec_push(&w, &v.v[i]);
    scan(&w, MD_IV_1M, "XNYS", &ev, NULL);
    cr_assert_eq(count_rule(&ev, GAP), 1);
    const md_qevent *g = first_rule(&ev, GAP);
    cr_assert_eq(g->ts, T("2024-01-10T15:30:00Z"));
    cr_assert_eq(g->value, 30);
    md_qevent_vec_deinit(&ev);
    md_bar_vec_deinit(&w);
    md_bar_vec_deinit(&v);
}

Test(quality_exchange, a_holiday_and_an_early_close_are_no_intraday_gap)
{
    md_bar_vec v;
    md_bar_vec_init(&v);
    /* EDT: Wednesday 2024-07-03 closes at 13:00 New York (17:00Z), Thursday July 4 is a
     * holiday, Friday 2024-07-05 trades 13:30Z-20:00Z */
    minutes(&v, T("2024-07-03T13:30:00Z"), T("2024-07-03T17:00:00Z"));
    minutes(&v, T("2024-07-05T13:30:00Z"), T("2024-07-05T20:00:00Z"));
    md_qevent_vec ev;
    scan(&v, MD_IV_1M, "XNYS", &ev, NULL);
    cr_assert_eq(count_rule(&ev, GAP), 0, "%s", ev.n ? ev.v[0].detail : "");
    cr_assert_eq(count_rule(&ev, OFF), 0);
    md_qevent_vec_deinit(&ev);
    md_bar_vec_deinit(&v);
}

Test(quality_exchange, intraday_bars_outside_extended_hours_are_findings)
{
    md_bar_vec v;
    md_bar_vec_init(&v);
    /* pre-market 04:00-09:30 New York is allowed and not expected: 09:00Z-14:30Z in winter */
    minutes(&v, T("2024-01-09T09:00:00Z"), T("2024-01-09T09:05:00Z"));
    minutes(&v, T("2024-01-09T14:30:00Z"), T("2024-01-09T21:00:00Z"));
    /* 03:00Z on the 10th is 22:00 New York: after the 20:00 post-market close */
    minutes(&v, T("2024-01-10T03:00:00Z"), T("2024-01-10T03:01:00Z"));
    /* Saturday 2024-01-13 */
    minutes(&v, T("2024-01-13T15:00:00Z"), T("2024-01-13T15:01:00Z"));
    md_qevent_vec ev;
    scan(&v, MD_IV_1M, "XNYS", &ev, NULL);
    cr_assert_eq(count_rule(&ev, OFF), 2);
    cr_assert_eq(first_rule(&ev, OFF)->ts, T("2024-01-10T03:00:00Z"));
    cr_assert_eq(count_rule(&ev, GAP), 1, "pre-market to the open is no gap");
    cr_assert_eq(first_rule(&ev, GAP)->value, 390 * 3, "the sessions of the 10th, 11th, 12th");
    md_qevent_vec_deinit(&ev);
    md_bar_vec_deinit(&v);
}

Test(quality_exchange, an_off_session_bar_is_explained_by_the_exchange_day_not_the_utc_day)
{
    md_bar_vec v;
    md_bar_vec_init(&v);
    minutes(&v, T("2024-11-27T14:30:00Z"), T("2024-11-27T21:00:00Z"));
    /* 2024-11-28T03:00Z is Wednesday 22:00 in New York (after the post-market), not
     * Thanksgiving; 2024-11-30T02:00Z is Friday 21:00 there, not a Saturday */
    minutes(&v, T("2024-11-28T03:00:00Z"), T("2024-11-28T03:01:00Z"));
    /* Thanksgiving itself, at noon in New York */
    minutes(&v, T("2024-11-28T17:00:00Z"), T("2024-11-28T17:01:00Z"));
    minutes(&v, T("2024-11-29T14:30:00Z"), T("2024-11-29T18:00:00Z"));
    minutes(&v, T("2024-11-30T02:00:00Z"), T("2024-11-30T02:01:00Z"));
    md_qevent_vec ev;
    scan(&v, MD_IV_1M, "XNYS", &ev, NULL);
    cr_assert_eq(count_rule(&ev, OFF), 3);
    for (size_t i = 0; i < ev.n; i++) {
        const md_qevent *q = &ev.v[i];
        if (q->rule != OFF) continue;
        if (q->ts == T("2024-11-28T17:00:00Z"))
            cr_expect(strstr(q->detail, "closed that day (Thanksgiving Day)"), "%s", q->detail);
        else
            cr_expect(strstr(q->detail, "outside XNYS's trading hours"), "%s", q->detail);
    }
    md_qevent_vec_deinit(&ev);
    md_bar_vec_deinit(&v);
}

Test(quality_exchange, crypto_trades_every_day_and_timeliness_counts_sessions)
{
    md_bar_vec v;
    md_bar_vec_init(&v);
    for (int64_t d = T("2024-01-01"); d < T("2024-02-01"); d += DAY) {
        md_bar b;
        md_bar_init(&b);
        b.ts = d;
        b.open = b.high = b.low = b.close = 40000;
        b.volume = 10;
        md_bar_vec_push(&v, &b);
    }
    md_qevent_vec ev;
    scan(&v, MD_IV_1D, "24/7", &ev, NULL);
    cr_assert_eq(count_rule(&ev, OFF), 0);
    cr_assert_eq(count_rule(&ev, GAP), 0);
    md_qevent_vec_deinit(&ev);
    /* XNYS: a live daily series last stamped Friday 2024-03-01 is not late on Sunday */
    md_calendar cal;
    md_calendar_init(&cal, MD_IV_1D, md_cal_find("XNYS"), NULL, 0);
    md_quality_params p;
    md_quality_params_default(&p);
    int64_t lag;
    md_quality_timeliness(&p, &cal, 1, T("2024-03-01"), T("2024-03-03T12:00:00Z"), &lag);
    cr_assert_eq(lag, 0);
    md_quality_timeliness(&p, &cal, 1, T("2024-03-01"), T("2024-03-06T12:00:00Z"), &lag);
    cr_assert_eq(lag, 2, "Monday's and Tuesday's sessions ended; Wednesday's bar has not");
    md_calendar_deinit(&cal);
    md_bar_vec_deinit(&v);
}

/* -- the resolver ------------------------------------------------------------------------- */

/* A configuration from a YAML text (may be NULL) and a calendar.symbols value (may be NULL). */
static int load(md_config *cfg, const char *yaml, const char *pairs, md_error *err)
{
    md_config_init(cfg);
    int rc = 0;
    if (yaml) {
        const char *p = md_test_path("calendars.yaml");
        md_test_write(p, yaml);
        rc = md_config_load_file(cfg, p, err);
    }
    if (rc == 0 && pairs) rc = md_config_set(cfg, "calendar.symbols", pairs, "test", err);
    return rc;
}

typedef struct cal_case {
    const char *symbol, *mic;
    md_cal_from from;
} cal_case;

/* Each case's calendar and rule from m; with cfg, md_cal_for_symbol agrees. */
static void expect_calendars(const md_cal_map *m, const md_config *cfg, const cal_case *cases,
                             size_t n)
{
    for (size_t i = 0; i < n; i++) {
        md_cal_from from;
        const md_cal *c = md_cal_map_find(m, cases[i].symbol, &from);
        cr_expect_str_eq(md_cal_mic(c), cases[i].mic, "%s", cases[i].symbol);
        cr_expect_eq(from, cases[i].from, "%s: %s", cases[i].symbol, md_cal_from_name(from));
        if (!cfg) continue;
        const md_cal *one;
        md_error err;
        cr_assert_eq(md_cal_for_symbol(cfg, cases[i].symbol, &one, NULL, &err), 0);
        cr_expect_eq(one, c);
    }
}

Test(quality_exchange, a_symbols_calendar_comes_from_config_then_symbols_then_class)
{
    md_config cfg;
    md_error err;
    cr_assert_eq(load(&cfg,
                      "symbols:\n  SAP: {calendar: XPAR}\n  SHOP: {calendar: XTKS}\n"
                      "  GOLD: {class: crypto}\n  EURX: {class: fx}\n",
                      "SAP:XETR, btc-usd:24/5", &err),
                 0, "%s", err.msg);
    md_cal_map *m;
    cr_assert_eq(md_cal_map_new(&cfg, &m, &err), 0, "%s", err.msg);
    static const cal_case cases[] = {
        {"SAP", "XETR", MD_CAL_FROM_CONFIG}, /* the flat key wins over the section */
        {"BTC-USD", "24/5", MD_CAL_FROM_CONFIG}, {"SHOP", "XTKS", MD_CAL_FROM_SYMBOLS},
        {"GOLD", "24/7", MD_CAL_FROM_CLASS},     {"EURX", "24/5", MD_CAL_FROM_CLASS},
        {"AAPL", "XNYS", MD_CAL_FROM_DEFAULT},   {"VOD.L", "XLON", MD_CAL_FROM_DEFAULT},
        {"EURUSD", "24/5", MD_CAL_FROM_DEFAULT}, {"PEPE-USD", "24/7", MD_CAL_FROM_DEFAULT},
        {"BRK-B", "XNYS", MD_CAL_FROM_DEFAULT},
    };
    expect_calendars(m, &cfg, cases, MD_ARRAY_LEN(cases));
    md_cal_map_free(m);
    md_config_deinit(&cfg);
    cr_assert_str_eq(md_cal_mic(md_cal_map_find(NULL, "ETH-USD", NULL)), "24/7");
}

/* The providers' exchange names (from their documentation: Yahoo chart meta.exchangeName,
 * Twelve Data meta.mic_code / exchange, Polygon primary_exchange, Finnhub profile2 exchange)
 * map to the calendars; an unknown one to none. */
Test(quality_exchange, provider_exchange_names_map_to_calendars)
{
    static const struct {
        const char *name, *mic;
    } cases[] = {
        {"NMS", "XNAS"},
        {"NGM", "XNAS"},
        {"NYQ", "XNYS"},
        {"PCX", "XNYS"},
        {"ASE", "XNYS"},
        {"LSE", "XLON"},
        {"GER", "XETR"},
        {"PAR", "XPAR"},
        {"EBS", "XSWX"},
        {"JPX", "XTKS"},
        {"HKG", "XHKG"},
        {"CCC", "24/7"},
        {"CCY", "24/5"}, /* Yahoo */
        {"XNGS", "XNAS"},
        {"XNYS", "XNYS"},
        {"XLON", "XLON"},
        {"XETR", "XETR"},
        {"XJPX", "XTKS"},
        {"NASDAQ", "XNAS"},
        {"NYSE", "XNYS"},
        {"Euronext", NULL}, /* TD */
        {"XNAS", "XNAS"},
        {"ARCX", "XNYS"},
        {"BATS", "XNYS"},
        {"XASE", "XNYS"}, /* Polygon */
        {"NASDAQ NMS - GLOBAL MARKET", "XNAS"},
        {"NEW YORK STOCK EXCHANGE, INC.", "XNYS"},
        {"LONDON STOCK EXCHANGE", "XLON"},
        {"XETRA", "XETR"},
        {"SIX SWISS EXCHANGE", "XSWX"},
        {"TOKYO STOCK EXCHANGE", "XTKS"},
        {"HONG KONG EXCHANGES AND CLEARING LTD", "XHKG"},
        {"  nms ", "XNAS"}, /* Finnhub; case and blanks */
        {"OTC", NULL},
        {"", NULL},
        {"PNK", NULL},
        {"TORONTO STOCK EXCHANGE", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const md_cal *c = md_cal_for_exchange(cases[i].name);
        if (!cases[i].mic)
            cr_expect_null(c, "'%s' -> %s", cases[i].name, c ? md_cal_mic(c) : "");
        else
            cr_expect(c && strcmp(md_cal_mic(c), cases[i].mic) == 0, "'%s' -> %s, not %s",
                      cases[i].name, c ? md_cal_mic(c) : "none", cases[i].mic);
    }
    cr_expect_null(md_cal_for_exchange(NULL));
}

/* A reported exchange is a symbol's calendar unless the configuration names one (pair,
 * symbols.calendar or symbols.class); a later report replaces it (and says whether the
 * calendar changed); a name that maps to no calendar is not noted. */
Test(quality_exchange, a_reported_exchange_ranks_below_the_configuration)
{
    md_cal_reported_clear();
    md_config cfg;
    md_error err;
    cr_assert_eq(load(&cfg, "symbols:\n  SHOP: {calendar: XTKS}\n  GOLD: {class: crypto}\n",
                      "SAP:XETR", &err),
                 0, "%s", err.msg);
    cr_assert_not_null(md_cal_note_reported("VOD", "LSE", NULL));
    cr_assert_not_null(md_cal_note_reported("SAP", "PAR", NULL));
    cr_assert_not_null(md_cal_note_reported("SHOP", "NYQ", NULL));
    cr_assert_not_null(md_cal_note_reported("GOLD", "NYQ", NULL));
    int changed = -1;
    cr_assert_not_null(md_cal_note_reported("BRKX", "NYQ", &changed));
    cr_expect_eq(changed, 1, "a first report changes the calendar");
    cr_assert_not_null(md_cal_note_reported("BRKX", "NYSE", &changed));
    cr_expect_eq(changed, 0, "another name of the same calendar changes nothing");
    cr_assert_not_null(md_cal_note_reported("BRKX", "NMS", &changed)); /* the later stands */
    cr_expect_eq(changed, 1, "a report of another calendar changes it");
    changed = -1;
    cr_assert_null(md_cal_note_reported("OTCX", "PNK", &changed));
    cr_expect_eq(changed, 0, "a name that maps to no calendar changes nothing");
    md_cal_map *m;
    cr_assert_eq(md_cal_map_new(&cfg, &m, &err), 0, "%s", err.msg);
    static const cal_case cases[] = {
        {"VOD", "XLON", MD_CAL_FROM_PROVIDER},  {"SAP", "XETR", MD_CAL_FROM_CONFIG},
        {"SHOP", "XTKS", MD_CAL_FROM_SYMBOLS},  {"GOLD", "24/7", MD_CAL_FROM_CLASS},
        {"BRKX", "XNAS", MD_CAL_FROM_PROVIDER}, {"OTCX", "XNYS", MD_CAL_FROM_DEFAULT},
    };
    expect_calendars(m, NULL, cases, MD_ARRAY_LEN(cases));
    cr_expect_str_eq(md_cal_from_name(MD_CAL_FROM_PROVIDER), "provider");
    md_cal_reported_clear();
    cr_expect_str_eq(md_cal_mic(md_cal_map_find(m, "VOD", NULL)), "XNYS");
    md_cal_map_free(m);
    md_config_deinit(&cfg);
}

Test(quality_exchange, an_unknown_calendar_in_config_is_an_error_naming_the_key)
{
    static const struct {
        const char *yaml, *pairs, *want;
    } cases[] = {
        {NULL, "SAP:XXXX", "calendar.symbols: 'SAP:XXXX'"},
        {NULL, "AAPL:XNAS,SAP", "calendar.symbols: 'SAP'"},
        {"symbols:\n  SAP: {calendar: MARS}\n", NULL, "symbols.SAP.calendar: 'MARS'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        md_config cfg;
        md_error err;
        cr_assert_eq(load(&cfg, cases[i].yaml, cases[i].pairs, &err), 0, "%s", err.msg);
        md_cal_map *m = NULL;
        cr_expect_eq(md_cal_map_new(&cfg, &m, &err), MD_ECONFIG, "%s", cases[i].want);
        cr_expect_null(m);
        cr_expect(strstr(err.msg, cases[i].want), "%s\n  got: %s", cases[i].want, err.msg);
        md_config_deinit(&cfg);
    }
}
