/* mem.c - abort-on-failure allocation wrappers. */
#include "core/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int (*md_mem_fail_hook)(size_t n);

static void oom(size_t n)
{
    fprintf(stderr, "mdagent: out of memory allocating %zu bytes\n", n);
    abort();
}

void *md_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *md_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) oom(n * size);
    return p;
}

void *md_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
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

void *md_try_malloc(size_t n)
{
    if (md_mem_fail_hook && md_mem_fail_hook(n)) return NULL;
    return malloc(n ? n : 1);
}

void md_free(void *p)
{
    free(p);
}
