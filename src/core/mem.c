/* mem.c - abort-on-failure allocation wrappers and their fault-injection counter. */
#include "core/mem.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fault injection: one relaxed load per allocation while disarmed. */
static atomic_int armed;
static atomic_uint_fast64_t count, fail_at;

static int injected(void)
{
    if (!atomic_load_explicit(&armed, memory_order_relaxed)) return 0;
    uint64_t k = atomic_fetch_add(&count, 1) + 1;
    return k == atomic_load(&fail_at);
}

void md_mem_fault_arm(uint64_t nth)
{
    atomic_store(&count, 0);
    atomic_store(&fail_at, nth);
    atomic_store(&armed, 1);
}

uint64_t md_mem_fault_disarm(void)
{
    atomic_store(&armed, 0);
    return atomic_load(&count);
}

static _Noreturn void oom(size_t n)
{
    /* no allocation here: stdio on stderr is unbuffered */
    fprintf(stderr, "mdagent: out of memory allocating %zu bytes\n", n);
    abort();
}

void *md_malloc(size_t n)
{
    void *p = injected() ? NULL : malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *md_calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) {
        fprintf(stderr, "mdagent: out of memory allocating %zu x %zu bytes (overflow)\n", n, size);
        abort();
    }
    void *p = injected() ? NULL : calloc(n ? n : 1, size ? size : 1);
    if (!p) oom(n * size);
    return p;
}

void *md_realloc(void *p, size_t n)
{
    void *q = injected() ? NULL : realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}

char *md_strdup(const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = md_malloc(n);
    memcpy(d, s, n);
    return d;
}

char *md_strndup(const char *s, size_t n)
{
    if (!s) return NULL;
    char *d = md_malloc(n + 1);
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

void md_free(void *p)
{
    free(p);
}

/* Jansson's NULL means "bad JSON" to every caller; out of memory must not read as that.
 * Runs before main (and before any test or fuzz target): mem.o is in every binary. */
__attribute__((constructor)) static void route_jansson(void)
{
    json_set_alloc_funcs(md_malloc, md_free);
}
