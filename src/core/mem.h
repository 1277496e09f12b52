/* mem.h - allocation that never returns NULL.
 *
 * A market data server cannot limp on without memory: allocation failure aborts with a
 * message ("mdagent: out of memory allocating N bytes"). Nothing checks for NULL after
 * md_malloc & co, so nothing can dereference one. Jansson allocates through md_malloc too
 * (set up when the process starts), so a JSON body that cannot be parsed for want of memory
 * aborts instead of being answered as invalid JSON.
 *
 * Fault injection (tests): md_mem_fault_arm(n) makes the n-th allocation from then on fail
 * as if the system had no memory, on whichever thread makes it; it takes the abort path
 * above. Arming with 0 only counts, so a test can learn how many allocations an operation
 * makes and then fail each one in turn (tests/unit/test_mem.c). */
#ifndef MD_CORE_MEM_H
#define MD_CORE_MEM_H

#include <stddef.h>
#include <stdint.h>

void *md_malloc(size_t n);              /* aborts on failure */
void *md_calloc(size_t n, size_t size); /* aborts on failure or when n * size overflows */
void *md_realloc(void *p, size_t n);    /* aborts on failure (p is then left as it was) */
char *md_strdup(const char *s);         /* NULL in, NULL out */
char *md_strndup(const char *s, size_t n);
void md_free(void *p);

/* Arms fault injection: counting starts at 0 and allocation number nth (1 = the next one)
 * fails; nth = 0 counts without failing. Process-wide. */
void md_mem_fault_arm(uint64_t nth);
/* Disarms; returns how many allocations were made while armed. */
uint64_t md_mem_fault_disarm(void);

#define MD_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Makes room for v[n] in an array that doubles when it is full (n == cap); the first
 * allocation holds `first` elements. A macro so that sizeof *v is the element's size: v and
 * cap are assigned, and each argument may be evaluated more than once (pass lvalues). */
#define MD_ARRAY_GROW(v, n, cap, first)                                                            \
    do {                                                                                           \
        if ((n) == (cap))                                                                          \
            (v) = md_realloc((v), ((cap) = (cap) ? (cap)*2 : (first)) * sizeof *(v));              \
    } while (0)

/* A growable array of T: v[0..n) in cap allocated slots (grown with MD_ARRAY_GROW); all zero
 * is the empty array. One shape for every vector of records (bars, actions, findings...). */
#define MD_VEC_TYPE(NAME, T)                                                                       \
    typedef struct NAME {                                                                          \
        T *v;                                                                                      \
        size_t n, cap;                                                                             \
    } NAME

/* Defines NAME_init (empty, nothing allocated) and NAME_deinit (frees, leaves it empty) of an
 * MD_VEC_TYPE; its header declares them. */
#define MD_VEC_LIFECYCLE(NAME)                                                                     \
    void NAME##_init(NAME *a)                                                                      \
    {                                                                                              \
        a->v = NULL;                                                                               \
        a->n = a->cap = 0;                                                                         \
    }                                                                                              \
    void NAME##_deinit(NAME *a)                                                                    \
    {                                                                                              \
        md_free(a->v);                                                                             \
        NAME##_init(a);                                                                            \
    }

#endif
