/* routes_calendar.c - the exchange calendars over REST (API.md "Calendars"):
 *   GET /calendars                    every calendar, its zone and the range it is known for
 *   GET /calendars/{mic}?start&end    its sessions (and closed weekdays) in a date range
 *   GET /calendars/{mic}/status?at=   open or closed now (or at `at`), the next open/close
 * Pure computation on compiled-in data: no store, no network. */
#include "server/routes.h"

#include "calendar/calendar.h"
#include "core/timefmt.h"

#include <string.h>

#define DAY 86400
#define MAX_DAYS (366 * 45) /* the longest range served: the whole of any calendar */

static void render_cal_head(md_buf *b, const md_cal *c)
{
    int64_t first, last;
    md_cal_range(c, &first, &last);
    md_buf_puts(b, "\"calendar\":");
    md_buf_json_str(b, md_cal_mic(c));
    md_buf_puts(b, ",\"name\":");
    md_buf_json_str(b, md_cal_name(c));
    md_buf_puts(b, ",\"timezone\":");
    md_buf_json_str(b, md_cal_zone(c));
    char d[16];
    md_date_format(first * DAY, d);
    md_buf_printf(b, ",\"valid_from\":\"%s\"", d);
    md_date_format(last * DAY, d);
    md_buf_printf(b, ",\"valid_to\":\"%s\"", d);
}

static void render_session(md_buf *b, const md_cal_session *s)
{
    char d[16];
    md_date_format(s->day * DAY, d);
    md_buf_printf(b, "{\"date\":\"%s\",\"open\":", d);
    md_buf_ts(b, s->open, 1);
    md_buf_puts(b, ",\"close\":");
    md_buf_ts(b, s->close, 1);
    if (s->break_start) {
        md_buf_puts(b, ",\"break_start\":");
        md_buf_ts(b, s->break_start, 1);
        md_buf_puts(b, ",\"break_end\":");
        md_buf_ts(b, s->break_end, 1);
    }
    if (s->ext_open != s->open || s->ext_close != s->close) {
        md_buf_puts(b, ",\"extended_open\":");
        md_buf_ts(b, s->ext_open, 1);
        md_buf_puts(b, ",\"extended_close\":");
        md_buf_ts(b, s->ext_close, 1);
    }
    if (s->flags & MD_CAL_EARLY_CLOSE) md_buf_puts(b, ",\"early_close\":true");
    /* outside valid_from..valid_to (a status near either end): the weekly pattern, no
     * holidays - said, so that 2031-01-01 is not taken for a known session */
    if (s->flags & MD_CAL_ESTIMATED) md_buf_puts(b, ",\"estimated\":true");
    md_buf_putc(b, '}');
}

int md_route_calendars(md_services *svc, md_http_req *req, md_http_resp *resp, md_error *err)
{
    md_buf *b = md_http_json(resp, 200);
    md_buf_puts(b, "{\"calendars\":[");
    for (size_t i = 0; i < md_cal_count(); i++) {
        md_buf_puts(b, i ? ",{" : "{");
        render_cal_head(b, md_cal_at(i));
        md_buf_putc(b, '}');
    }
    md_buf_printf(b, "],\"count\":%zu}", md_cal_count());
    return 0;
}

static int find_cal(const md_http_req *req, const md_cal **c, md_error *err)
{
    *c = md_cal_find(req->capture);
    if (!*c)
        return md_error_set(err, MD_ENOTFOUND,
                            "unknown calendar '%.40s' (GET /calendars lists them)", req->capture);
    return 0;
}

static int time_param(const md_http_req *req, const char *name, int64_t *out, md_error *err)
{
    const char *v = md_http_param_get(req, name);
    if (!v) return 0;
    int rc = md_time_parse_str(v, out, err);
    if (rc != 0) md_error_prefix(err, "%s", name);
    return rc < 0 ? rc : 1;
}

static int64_t day_of(int64_t ts)
{
    return ts / DAY - (ts % DAY < 0);
}

