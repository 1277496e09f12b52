/* sourcetest.h - assertions shared by the provider tests (test_sources_*.c). */
#ifndef MD_SOURCETEST_H
#define MD_SOURCETEST_H

#include "core/bar.h"
#include "core/timefmt.h"
#include "fakeprovider.h"
#include "sources/providers.h"
#include "sources/registry.h"

#include <criterion/criterion.h>
#include <math.h>

/* Epoch seconds of a time text ("2024-03-04", "2024-03-08T20:30:00Z"). */
static inline int64_t T(const char *s)
{
    int64_t t;
    md_error err;
    if (md_time_parse_str(s, &t, &err) != 0) abort();
    return t;
}

/* Every field of a bar, prices compared exactly (parsers must hit the nearest double). */
#define CHECK_BAR(b, when, o, h, l, c, v)                                                          \
    do {                                                                                           \
        const md_bar *b_ = (b);                                                                    \
        char ts_[MD_TIME_STR_MAX];                                                                 \
        md_time_format(b_->ts, ts_);                                                               \
        cr_expect_eq(b_->ts, T(when), "ts %s, want %s", ts_, when);                                \
        cr_expect(b_->open == (o), "%s open %.17g != %.17g", when, b_->open, (double)(o));         \
        cr_expect(b_->high == (h), "%s high %.17g != %.17g", when, b_->high, (double)(h));         \
        cr_expect(b_->low == (l), "%s low %.17g != %.17g", when, b_->low, (double)(l));            \
        cr_expect(b_->close == (c), "%s close %.17g != %.17g", when, b_->close, (double)(c));      \
        cr_expect(b_->volume == (v), "%s volume %.17g != %.17g", when, b_->volume, (double)(v));   \
    } while (0)

/* Creates the named source on cfg, asserting success. */
static inline md_source *mk(const char *name, const md_config *cfg)
{
    md_source *s = NULL;
    md_error err;
    cr_assert_eq(md_source_create(name, cfg, &s, &err), 0, "%s", err.msg);
    return s;
}

/* The request log of the fake server contains needle. */
static inline int fake_saw(const md_fake *f, const char *needle)
{
    char *r = md_fake_requests(f);
    int hit = strstr(r, needle) != NULL;
    if (!hit) fprintf(stderr, "requests: %s\n(no '%s')\n", r, needle);
    free(r);
    return hit;
}

#endif
