/* Allocation failure (core/mem.h): it aborts with a message, never returns NULL, and the
 * fault-injection counter reaches every allocation - ours and Jansson's. The sweeps fail
 * each allocation of a real operation in turn (SQLite's way of testing its OOM paths) and
 * check that every one ends in the abort message, never in a crash or a wrong answer. */
#include "core/mem.h"

#include "ingest/batch.h"
#include "stream/proto.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>

static void expect_oom_abort(md_test_exit r, const char *what)
{
    cr_expect(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGABRT,
              "%s: wanted an abort, got status %#x (signal %d), stderr: %s", what, r.status,
              WIFSIGNALED(r.status) ? WTERMSIG(r.status) : 0, r.err);
    cr_expect(strstr(r.err, "mdagent: out of memory allocating ") != NULL, "%s: stderr: %s", what,
              r.err);
}

static void do_malloc(void *arg)
{
    md_mem_fault_arm(1);
    volatile char *p = md_malloc(12345);
    p[0] = 1; /* a NULL here would be SIGSEGV, not SIGABRT */
}

static void do_calloc_overflow(void *arg)
{
    volatile char *p = md_calloc(SIZE_MAX / 2, 4);
    p[0] = 1;
}

static void do_realloc(void *arg)
{
    char *p = md_malloc(8);
    md_mem_fault_arm(1);
    p = md_realloc(p, 1 << 20);
    p[0] = 1;
}

static void do_strdup(void *arg)
{
    md_mem_fault_arm(1);
    char *s = md_strdup("hello");
    s[0] = 'H';
}

Test(mem, failed_malloc_aborts_with_the_size)
{
    md_test_exit r = md_test_child(do_malloc, NULL);
    expect_oom_abort(r, "md_malloc");
    cr_expect(strstr(r.err, "allocating 12345 bytes") != NULL, "%s", r.err);
}

Test(mem, calloc_overflow_aborts_instead_of_allocating_a_wrapped_size)
{
    md_test_exit r = md_test_child(do_calloc_overflow, NULL);
    expect_oom_abort(r, "md_calloc");
    cr_expect(strstr(r.err, "(overflow)") != NULL, "%s", r.err);
}

Test(mem, failed_realloc_and_strdup_abort)
{
    expect_oom_abort(md_test_child(do_realloc, NULL), "md_realloc");
    expect_oom_abort(md_test_child(do_strdup, NULL), "md_strdup");
}

Test(mem, counting_without_failing_sees_every_allocation)
{
    md_mem_fault_arm(0);
    char *a = md_strdup("x");
    int *b = md_calloc(4, sizeof *b);
    a = md_realloc(a, 100);
    char *c = md_strndup("abc", 2);
    md_free(a);
    md_free(b);
    md_free(c);
    cr_expect_eq(md_mem_fault_disarm(), 4);
    char *d = md_strdup("not counted");
    md_free(d);
    cr_expect_eq(md_mem_fault_disarm(), 4, "disarmed: no counting");
    cr_expect_null(md_strdup(NULL));
}

Test(mem, jansson_allocates_through_md_malloc)
{
    md_mem_fault_arm(0);
    json_t *v = json_loads("{\"a\":[1,2,3],\"b\":\"text\"}", 0, NULL);
    uint64_t n = md_mem_fault_disarm();
    cr_assert_not_null(v);
    json_decref(v);
    cr_expect_gt(n, 3, "jansson's allocations are counted (%llu)", (unsigned long long)n);
}

/* -- sweeps over real operations -------------------------------------------------------- */

typedef int (*op_fn)(void); /* 0 on success, with no criterion calls: it runs in children */
typedef struct {
    op_fn op;
    uint64_t nth;
} sweep_arg;

static void run_failing(void *arg)
{
    sweep_arg *a = arg;
    md_mem_fault_arm(a->nth);
    int rc = a->op();
    md_mem_fault_disarm();
    fprintf(stderr, "operation returned %d although allocation %llu failed\n", rc,
            (unsigned long long)a->nth);
}

/* Fails allocation 1, 2, ... n of op, each in its own child. */
static void sweep(op_fn op, const char *what)
{
    md_mem_fault_arm(0);
    int rc = op();
    uint64_t n = md_mem_fault_disarm();
    cr_assert_eq(rc, 0, "%s fails without injected faults", what);
    cr_assert_gt(n, 0, "%s allocates nothing", what);
    for (uint64_t k = 1; k <= n; k++) {
        sweep_arg a = {op, k};
        char label[96];
        snprintf(label, sizeof label, "%s, allocation %llu of %llu", what, (unsigned long long)k,
                 (unsigned long long)n);
        expect_oom_abort(md_test_child(run_failing, &a), label);
    }
}

static int parse_ws_subscribe(void)
{
    static const char msg[] = "{\"op\":\"subscribe\",\"symbols\":[\"AAPL\",\"msft\",\"BRK.B\"],"
                              "\"channels\":[\"quote\",\"bar.1m\"],\"since_seq\":7}";
    md_op op;
    md_error err;
    int rc = md_proto_parse(msg, sizeof msg - 1, 100, &op, &err);
    if (rc == 0) md_op_deinit(&op);
    return rc;
}

static int parse_ingest_body(void)
{
    static const char body[] =
        "{\"bars\":[{\"symbol\":\"AAPL\",\"interval\":\"1d\",\"timestamp\":\"2024-03-01\","
        "\"open\":1,\"high\":2,\"low\":0.5,\"close\":1.5,\"volume\":100},"
        "{\"symbol\":\"MSFT\",\"interval\":\"1d\",\"timestamp\":\"2024-03-01\","
        "\"open\":1,\"high\":2,\"low\":0.5,\"close\":1.5,\"volume\":100}]}";
    md_bar_batch b;
    md_bar_batch_init(&b);
    md_error err;
    int rc = md_batch_parse_json_bars(&b, body, sizeof body - 1, MD_SRC_INGEST, &err);
    md_bar_batch_deinit(&b);
    return rc;
}

Test(mem, every_allocation_of_a_websocket_message_parse_fails_into_the_abort)
{
    /* json_loadb used to return NULL when out of memory, which md_proto_parse answers as
     * invalid_json: a server out of memory must not blame the client */
    sweep(parse_ws_subscribe, "md_proto_parse");
}

Test(mem, every_allocation_of_an_ingest_body_parse_fails_into_the_abort)
{
    sweep(parse_ingest_body, "md_batch_parse_json_bars");
}

Test(mem, array_grow_doubles_from_first_and_keeps_the_elements)
{
    int *v = NULL;
    unsigned short n = 0, cap = 0; /* any integer type: the macro takes lvalues */
    size_t caps[8], ncaps = 0;
    for (int i = 0; i < 100; i++) {
        unsigned short before = cap;
        MD_ARRAY_GROW(v, n, cap, 3);
        if (cap != before) caps[ncaps++] = cap;
        cr_assert_lt(n, cap);
        v[n++] = i * 7;
    }
    size_t want[] = {3, 6, 12, 24, 48, 96, 192};
    cr_assert_eq(ncaps, MD_ARRAY_LEN(want));
    for (size_t i = 0; i < ncaps; i++) cr_assert_eq(caps[i], want[i], "growth %zu", i);
    for (int i = 0; i < 100; i++) cr_assert_eq(v[i], i * 7);
    md_free(v);
}