int md_route_calendar(md_services *svc, md_http_req *req, md_http_resp *resp, md_error *err)
{
    const md_cal *c;
    int rc = find_cal(req, &c, err);
    if (rc != 0) return rc;
    /* a session belongs to the range when its date's midnight is in [start, end) */
    int64_t start = day_of(md_now()) * DAY, end;
    if ((rc = time_param(req, "start", &start, err)) < 0) return rc;
    int has_end = time_param(req, "end", &end, err);
    if (has_end < 0) return has_end;
    if (has_end && !md_http_param_get(req, "start")) /* end alone: the 31 days before it */
        start = day_of(end + DAY - 1) * DAY - 31 * DAY;
    int64_t d0 = day_of(start + DAY - 1), d1 = has_end ? day_of(end + DAY - 1) : d0 + 31;
    if (has_end && end <= start) return md_error_set(err, MD_ETIMERANGE, "end must be after start");
    int64_t first, last;
    md_cal_range(c, &first, &last);
    if (d0 < first || d1 - 1 > last) {
        char a[16], z[16];
        md_date_format(first * DAY, a);
        md_date_format(last * DAY, z);
        return md_error_set(err, MD_ETIMERANGE, "calendar %s is known from %s to %s", md_cal_mic(c),
                            a, z);
    }
    if (d1 - d0 > MAX_DAYS) return md_error_set(err, MD_ETIMERANGE, "range longer than 45 years");
    md_buf *b = md_http_json(resp, 200);
    md_buf_putc(b, '{');
    render_cal_head(b, c);
    md_buf_puts(b, ",\"sessions\":[");
    int n = 0;
    for (int64_t d = d0; d < d1; d++) {
        md_cal_session s;
        if (md_cal_day(c, d, &s, NULL) != 1) continue;
        if (n++) md_buf_putc(b, ',');
        render_session(b, &s);
    }
    md_buf_printf(b, "],\"count\":%d,\"closed\":[", n);
    /* weekdays of the calendar's week without a session, with the reason */
    int k = 0;
    for (int64_t d = d0; d < d1; d++) {
        md_cal_session s;
        const char *why = NULL;
        if (md_cal_day(c, d, &s, &why) != 0 || !why || !strcmp(why, "weekend")) continue;
        char ds[16];
        md_date_format(d * DAY, ds);
        md_buf_printf(b, "%s{\"date\":\"%s\",\"reason\":", k++ ? "," : "", ds);
        md_buf_json_str(b, why);
        md_buf_putc(b, '}');
    }
    md_buf_puts(b, "]}");
    return 0;
}

int md_route_calendar_status(md_services *svc, md_http_req *req, md_http_resp *resp, md_error *err)
{
    const md_cal *c;
    int rc = find_cal(req, &c, err);
    if (rc != 0) return rc;
    int64_t now = md_now();
    if ((rc = time_param(req, "at", &now, err)) < 0) return rc;
    md_cal_state st;
    if (md_cal_status(c, now, &st) != 0)
        return md_error_set(err, MD_EINTERNAL, "time zone %s not available", md_cal_zone(c));
    md_buf *b = md_http_json(resp, 200);
    md_buf_putc(b, '{');
    render_cal_head(b, c);
    md_buf_puts(b, ",\"at\":");
    md_buf_ts(b, now, 1);
    md_buf_puts(b, ",\"status\":\"");
    md_buf_puts(b, md_cal_phase_name(st.phase));
    md_buf_puts(b, st.phase == MD_CAL_OPEN ? "\",\"is_open\":true" : "\",\"is_open\":false");
    md_buf_puts(b, ",\"next_open\":");
    if (st.next_open)
        md_buf_ts(b, st.next_open, 1);
    else
        md_buf_puts(b, "null");
    md_buf_puts(b, ",\"next_close\":");
    if (st.next_close)
        md_buf_ts(b, st.next_close, 1);
    else
        md_buf_puts(b, "null");
    md_buf_puts(b, ",\"session\":");
    if (st.has_session)
        render_session(b, &st.session);
    else
        md_buf_puts(b, "null");
    md_buf_putc(b, '}');
    return 0;
}
